/**
 * A minimal `vscode` module for running the cluster UI's adapters in Node (commands.test.ts,
 * remoteCommands.test.ts): enough of window/workspace/commands to record what the UI shows.
 * Messages and pickers are answered from queues the tests fill. Importing this file makes
 * `require('vscode')` return the stub.
 */
import fs from 'node:fs';
import Module from 'node:module';

// A minimal `vscode` for the adapters. Messages and pickers are answered from queues the tests fill.

type Listener<T> = (e: T) => void;
export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  event = (l: Listener<T>) => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(e: T) {
    for (const l of [...this.listeners]) l(e);
  }
  dispose() {
    this.listeners.clear();
  }
}
export class Disposable {
  constructor(private readonly fn: () => void) {}
  static from(...ds: { dispose(): unknown }[]) {
    return new Disposable(() => ds.forEach(d => d.dispose()));
  }
  dispose() {
    this.fn();
  }
}
export class Uri {
  constructor(
    readonly scheme: string,
    readonly path: string,
    readonly query = '',
  ) {}
  static file(p: string) {
    return new Uri('file', p);
  }
  static from(c: { scheme: string; path: string; query?: string }) {
    return new Uri(c.scheme, c.path, c.query ?? '');
  }
  static parse(text: string) {
    const m = /^([a-z][\w+.-]*):\/\/([^?]*)(?:\?(.*))?$/i.exec(text);
    if (!m) throw new Error(`the stub Uri.parse cannot read ${text}`);
    return new Uri(m[1]!, m[2]!, m[3] ?? '');
  }
  get fsPath() {
    return this.path;
  }
  toString() {
    return `${this.scheme}://${this.path}${this.query ? `?${this.query}` : ''}`;
  }
}
export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  contextValue?: string;
  iconPath?: unknown;
  command?: unknown;
  constructor(
    readonly label: string,
    readonly collapsibleState: number,
  ) {}
}
export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}
export class ThemeColor {
  constructor(readonly id: string) {}
}
export class MarkdownString {
  isTrusted = false;
  constructor(
    readonly value: string,
    readonly supportThemeIcons = false,
  ) {}
}

export class TabInputTextDiff {
  constructor(
    readonly original: Uri,
    readonly modified: Uri,
  ) {}
}

/** The editor tabs the stub's vscode.diff and showTextDocument opened (one group). */
export const tabs: { label: string; input: unknown }[] = [];

export const ui = {
  info: [] as string[],
  warnings: [] as string[],
  errors: [] as string[],
  /** The buttons each error message offered, in order. */
  errorButtons: [] as string[][],
  /** The modal flag and buttons of each warning message, in order. */
  warningOptions: [] as { modal: boolean; detail?: string; buttons: string[] }[],
  /** Answers for showWarningMessage (modal confirms), showInputBox, showQuickPick. */
  warningAnswers: [] as (string | undefined)[],
  /** Answers for showErrorMessage with buttons. */
  errorAnswers: [] as (string | undefined)[],
  inputs: [] as (string | undefined)[],
  /** The options of every input box shown (title, prompt, value). */
  inputBoxes: [] as { title?: string; prompt?: string; value?: string }[],
  /** Answers for showInformationMessage with buttons. */
  infoAnswers: [] as (string | undefined)[],
  picks: [] as unknown[],
  executed: [] as string[],
  contexts: new Map<string, unknown>(),
  clipboard: '',
  progressTitles: [] as string[],
};
export const config = new Map<string, unknown>();
export const configEvents = new EventEmitter<{ affectsConfiguration(s: string): boolean }>();
export const commands = new Map<string, (...args: unknown[]) => unknown>();
export const contentProviders = new Map<string, { provideTextDocumentContent(uri: Uri, token: unknown): Promise<string> }>();
export const treeViews = new Map<
  string,
  {
    provider: { getChildren(e?: unknown): unknown[]; getTreeItem(e: unknown): TreeItem };
    setVisible(v: boolean): void;
    select(nodes: unknown[]): void;
    message?: string | undefined;
  }
>();

export const visibleEditors = new EventEmitter<unknown>();
export const outputs = new Map<string, string[]>();
export const requests: { method: string; params: unknown }[] = [];
/** Mutable answers and captures the tests read or set. */
export const stubState = {
  workspaceFiles: [] as Uri[],
  validateAnswer: undefined as unknown,
  statusBar: undefined as { text: string; command: unknown; backgroundColor: unknown; [k: string]: unknown } | undefined,
  /** Terminals created with a Pseudoterminal. */
  terminals: [] as { name: string; pty: unknown; shown: boolean }[],
};
export const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };

export const vscodeStub = {
  EventEmitter,
  Disposable,
  Uri,
  TreeItem,
  ThemeIcon,
  ThemeColor,
  MarkdownString,
  TabInputTextDiff,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  ProgressLocation: { Notification: 15 },
  ConfigurationTarget: { Global: 1 },
  window: {
    activeTextEditor: undefined,
    visibleTextEditors: [] as { document: { languageId: string } }[],
    onDidChangeVisibleTextEditors: visibleEditors.event,
    registerWebviewPanelSerializer: () => ({ dispose() {} }),
    state: { focused: true },
    onDidChangeWindowState: new EventEmitter<{ focused: boolean }>().event,
    createOutputChannel: (name: string) => {
      const lines: string[] = [];
      outputs.set(name, lines);
      // A LogOutputChannel: one level per line, recorded as "[level] text".
      const at = (level: string) => (l: string) => void lines.push(`[${level}] ${l}`);
      return {
        appendLine: (l: string) => void lines.push(l),
        append() {},
        clear: () => void (lines.length = 0),
        show() {},
        dispose() {},
        trace: at('trace'),
        debug: at('debug'),
        info: at('info'),
        warn: at('warn'),
        error: at('error'),
      };
    },
    createStatusBarItem: () =>
      (stubState.statusBar = { show() {}, dispose() {}, text: '', tooltip: undefined, command: undefined, name: '', backgroundColor: undefined }),
    createTreeView: (id: string, options: { treeDataProvider: { getChildren(e?: unknown): unknown[]; getTreeItem(e: unknown): TreeItem } }) => {
      const visibility = new EventEmitter<{ visible: boolean }>();
      const selection = new EventEmitter<{ selection: unknown[] }>();
      const view = {
        visible: false,
        message: undefined as string | undefined,
        onDidChangeVisibility: visibility.event,
        onDidChangeSelection: selection.event,
        dispose() {},
      };
      treeViews.set(id, {
        provider: options.treeDataProvider,
        setVisible: (v: boolean) => {
          view.visible = v;
          visibility.fire({ visible: v });
        },
        select: (nodes: unknown[]) => selection.fire({ selection: nodes }),
        get message() {
          return view.message;
        },
      });
      return view;
    },
    showInformationMessage: async (m: string) => {
      ui.info.push(m);
      return ui.infoAnswers.shift();
    },
    showWarningMessage: async (m: string, ...rest: unknown[]) => {
      ui.warnings.push(m);
      const options = rest[0] && typeof rest[0] === 'object' ? (rest[0] as { modal?: boolean; detail?: string }) : undefined;
      ui.warningOptions.push({
        modal: !!options?.modal,
        ...(options?.detail ? { detail: options.detail } : {}),
        buttons: rest.filter((b): b is string => typeof b === 'string'),
      });
      return ui.warningAnswers.shift();
    },
    showErrorMessage: async (m: string, ...buttons: unknown[]) => {
      ui.errors.push(m);
      ui.errorButtons.push(buttons.filter((b): b is string => typeof b === 'string'));
      return ui.errorAnswers.shift();
    },
    showInputBox: async (o?: { title?: string; prompt?: string; value?: string }) => {
      ui.inputBoxes.push({
        ...(o?.title !== undefined ? { title: o.title } : {}),
        ...(o?.prompt !== undefined ? { prompt: o.prompt } : {}),
        ...(o?.value !== undefined ? { value: o.value } : {}),
      });
      return ui.inputs.shift();
    },
    showQuickPick: async (items: unknown[]) => {
      const want = ui.picks.shift();
      return typeof want === 'function' ? (want as (i: unknown[]) => unknown)(items) : want;
    },
    withProgress: async (o: { title: string }, task: (p: unknown, t: unknown) => Promise<unknown>) => {
      ui.progressTitles.push(o.title);
      return task({ report() {} }, token);
    },
    setStatusBarMessage: () => ({ dispose() {} }),
    createTerminal: (o: { name: string; pty: unknown }) => {
      const terminal = { name: o.name, pty: o.pty, shown: false };
      stubState.terminals.push(terminal);
      return { ...terminal, show: () => void (terminal.shown = true), dispose() {} };
    },
    showTextDocument: async (doc: { uri: Uri }) => {
      if (doc?.uri && !tabs.some(t => t.input instanceof Uri && t.input.toString() === doc.uri.toString()))
        tabs.push({ label: doc.uri.path.split('/').pop()!, input: doc.uri });
      return undefined;
    },
    tabGroups: {
      get all() {
        return [{ tabs }];
      },
      close: async (closing: unknown[]) => {
        for (const t of closing) tabs.splice(tabs.indexOf(t as (typeof tabs)[number]), 1);
        return true;
      },
    },
  },
  workspace: {
    workspaceFolders: undefined,
    getConfiguration: (section?: string) => ({
      get: <T>(key: string, fallback?: T) => {
        const full = section ? `${section}.${key}` : key;
        return (config.has(full) ? config.get(full) : fallback) as T;
      },
      update: async (key: string, value: unknown) => {
        const full = section ? `${section}.${key}` : key;
        config.set(full, value);
        configEvents.fire({ affectsConfiguration: (s: string) => full === s || full.startsWith(`${s}.`) });
      },
    }),
    onDidChangeConfiguration: configEvents.event,
    registerTextDocumentContentProvider: (scheme: string, provider: { provideTextDocumentContent(uri: Uri, token: unknown): Promise<string> }) => {
      contentProviders.set(scheme, provider);
      return { dispose() {} };
    },
    openTextDocument: async (uri: Uri) => {
      const text = uri.scheme === 'file' ? fs.readFileSync(uri.fsPath, 'utf8') : await contentProviders.get(uri.scheme)!.provideTextDocumentContent(uri, token);
      return { uri, languageId: 'fleet-unit', getText: () => text };
    },
    findFiles: async () => stubState.workspaceFiles,
    asRelativePath: (uri: Uri) => uri.path,
  },
  commands: {
    registerCommand: (id: string, fn: (...args: unknown[]) => unknown) => {
      commands.set(id, fn);
      return { dispose: () => commands.delete(id) };
    },
    executeCommand: async (id: string, ...args: unknown[]) => {
      ui.executed.push(id);
      if (id === 'setContext') ui.contexts.set(args[0] as string, args[1]);
      if (id === 'vscode.diff') tabs.push({ label: args[2] as string, input: new TabInputTextDiff(args[0] as Uri, args[1] as Uri) });
      return commands.get(id)?.(...args);
    },
  },
  languages: { setTextDocumentLanguage: async (doc: unknown) => doc },
  env: { clipboard: { writeText: async (t: string) => void (ui.clipboard = t) } },
};

const moduleInternals = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const originalLoad = moduleInternals._load;
moduleInternals._load = function (request: string, parent: unknown, isMain: boolean) {
  if (request === 'vscode') return vscodeStub;
  return originalLoad.call(this, request, parent, isMain);
};
