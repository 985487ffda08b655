/**
 * playwright-core lives in `.ci/tools` (with code-server), outside the root install, so it is
 * loaded at run time from there. These are the few parts of its API the harness uses, declared
 * here so `tsc -b` type-checks the e2e files on machines without the tools.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { TOOLS_DIR } from './codeServer';
import { findBinary, type Requirement } from '../support/requirements';

export interface Locator {
  first(): Locator;
  last(): Locator;
  nth(index: number): Locator;
  filter(options: { hasText?: string | RegExp; hasNotText?: string | RegExp }): Locator;
  locator(selector: string): Locator;
  waitFor(options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<void>;
  count(): Promise<number>;
  isVisible(): Promise<boolean>;
  fill(value: string): Promise<void>;
  inputValue(): Promise<string>;
  click(options?: { timeout?: number }): Promise<void>;
  press(key: string): Promise<void>;
  innerText(): Promise<string>;
  allInnerTexts(): Promise<string[]>;
  getAttribute(name: string): Promise<string | null>;
}

export interface Keyboard {
  press(key: string): Promise<void>;
  type(text: string, options?: { delay?: number }): Promise<void>;
  insertText(text: string): Promise<void>;
}

export interface ConsoleMessage {
  type(): string;
  text(): string;
}

export interface Page {
  readonly keyboard: Keyboard;
  goto(url: string, options?: { timeout?: number; waitUntil?: 'load' | 'domcontentloaded' | 'commit' }): Promise<unknown>;
  locator(selector: string): Locator;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<Buffer>;
  /** The page calls `callback` with whatever it sends, hence `any`. */
  exposeFunction(name: string, callback: (...args: any[]) => unknown): Promise<void>;
  waitForTimeout(ms: number): Promise<void>;
  /** Evaluates `expression` in the page (on every animation frame with polling 'raf') until it is truthy; resolves to its value. */
  waitForFunction(expression: string, arg?: unknown, options?: { polling?: 'raf' | number; timeout?: number }): Promise<{ jsonValue(): Promise<unknown> }>;
  on(event: 'console', listener: (message: ConsoleMessage) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  setDefaultTimeout(ms: number): void;
}

export interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  setDefaultTimeout(ms: number): void;
  close(): Promise<void>;
}

export interface LaunchOptions {
  executablePath: string;
  headless: boolean;
  viewport: { width: number; height: number };
  args: string[];
  timeout?: number;
}

export interface ChromiumType {
  launchPersistentContext(userDataDir: string, options: LaunchOptions): Promise<BrowserContext>;
}

/** The flags measured to work with Debian's chromium in these containers (test-infra.md §1d). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM = process.env.FLEET_CHROMIUM ?? findBinary('chromium') ?? '/usr/bin/chromium';

const toolsRequire = createRequire(path.join(TOOLS_DIR, 'package.json'));

function resolvePlaywright(): string | undefined {
  try {
    return toolsRequire.resolve('playwright-core');
  } catch {
    return undefined;
  }
}

export const playwrightInstalled = (): Requirement => ({
  name: 'playwright-core',
  missing: resolvePlaywright() ? undefined : 'playwright-core is not installed in .ci/tools (install it with: bash scripts/lib/deps.sh; see .ci/README.md)',
});

export const chromiumInstalled = (): Requirement => ({
  name: 'chromium',
  missing: fs.existsSync(CHROMIUM) ? undefined : `chromium is not installed at ${CHROMIUM} (apt-get install chromium)`,
});

export function loadChromium(): ChromiumType {
  return (toolsRequire('playwright-core') as { chromium: ChromiumType }).chromium;
}
