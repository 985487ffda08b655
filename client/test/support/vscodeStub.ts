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
  constructor(readonly scheme: string, readonly path: string, readonly query = '') {}
  static file(p: string) {
    return new Uri('file', p);
  }
  static from(c: { scheme: string; path: string; query?: string }) {
    return new Uri(c.scheme, c.path, c.query ?? '');
  }
  get fsPath() {
    return this.path;
  }
  toString() {
    return `${this.scheme}://${this.path}`;
  }
}
export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  contextValue?: string;
  iconPath?: unknown;
  command?: unknown;
  constructor(readonly label: string, readonly collapsibleState: number) {}
}
export class ThemeIcon {
  constructor(readonly id: string, readonly color?: ThemeColor) {}
}
export class ThemeColor {
  constructor(readonly id: string) {}
}
export class MarkdownString {
  isTrusted = false;
  constructor(readonly value: string, readonly supportThemeIcons = false) {}
}

export const ui = {
  info: [] as string[],
  warnings: [] as string[],
  errors: [] as string[],
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
export const treeViews = new Map<string, { provider: { getChildren(e?: unknown): unknown[]; getTreeItem(e: unknown): TreeItem }; setVisible(v: boolean): void; message?: string }>();

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
  EventEmitter, Disposable, Uri, TreeItem, ThemeIcon, ThemeColor, MarkdownString,
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
        appendLine: (l: string) => void lines.push(l), append() {}, clear: () => void (lines.length = 0), show() {}, dispose() {},
        trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
      };
    },
    createStatusBarItem: () => (stubState.statusBar = { show() {}, dispose() {}, text: '', tooltip: undefined, command: undefined, name: '', backgroundColor: undefined }),
    createTreeView: (id: string, options: { treeDataProvider: { getChildren(e?: unknown): unknown[]; getTreeItem(e: unknown): TreeItem } }) => {
      const visibility = new EventEmitter<{ visible: boolean }>();
      const view = {
        visible: false,
        message: undefined as string | undefined,
        onDidChangeVisibility: visibility.event,
        dispose() {},
      };
      treeViews.set(id, {
        provider: options.treeDataProvider,
        setVisible: (v: boolean) => {
          view.visible = v;
          visibility.fire({ visible: v });
        },
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
    showWarningMessage: async (m: string) => {
      ui.warnings.push(m);
      return ui.warningAnswers.shift();
    },
    showErrorMessage: async (m: string) => {
      ui.errors.push(m);
      return ui.errorAnswers.shift();
    },
    showInputBox: async (o?: { title?: string; prompt?: string; value?: string }) => {
      ui.inputBoxes.push({ ...(o?.title !== undefined ? { title: o.title } : {}), ...(o?.prompt !== undefined ? { prompt: o.prompt } : {}), ...(o?.value !== undefined ? { value: o.value } : {}) });
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
    showTextDocument: async () => undefined,
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
  },
  commands: {
    registerCommand: (id: string, fn: (...args: unknown[]) => unknown) => {
      commands.set(id, fn);
      return { dispose: () => commands.delete(id) };
    },
    executeCommand: async (id: string, ...args: unknown[]) => {
      ui.executed.push(id);
      if (id === 'setContext') ui.contexts.set(args[0] as string, args[1]);
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
