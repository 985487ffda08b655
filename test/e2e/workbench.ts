/**
 * Debian chromium (through playwright-core) on a CodeServer's workbench, with the few user
 * gestures the e2e suites need. Every wait is on UI state with a timeout; there are no sleeps.
 *
 *   const wb = await Workbench.open(cs, { folder: ws, waitForFile: 'web.service' });
 *   await wb.quickOpen('web.service');
 *   await wb.showProblems(); await wb.waitForProblem('MachineID cannot be used with Peers');
 *   await wb.screenshot('language'); await wb.close();
 */
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { ROOT, type CodeServer } from './codeServer';
import { tail } from '../support/process';
import { CHROMIUM, CHROMIUM_ARGS, loadChromium, type BrowserContext, type Locator, type Page } from './playwright';

export const SCREENSHOT_DIR = path.join(ROOT, 'out', 'e2e-artifacts');

/** Milliseconds every UI wait may take (`FLEET_E2E_TIMEOUT` overrides). */
export const UI_TIMEOUT = Number(process.env.FLEET_E2E_TIMEOUT ?? 30_000);

export interface AutomationHooks {
  /** `window.codeAutomationLog(type, args)`: the extension host's console in automation mode. */
  onLog?(type: string, message: string): void;
  /** `window.codeAutomationExit(code)`: the extension tests finished. */
  onExit?(code: number): void;
}

export interface OpenOptions {
  folder: string;
  /** Passed as the workbench's `payload` URL parameter (extensionDevelopmentPath, extensionTestsPath). */
  payload?: readonly (readonly [string, string])[];
  /** Wait until the Explorer shows this file (proves the remote connection and file system are up). */
  waitForFile?: string;
  automation?: AutomationHooks;
}

let profiles = 0;

export class Workbench {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    /** Console errors from the page, for failure messages. */
    readonly pageErrors: string[],
  ) {}

  static async open(cs: CodeServer, options: OpenOptions): Promise<Workbench> {
    return Workbench.openUrl(cs.workbenchUrl(options.folder, options.payload), cs.dir, options);
  }

  /** Opens chromium (profile under `dir`) on a workbench URL, e.g. one that `npm start` printed. */
  static async openUrl(url: string, dir: string, options: Omit<OpenOptions, 'folder' | 'payload'>): Promise<Workbench> {
    const profile = path.join(dir, `chromium-${++profiles}`);
    fs.mkdirSync(profile);
    const context = await loadChromium().launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
    try {
      context.setDefaultTimeout(UI_TIMEOUT);
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on('pageerror', err => errors.push(err.message));
      const hooks = options.automation;
      if (hooks) {
        await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) =>
          hooks.onLog?.(type, util.format(...(Array.isArray(args) ? args : [args]))),
        );
        await page.exposeFunction('codeAutomationExit', (code: number) => hooks.onExit?.(code));
      }
      const wb = new Workbench(context, page, errors);
      await page.goto(url, { timeout: 60_000 });
      await page.locator('.monaco-workbench').waitFor();
      if (options.waitForFile) await wb.explorerRow(options.waitForFile).waitFor();
      return wb;
    } catch (err) {
      await context.close().catch(() => undefined);
      throw err;
    }
  }

  explorerRow(name: string): Locator {
    return this.page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: name }).first();
  }

  private get quickInput(): Locator {
    return this.page.locator('.quick-input-widget input').first();
  }

  private quickInputRow(text: string | RegExp): Locator {
    return this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: text }).first();
  }

  /** Opens a workspace file by name through Quick Open (Ctrl+P) and waits for its tab. */
  async quickOpen(fileName: string): Promise<void> {
    await this.page.keyboard.press('Control+P');
    await this.quickInput.waitFor();
    await this.quickInput.fill(fileName);
    // Enter opens the focused row: wait until the list has caught up with the text (the first row
    // can still be a recently opened file for a moment).
    await this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused').filter({ hasText: fileName }).first().waitFor();
    await this.page.keyboard.press('Enter');
    await this.page.locator('.tabs-container .tab.active').filter({ hasText: fileName }).waitFor();
    await this.activeEditor.locator('.view-lines').waitFor();
  }

  /** Runs a command from the palette (F1) by its title, e.g. `Fleet: Refresh Cluster`. */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    await this.quickInput.waitFor();
    await this.quickInput.fill(`>${title}`);
    await this.quickInputRow(title).waitFor();
    await this.page.keyboard.press('Enter');
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  }

  /** The status bar's language indicator, e.g. "Fleet Unit". */
  languageStatus(): Locator {
    return this.page.locator('#status\\.editor\\.mode');
  }

  get activeEditor(): Locator {
    return this.page.locator('.editor-group-container.active .editor-instance .monaco-editor').first();
  }

  /** The visible text of the active editor (the e2e fixtures fit on screen), with real spaces. */
  async editorText(): Promise<string> {
    const lines = await this.activeEditor.locator('.view-lines .view-line').allInnerTexts();
    return lines.join('\n').replace(/\u00a0/g, ' ');
  }

  /** Waits until the active editor's visible text satisfies `predicate`. */
  async waitForEditorText(what: string, predicate: (text: string) => boolean, timeoutMs = UI_TIMEOUT): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = await this.editorText();
      if (predicate(text)) return text;
      await this.page.waitForTimeout(100);
    }
    throw new Error(`timed out waiting for the editor text to ${what}; it is:\n${text}`);
  }

  /** Moves the cursor with Go to Line (Ctrl+G), 1-based like the status bar. */
  async goTo(line: number, column = 1): Promise<void> {
    await this.activeEditor.click();
    await this.page.keyboard.press('Control+G');
    await this.quickInput.waitFor();
    await this.quickInput.fill(`:${line}:${column}`);
    await this.page.keyboard.press('Enter');
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await this.page
      .locator('#status\\.editor\\.selection')
      .filter({ hasText: `Ln ${line}, Col ${column}` })
      .waitFor();
  }

  /** Opens the Problems panel (Ctrl+Shift+M). */
  async showProblems(): Promise<void> {
    if (await this.page.locator('.markers-panel').first().isVisible()) return;
    await this.page.keyboard.press('Control+Shift+M');
    await this.page.locator('.markers-panel').first().waitFor();
  }

  problemRows(text?: string | RegExp): Locator {
    const rows = this.page.locator('.markers-panel .monaco-list-row');
    return text === undefined ? rows : rows.filter({ hasText: text });
  }

  /** Waits for a Problems row containing `text` and returns its text. */
  async waitForProblem(text: string | RegExp, timeoutMs = UI_TIMEOUT): Promise<string> {
    const row = this.problemRows(text).first();
    await row.waitFor({ timeout: timeoutMs });
    return row.innerText();
  }

  async waitForNoProblem(text: string | RegExp, timeoutMs = UI_TIMEOUT): Promise<void> {
    await this.problemRows(text).first().waitFor({ state: 'detached', timeout: timeoutMs });
  }

  async problemTexts(): Promise<string[]> {
    return this.problemRows().allInnerTexts();
  }

  /** Ctrl+. at the cursor, then picks the code action titled `title` from the action widget. */
  async applyQuickFix(title: string): Promise<void> {
    await this.page.keyboard.press('Control+.');
    const item = this.page.locator('.action-widget .monaco-list-row').filter({ hasText: title }).first();
    await item.waitFor();
    // Keyboard, not a click: the widget's rows move under the pointer while it lays out, and
    // playwright's click then waits for a stable element until it times out.
    const rows = this.page.locator('.action-widget .monaco-list-row.action');
    const count = await rows.count();
    for (let i = 0; i <= count; i++) {
      const focused = this.page.locator('.action-widget .monaco-list-row.focused').first();
      if ((await focused.innerText().catch(() => '')).includes(title)) {
        await this.page.keyboard.press('Enter');
        await this.page.locator('.action-widget').first().waitFor({ state: 'hidden' });
        return;
      }
      await this.page.keyboard.press('ArrowDown');
    }
    throw new Error(`the quick fix "${title}" is listed but could not be selected with the keyboard`);
  }

  /** Ctrl+Space at the cursor; resolves once the suggest widget lists `label`. */
  async triggerSuggest(label: string): Promise<Locator> {
    await this.page.keyboard.press('Control+Space');
    const row = this.page.locator('.suggest-widget .monaco-list-row').filter({ hasText: label }).first();
    await row.waitFor();
    return row;
  }

  async suggestLabels(): Promise<string[]> {
    return this.page.locator('.suggest-widget .monaco-list-row .label-name').allInnerTexts();
  }

  /** Saves a PNG to out/e2e-artifacts/<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/**
 * Runs `body` with a workbench; on failure saves `failure-<name>.png` and the code-server log in
 * out/e2e-artifacts/, and appends the Problems rows and the log's tail to the error.
 */
export async function withWorkbench<T>(cs: CodeServer, name: string, options: OpenOptions, body: (wb: Workbench) => Promise<T>): Promise<T> {
  return runWorkbench(() => Workbench.open(cs, options), name, cs.logFile, body);
}

/** withWorkbench for a workbench URL served by someone else (e.g. `npm start`), with its log file. */
export async function withWorkbenchAt<T>(
  url: string,
  dir: string,
  name: string,
  body: (wb: Workbench) => Promise<T>,
  logFile = path.join(dir, 'code-server.log'),
): Promise<T> {
  return runWorkbench(() => Workbench.openUrl(url, dir, {}), name, logFile, body);
}

async function runWorkbench<T>(open: () => Promise<Workbench>, name: string, logFile: string, body: (wb: Workbench) => Promise<T>): Promise<T> {
  let wb: Workbench | undefined;
  try {
    wb = await open();
    return await body(wb);
  } catch (err) {
    const notes: string[] = [];
    if (wb) {
      const shot = await wb.screenshot(`failure-${name}`).catch(() => undefined);
      if (shot) notes.push(`screenshot: ${shot}`);
      const problems = await wb.problemTexts().catch(() => []);
      notes.push(`Problems rows: ${JSON.stringify(problems)}`);
      if (wb.pageErrors.length) notes.push(`page errors: ${wb.pageErrors.slice(-5).join(' | ')}`);
    }
    try {
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const copy = path.join(SCREENSHOT_DIR, `failure-${name}-code-server.log`);
      fs.copyFileSync(logFile, copy);
      notes.push(`code-server log: ${copy}`);
    } catch {
      notes.push(`(no code-server log at ${logFile})`);
    }
    notes.push(`code-server log tail:\n${tail(logFile, 40)}`);
    if (err instanceof Error) err.message += `\n${notes.join('\n')}`;
    throw err;
  } finally {
    await wb?.close().catch(() => undefined);
  }
}
