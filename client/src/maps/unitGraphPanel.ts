/**
 * The unit graph's webview panel: asks the language server for `fleet/unitGraph` (its workspace
 * index, its messages) and draws it; re-asks when a unit file changes (debounced); a node clicked
 * opens its file. Restored on reload by a WebviewPanelSerializer.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { LANGUAGE_ID, UNIT_FILE_EXTENSIONS, UnitGraphRequest, type UnitGraph } from '../../../protocol/src/lsp';
import { loadWebview, webviewOptions } from './panelShell';
import { GRAPH_CSS } from './styles';
import { errorMessage, type Log } from '../../../protocol/src/log';

export const UNIT_GRAPH_VIEW = 'fleet.unitGraph';

export interface UnitGraphState {
  focus?: string | undefined;
}

export type ToUnitGraph = { type: 'graph'; graph: UnitGraph | undefined; status?: string; focus?: string | undefined };
export type FromUnitGraph = { type: 'ready' } | { type: 'open'; unit: string };

export interface UnitGraphDeps {
  extensionUri: vscode.Uri;
  languageClient: () => LanguageClient | undefined;
  log: Log;
}

export class UnitGraphPanel implements vscode.Disposable {
  static current: UnitGraphPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private graph: UnitGraph | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private focus: string | undefined;
  /** While the language server is not (yet) running: ask again each second, up to a minute. */
  private retries = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;

  static show(deps: UnitGraphDeps, focus?: string): UnitGraphPanel {
    const existing = UnitGraphPanel.current;
    if (existing) {
      existing.panel.reveal();
      existing.focus = focus;
      existing.refresh();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(UNIT_GRAPH_VIEW, 'Fleet Unit Graph', vscode.ViewColumn.Beside, webviewOptions(deps.extensionUri));
    return new UnitGraphPanel(panel, deps, { focus });
  }

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: UnitGraphDeps,
    state: UnitGraphState,
  ) {
    UnitGraphPanel.current = this;
    this.focus = state.focus;
    loadWebview(panel, deps.extensionUri, { script: 'unitGraph.js', title: 'Fleet Unit Graph', css: GRAPH_CSS });
    const isUnit = (uri: vscode.Uri) => UNIT_FILE_EXTENSIONS.some(ext => uri.path.endsWith(ext));
    const watcher = vscode.workspace.createFileSystemWatcher(`**/*{${UNIT_FILE_EXTENSIONS.join(',')}}`);
    this.disposables.push(
      watcher,
      watcher.onDidCreate(() => this.later()),
      watcher.onDidDelete(() => this.later()),
      watcher.onDidChange(() => this.later()),
      vscode.workspace.onDidChangeTextDocument(e => {
        if (e.document.languageId === LANGUAGE_ID && isUnit(e.document.uri)) this.later();
      }),
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: FromUnitGraph) => void this.receive(m)),
    );
  }

  /** Re-asks the server 300 ms after the last change (the server patches its index per edit). */
  private later(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, 300);
  }

  refresh(): void {
    if (!this.ready) return;
    const client = this.deps.languageClient();
    if (!client || !client.isRunning()) {
      // At start-up (a restored panel activates the extension) the server is still starting.
      const waiting = this.retries < 60;
      void this.panel.webview.postMessage({
        type: 'graph',
        graph: undefined,
        status: waiting
          ? 'Waiting for the fleet language server (the graph comes from its workspace index)…'
          : 'The fleet language server is not running; the graph comes from its workspace index. Run Fleet: Restart Language Server.',
      } satisfies ToUnitGraph);
      if (waiting && !this.retry) {
        this.retries++;
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.refresh();
        }, 1000);
      }
      return;
    }
    this.retries = 0;
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 15 s')), 15_000).unref?.());
    Promise.race([client.sendRequest(UnitGraphRequest.type), timeout]).then(
      graph => {
        this.graph = graph;
        const status =
          graph.nodes.length === 0 ? 'No unit files in the workspace. Open a folder with .service files (Fleet: Open Sample Units has some).' : undefined;
        const message: ToUnitGraph = { type: 'graph', graph, focus: this.focus };
        if (status) message.status = status;
        void this.panel.webview.postMessage(message);
      },
      (err: unknown) => {
        this.deps.log('warn', `unit graph: ${errorMessage(err)}`);
        void this.panel.webview.postMessage({
          type: 'graph',
          graph: undefined,
          status: `The language server did not answer: ${errorMessage(err)}`,
        } satisfies ToUnitGraph);
      },
    );
  }

  private async receive(m: FromUnitGraph): Promise<void> {
    if (m.type === 'ready') {
      this.ready = true;
      this.refresh();
      return;
    }
    const node = this.graph?.nodes.find(n => n.name === m.unit);
    // An instance without its own file opens its template's.
    const uri = node?.uri ?? (node?.group ? this.graph?.nodes.find(n => n.name === node.group)?.uri : undefined);
    if (!uri) {
      void vscode.window.showInformationMessage(`Fleet: ${m.unit} has no file in the workspace (it is only referred to).`);
      return;
    }
    await vscode.window.showTextDocument(vscode.Uri.parse(uri), { viewColumn: vscode.ViewColumn.One, preview: true });
  }

  /** Stops listening (files, the webview) and leaves the panel to VS Code. */
  detach(): void {
    if (UnitGraphPanel.current === this) UnitGraphPanel.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (this.retry) clearTimeout(this.retry);
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  dispose(): void {
    this.detach();
    this.panel.dispose();
  }
}
