/**
 * Helpers for the cluster e2e suite (cluster.e2e.test.ts): the Fleet explorer's views and rows,
 * the quick inputs of "Fleet: Start Local Cluster", notifications, editor title actions and tree
 * context menus in a real workbench; fleet's v1 API of the local cluster; and the extension's
 * fleetd processes, found in /proc by the extension's install path. Every wait is bounded.
 */
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { httpGet, httpRequest } from '../support/fleetHttp';
import { processesWhere, waitFor, type ProcInfo } from '../support/process';
import { parseUnitFile } from '../../unitfile/src';
import { UI_TIMEOUT, type Workbench } from './workbench';
import type { Locator } from './playwright';

/** What playwright's Locator offers beyond the subset declared in playwright.ts. */
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Mouse {
  move(x: number, y: number, options?: { steps?: number }): Promise<void>;
  down(): Promise<void>;
  up(): Promise<void>;
}

interface ClickableLocator extends Locator {
  boundingBox(): Promise<Box | null>;
  getAttribute(name: string, options?: { timeout?: number }): Promise<string | null>;
  click(options?: { timeout?: number; button?: 'left' | 'right' | 'middle'; modifiers?: ('Control' | 'Shift')[] }): Promise<void>;
  hover(options?: { timeout?: number }): Promise<void>;
}

export interface TreeRow {
  /** The item's label (e.g. the unit's name). */
  label: string;
  /** The item's description (e.g. "launched · 10d4e20d.../127.0.0.4 · active (running)"). */
  description: string;
  /** The item's label, a space, then its description. */
  text: string;
  /** The row's aria-label (label and description for the screen reader). */
  ariaLabel: string;
}

export class ClusterWorkbench {
  constructor(readonly wb: Workbench) {}

  get page() {
    return this.wb.page;
  }

  private quickInputTitle(title: string): Locator {
    return this.page.locator('.quick-input-widget .quick-input-title').filter({ hasText: title }).first();
  }

  /** The extension's cluster status bar item ("Fleet: no cluster", "Fleet: local (3/3)", …). */
  statusItem(): Locator {
    return this.page
      .locator('.part.statusbar .statusbar-item')
      .filter({ hasText: /Fleet: / })
      .first();
  }

  /** Waits until the status bar item's text matches and returns it. */
  async waitForStatus(text: RegExp, timeoutMs = UI_TIMEOUT): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = (
        await this.statusItem()
          .innerText()
          .catch(() => '')
      ).trim();
      if (text.test(last)) return last;
      await this.page.waitForTimeout(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for the Fleet status bar item to match ${text}; it shows ${JSON.stringify(last)}`);
  }

  /** Opens the command palette on `title` and picks it (the command may open its own quick inputs next). */
  async pickCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input').first();
    await input.waitFor();
    await input.fill(`>${title}`);
    await this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: title }).first().waitFor();
    await this.page.keyboard.press('Enter');
  }

  /**
   * Waits for the input box titled `title`, optionally replaces its value, checks there is no
   * validation message, and accepts it with Enter. Returns the value it had when shown.
   */
  async answerInputBox(title: string, value?: string): Promise<string> {
    await this.quickInputTitle(title).waitFor();
    const input = this.page.locator('.quick-input-widget input').first();
    const shown = await (input as unknown as { inputValue(): Promise<string> }).inputValue();
    if (value !== undefined) await input.fill(value);
    const message = this.page.locator('.quick-input-widget .quick-input-message').first();
    const severity = await this.page.locator('.quick-input-widget .monaco-inputbox.error, .quick-input-widget .monaco-inputbox.warning').count();
    if (severity > 0) throw new Error(`the input "${title}" rejects ${JSON.stringify(value ?? shown)}: ${await message.innerText().catch(() => '?')}`);
    await this.page.keyboard.press('Enter');
    await this.quickInputTitle(title).waitFor({ state: 'hidden' });
    return shown;
  }

  /** Where an element is on screen (null: not shown). */
  async box(locator: Locator): Promise<{ x: number; y: number; width: number; height: number } | null> {
    return (locator as ClickableLocator).boundingBox();
  }

  /** Waits for the quick pick titled `title` and returns its rows' texts (label, description and detail, one line each). */
  async quickPickRows(title: string): Promise<string[]> {
    await this.quickInputTitle(title).waitFor();
    const rows = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    await rows.first().waitFor();
    const out: string[] = [];
    const n = await rows.count();
    for (let i = 0; i < n; i++) {
      const row = rows.nth(i);
      // The label and the detail are each an icon label (.label-name); the description sits beside the label.
      const [names, descriptions] = await Promise.all([row.locator('.label-name').allInnerTexts(), row.locator('.label-description').allInnerTexts()]);
      const parts = [names[0], descriptions[0], ...names.slice(1)].map(t => (t ?? '').trim());
      out.push(
        parts
          .filter(Boolean)
          .join(' ')
          .replace(/\u00a0/g, ' '),
      );
    }
    return out;
  }

  /** Waits for the quick pick titled `title`, clicks its row containing `text`, and waits for the pick to go. */
  async pickQuickItem(title: string, text: string | RegExp): Promise<void> {
    await this.quickInputTitle(title).waitFor();
    const row = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: text }).first() as ClickableLocator;
    await row.waitFor();
    await row.click();
    // Not the title: the next step may be an input box with the same title.
    await row.waitFor({ state: 'hidden' });
  }

  /** Clicks a button of the notification matching `text`. */
  async clickNotificationButton(text: string | RegExp, button: string, timeoutMs = UI_TIMEOUT): Promise<void> {
    const item = this.notification(text);
    await item.waitFor({ timeout: timeoutMs });
    const action = item.locator('.monaco-button').filter({ hasText: button }).first() as ClickableLocator;
    await action.waitFor();
    await action.click();
    await item.waitFor({ state: 'hidden' });
  }

  /** A notification toast (or a row in the notification center) whose text matches. */
  notification(text: string | RegExp): Locator {
    return this.page.locator('.notification-toast .notification-list-item, .notifications-center .notification-list-item').filter({ hasText: text }).first();
  }

  /** Waits for a notification matching `text` and returns its message text. */
  async waitForNotification(text: string | RegExp, timeoutMs = UI_TIMEOUT): Promise<string> {
    const item = this.notification(text);
    await item.waitFor({ timeout: timeoutMs });
    return item.locator('.notification-list-item-message').first().innerText();
  }

  /** The texts of the error notifications on screen, for failure messages. */
  async errorNotifications(): Promise<string[]> {
    const items = this.page.locator('.notification-toast .notification-list-item:has(.codicon-error) .notification-list-item-message');
    return items.allInnerTexts().catch(() => []);
  }

  /**
   * Clears every notification toast (Notifications: Clear All) so the views are not hidden behind
   * them. A toast with a running progress (Show Journal's "Following the journal of …") stays: it
   * is waited for 5 s, not the whole UI timeout.
   */
  async clearNotifications(): Promise<void> {
    await this.pickCommand('Notifications: Clear All Notifications');
    await this.page.locator('.quick-input-widget').first().waitFor({ state: 'hidden' });
    await this.page
      .locator('.notification-toast')
      .first()
      .waitFor({ state: 'hidden', timeout: 5_000 })
      .catch(() => undefined);
  }

  /** The pane of a view in the side bar, by its title (e.g. "Machines", "Units"). */
  viewPane(name: string): Locator {
    return this.page.locator(`.part.sidebar .pane:has(> .pane-header h3.title:text-is("${name}"))`).first();
  }

  /**
   * A view pane's layout in pixels: the whole pane (header included), its body, and the rows its
   * tree shows (how many, and the height they take).
   */
  async paneLayout(name: string): Promise<{ height: number; body: number; rows: number; rowsHeight: number }> {
    const pane = this.viewPane(name) as ClickableLocator;
    const body = this.viewPane(name).locator('.pane-body').first() as ClickableLocator;
    const rows = this.viewPane(name).locator('.monaco-list-row');
    let rowsHeight = 0;
    const n = await rows.count();
    for (let i = 0; i < n; i++) rowsHeight += (await (rows.nth(i) as ClickableLocator).boundingBox())?.height ?? 0;
    return { height: (await pane.boundingBox())?.height ?? 0, body: (await body.boundingBox())?.height ?? 0, rows: n, rowsHeight };
  }

  /** Expands a collapsed view pane. */
  async expandView(name: string): Promise<void> {
    const header = this.viewPane(name).locator('.pane-header').first();
    await header.waitFor();
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    await this.viewPane(name).locator('.pane-body').first().waitFor();
  }

  /** The welcome content of a view (shown when its tree is empty): its text, paragraphs joined by newlines. */
  async welcomeText(view: string): Promise<string> {
    const texts = await this.viewPane(view)
      .locator('.welcome-view-content')
      .allInnerTexts()
      .catch(() => []);
    return (texts[0] ?? '').replace(/\u00a0/g, ' ').trim();
  }

  /** The height in pixels of a view's welcome content. */
  async welcomeHeight(view: string): Promise<number> {
    const content = this.viewPane(view).locator('.welcome-view-content').first() as ClickableLocator;
    return (await content.boundingBox())?.height ?? 0;
  }

  /** Waits until the welcome content of `view` matches; the error says what it showed. */
  async waitForWelcome(view: string, text: RegExp, timeoutMs = UI_TIMEOUT): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.welcomeText(view);
      if (text.test(last)) return last;
      await this.page.waitForTimeout(200);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for the ${view} view's welcome to match ${text}; it shows ${JSON.stringify(last)}`);
  }

  /** The labels of the buttons in a view's welcome content, in order. */
  async welcomeButtons(view: string): Promise<string[]> {
    const texts = await this.viewPane(view)
      .locator('.welcome-view-content .monaco-button')
      .allInnerTexts()
      .catch(() => []);
    return texts.map(t => t.trim()).filter(Boolean);
  }

  /** Clicks a button of a view's welcome content by its label. */
  async clickWelcomeButton(view: string, label: string): Promise<void> {
    const button = this.viewPane(view).locator('.welcome-view-content .monaco-button').filter({ hasText: label }).first() as ClickableLocator;
    await button.waitFor();
    await button.click();
  }

  /** The tree rows of a view, in order. */
  async treeRows(view: string): Promise<TreeRow[]> {
    const rows = this.viewPane(view).locator('.monaco-list-row');
    const n = await rows.count();
    const out: TreeRow[] = [];
    for (let i = 0; i < n; i++) {
      const row = rows.nth(i) as ClickableLocator;
      // allInnerTexts does not wait: rows come and go while the tree refreshes, and a row
      // without a description (or one that just went away) must not stall the poll.
      const label = (
        (
          await row
            .locator('.label-name')
            .allInnerTexts()
            .catch(() => [])
        )[0] ?? ''
      ).trim();
      const description = (
        (
          await row
            .locator('.label-description')
            .allInnerTexts()
            .catch(() => [])
        )[0] ?? ''
      ).trim();
      const ariaLabel = (await row.getAttribute('aria-label', { timeout: 1_000 }).catch(() => null)) ?? '';
      // A row without the usual label parts (e.g. a message row) is described by its whole text.
      const text = label ? [label, description].filter(Boolean).join(' ') : ((await row.allInnerTexts().catch(() => []))[0] ?? '').replace(/\s+/g, ' ').trim();
      out.push({ label, description, text, ariaLabel });
    }
    return out;
  }

  /** The row of `view` whose label starts with `label`. */
  treeRow(view: string, label: string): Locator {
    return this.viewPane(view).locator('.monaco-list-row').filter({ hasText: label }).first();
  }

  /** Expands the collapsed row of `view` labelled `label` (a machine) by clicking it. */
  async expandTreeRow(view: string, label: string): Promise<void> {
    const row = this.treeRow(view, label) as ClickableLocator;
    await row.waitFor();
    if ((await row.getAttribute('aria-expanded')) === 'false') await row.click();
    await this.viewPane(view).locator('.monaco-list-row[aria-expanded="true"]').filter({ hasText: label }).first().waitFor();
  }

  /** Polls the rows of `view` until `predicate` holds; the error lists the last rows. */
  async waitForRows(view: string, what: string, predicate: (rows: TreeRow[]) => boolean, timeoutMs = UI_TIMEOUT): Promise<TreeRow[]> {
    const deadline = Date.now() + timeoutMs;
    let rows: TreeRow[] = [];
    while (Date.now() < deadline) {
      rows = await this.treeRows(view);
      if (predicate(rows)) return rows;
      await this.page.waitForTimeout(200);
    }
    const errors = await this.errorNotifications();
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for the ${view} view to show ${what}; its rows:\n` +
        (rows.map(r => `  ${r.text}  [aria: ${r.ariaLabel}]`).join('\n') || '  (none)') +
        (errors.length ? `\nerror notifications:\n  ${errors.join('\n  ')}` : ''),
    );
  }

  private get contextMenuWidget(): Locator {
    return this.page.locator('.context-view .monaco-menu').first();
  }

  /**
   * Selects the rows of `view` labelled `labels` (a click on the first, Ctrl+click on the others)
   * and opens the context menu of the last; returns its entries' locator.
   */
  private async openContextMenu(view: string, labels: string | readonly string[]): Promise<Locator> {
    const rows = [labels].flat().map(label => this.treeRow(view, label) as ClickableLocator);
    await rows[0]!.click();
    for (const row of rows.slice(1)) await row.click({ modifiers: ['Control'] });
    if (rows.length > 1)
      await this.viewPane(view)
        .locator('.monaco-list-row.selected')
        .nth(rows.length - 1)
        .waitFor({ timeout: UI_TIMEOUT });
    await rows.at(-1)!.click({ button: 'right' });
    const entries = this.page.locator('.context-view .monaco-menu .action-item .action-label');
    await entries.first().waitFor();
    return entries;
  }

  /**
   * Waits for the context menu to close, pressing Escape now and then: the menu takes the focus a
   * moment after it shows, and an Escape before that goes elsewhere.
   */
  private async closeContextMenu(pressEscape: boolean, timeoutMs = UI_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (pressEscape) await this.page.keyboard.press('Escape');
      try {
        await this.contextMenuWidget.waitFor({ state: 'detached', timeout: 2_000 });
        return;
      } catch {
        pressEscape = true;
      }
    }
    throw new Error(`the context menu did not close within ${timeoutMs} ms`);
  }

  /** Right-clicks the row of `view` labelled `label` (or selects several) and picks `item` from its context menu. */
  async contextMenu(view: string, label: string | readonly string[], item: string): Promise<void> {
    const entries = await this.openContextMenu(view, label);
    const entry = entries.filter({ hasText: item }).first() as ClickableLocator;
    await entry.waitFor();
    // Move onto the entry and let the menu settle before pressing: the menu opens under the
    // pointer, and a press that follows the right-click at once can be taken for its release.
    await entry.hover();
    await this.page.waitForTimeout(300);
    await entry.click();
    // A click runs the command and closes the menu; Escape only if it somehow stays open.
    await this.closeContextMenu(false);
  }

  /**
   * Stop Unit from the row's context menu in `view` (several units: their rows selected together),
   * until fleet's API at `url` has each unit's desired state loaded. If the menu closes without running the command (the desired state stays
   * launched), it is opened again, at most 5 times, and each retry is logged so a menu that keeps
   * closing is visible. (The cause seen so far, a click taken for the right-click's release, is
   * handled in contextMenu().)
   */
  async stopFromContextMenu(view: string, unit: string | readonly string[], url: string, log: (message: string) => void = console.log): Promise<void> {
    const units = [unit].flat();
    for (let attempt = 1; ; attempt++) {
      await this.contextMenu(view, units, 'Stop Unit');
      const asked = await waitFor(
        `${units.join(' and ')}: desired state loaded (API)`,
        async () => {
          const now = (await readCluster(url)).units;
          return units.every(name => now.find(u => u.name === name)?.desiredState === 'loaded');
        },
        { timeoutMs: 10_000, intervalMs: 250 },
      ).catch(err => {
        if (attempt >= 5) throw err;
        return false;
      });
      if (asked) return;
      log(`the context menu closed before Stop Unit ran (attempt ${attempt}); again`);
    }
  }

  /**
   * The texts of a row's context menu entries, or of the menu of several rows selected together
   * (then closes the menu; `whileOpen` runs first, e.g. for a screenshot).
   */
  async contextMenuItems(view: string, label: string | readonly string[], whileOpen?: () => Promise<void>): Promise<string[]> {
    const entries = await this.openContextMenu(view, label);
    const texts = (await entries.allInnerTexts()).map(t => t.trim()).filter(Boolean);
    await whileOpen?.();
    await this.closeContextMenu(true);
    return texts;
  }

  /**
   * Waits until the Output panel shows `text`: finds `find` in it (Ctrl+F scrolls to the match)
   * and tests the visible text, wrapped lines joined, against `text`. Returns that text.
   */
  async waitForOutputText(find: string, text: RegExp, timeoutMs = UI_TIMEOUT): Promise<string> {
    const editor = this.page.locator('.part.panel .monaco-editor').first() as ClickableLocator;
    await editor.waitFor({ timeout: timeoutMs });
    const deadline = Date.now() + timeoutMs;
    let visible = '';
    while (Date.now() < deadline) {
      await editor.click();
      await this.page.keyboard.press('Control+Home');
      await this.page.keyboard.press('Control+F');
      const findInput = this.page.locator('.part.panel .find-widget textarea, .part.panel .find-widget input').first();
      await findInput.waitFor({ timeout: 5_000 }).catch(() => undefined);
      if (await findInput.isVisible()) {
        await findInput.fill(find);
        await this.page.keyboard.press('Enter');
        await this.page.keyboard.press('Escape');
      }
      // Lines wrap at the panel's width: join the view lines without separators.
      visible = (await editor.locator('.view-lines .view-line').allInnerTexts()).join('').replace(/\u00a0/g, ' ');
      if (text.test(visible)) return visible;
      await this.page.waitForTimeout(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for the Output panel to show ${text}; it shows:\n${visible}`);
  }

  /**
   * Drags the side bar's edge to make it `width` pixels wide, so the screenshots show the rows'
   * descriptions in full. Returns the width it got.
   */
  async widenSideBar(width: number): Promise<number> {
    const sideBar = this.page.locator('.part.sidebar').first() as ClickableLocator;
    const box = await sideBar.boundingBox();
    if (!box) throw new Error('the side bar is not visible');
    const mouse = (this.page as unknown as { mouse: Mouse }).mouse;
    const y = box.y + box.height / 2;
    await mouse.move(box.x + box.width, y);
    await mouse.down();
    await mouse.move(box.x + width, y, { steps: 8 });
    await mouse.up();
    return (await sideBar.boundingBox())?.width ?? box.width;
  }

  /** The accessible names of the active editor's title-bar actions, in order (e.g. "Start Unit", "Fleet"). */
  async editorTitleActions(): Promise<string[]> {
    const labels = this.page.locator('.editor-group-container.active .editor-actions .action-label');
    await labels.first().waitFor();
    const out: string[] = [];
    for (let i = 0, n = await labels.count(); i < n; i++) out.push((await labels.nth(i).getAttribute('aria-label')) ?? '');
    return out;
  }

  /** The modal dialog on screen whose message matches; returns its message. */
  async waitForDialog(text: RegExp, timeoutMs = UI_TIMEOUT): Promise<string> {
    const dialog = this.page.locator('.monaco-dialog-box').filter({ hasText: text }).first();
    await dialog.waitFor({ timeout: timeoutMs });
    return dialog.locator('.dialog-message-text').first().innerText();
  }

  /** Clicks a button of the modal dialog on screen and waits for the dialog to go. */
  async answerDialog(button: string): Promise<void> {
    const dialog = this.page.locator('.monaco-dialog-box').first();
    await dialog.locator('.dialog-buttons a.monaco-button, .dialog-buttons .monaco-button').filter({ hasText: button }).first().click();
    await dialog.waitFor({ state: 'hidden' });
  }

  /** The lines the Output panel shows now (its visible lines, each trimmed). */
  async outputLines(): Promise<string[]> {
    const lines = await this.page
      .locator('.part.panel .monaco-editor .view-lines .view-line')
      .allInnerTexts()
      .catch(() => [] as string[]);
    return lines.map(l => l.replace(/\u00a0/g, ' ').trim()).filter(Boolean);
  }

  /** Clicks an action button in the active editor's title bar by its tooltip (e.g. "Start Unit"). */
  async editorTitleAction(title: string): Promise<void> {
    const actions = '.editor-group-container.active .editor-actions .action-label';
    const button = this.page.locator(`${actions}[aria-label*="${title}"], ${actions}[title*="${title}"]`).first();
    await button.waitFor();
    await button.click();
  }
}

// ---------------------------------------------------------------------------------------------
// fleet's v1 API (only what the test reads).

export interface V1Machine {
  id: string;
  primaryIP?: string;
  metadata?: Record<string, string>;
}

export interface V1Unit {
  name: string;
  desiredState?: string;
  currentState?: string;
  machineID?: string;
  /** fleetd: why a unit that should run has no machine. */
  reason?: string;
}

export interface V1UnitState {
  name: string;
  machineID?: string;
  hash?: string;
  systemdLoadState?: string;
  systemdActiveState?: string;
  systemdSubState?: string;
}

async function getAll<T>(base: string, collection: 'machines' | 'units' | 'state', key: string): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const p = `/fleet/v1/${collection}${token ? `?nextPageToken=${encodeURIComponent(token)}` : ''}`;
    const res = await httpGet(base, p);
    if (res.status !== 200) throw new Error(`GET ${base}${p}: HTTP ${res.status} ${res.text}`);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    out.push(...((body[key] as T[] | undefined) ?? []));
    token = body['nextPageToken'] as string | undefined;
    if (!token) return out;
  }
  throw new Error(`GET ${base}/fleet/v1/${collection}: more than 100 pages`);
}

export interface ClusterView {
  machines: V1Machine[];
  units: V1Unit[];
  states: V1UnitState[];
}

/** PUT a unit file's text to fleet's API at `url` as a launched unit (201 or 204 expected). */
export async function putUnit(url: string, name: string, text: string): Promise<void> {
  const options = parseUnitFile(text).options.map(o => ({ section: o.section, name: o.name, value: o.value }));
  const res = await httpRequest('PUT', url, `/fleet/v1/units/${encodeURIComponent(name)}`, { desiredState: 'launched', options });
  assert.ok(res.status === 201 || res.status === 204, `PUT ${name}: ${res.status} ${res.text}`);
}

export async function readCluster(base: string): Promise<ClusterView> {
  const [machines, units, states] = await Promise.all([
    getAll<V1Machine>(base, 'machines', 'machines'),
    getAll<V1Unit>(base, 'units', 'units'),
    getAll<V1UnitState>(base, 'state', 'states'),
  ]);
  return { machines, units, states };
}

// ---------------------------------------------------------------------------------------------
// The extension's fleetd processes.

/** Live processes whose command line contains `needle` (zombies excluded), read from /proc. */
export function processesMatching(needle: string): ProcInfo[] {
  return processesWhere(argv => argv.join(' ').trim().includes(needle));
}

/** The installed extension's directory under a code-server extensions dir. */
export function installedExtensionDir(extensionsDir: string, extensionId: string): string {
  const dirs = fs.readdirSync(extensionsDir).filter(d => d.startsWith(`${extensionId}-`));
  if (dirs.length !== 1) throw new Error(`expected one installed ${extensionId} in ${extensionsDir}, found: ${dirs.join(', ') || 'none'}`);
  return path.join(extensionsDir, dirs[0]!);
}

/** The `fleetd: API ready at <url>` line of a fleetd log, if any. */
export function readyUrl(logText: string): string | undefined {
  return /fleetd: API ready at ((?:http|unix):\/\/\S+)/.exec(logText)?.[1]?.replace(/\/+$/, '');
}
