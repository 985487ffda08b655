/**
 * The cluster UI's composition root, called once from extension.ts:
 *
 *   context.subscriptions.push(registerClusterFeatures(context, { languageClient: client, log }));
 *
 * It builds the ClusterModel, the connections, the Machines and Units views, the status bar,
 * the deploy commands and the local cluster, and keeps the language server's cluster context
 * (`fleet/clusterContext`) in step with the snapshot.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ClusterContextNotification, type ClusterContextParams } from '../../protocol/src/lsp';
import { ClusterModel } from './cluster/clusterModel';
import { ClusterTreeProvider } from './cluster/clusterTree';
import { ClusterConnections } from './cluster/connections';
import { PROBLEM_CONTEXT, welcomeStateOf, type WelcomeState } from './cluster/connectionProblem';
import { JournalFollower } from './cluster/journal';
import { RemoteAccess, remoteSettingsFrom } from './cluster/remoteAccess';
import { clusterContextOf, sameClusterContext } from './cluster/snapshot';
import { ExplorerOptions } from './cluster/treeItems';
import { UnitDocumentProvider } from './cluster/unitDocuments';
import { UnitsViewControls } from './cluster/unitsViewControls';
import { STATUS_SCHEME, UNIT_SCHEME, Views } from './identifiers';
import { registerCommands } from './commands/registerCommands';
import { DeployController } from './deploy/deployController';
import { LocalClusterManager } from './localCluster/localClusterManager';
import { registerMaps } from './maps/registerMaps';
import { confirmHostKey } from './hostKeyPrompt';
import { ClusterStatusBar } from './status/statusBar';
import { errorMessage } from '../../protocol/src/log';

export const CONNECTED_CONTEXT = 'fleet.clusterConnected';
/** The explorer shows the local cluster (Remove Machine is offered on its machines). */
export const LOCAL_ACTIVE_CONTEXT = 'fleet.localClusterActive';

export interface ClusterFeatures extends vscode.Disposable {
  readonly model: ClusterModel;
}

function explorerOptions(): ExplorerOptions {
  const config = vscode.workspace.getConfiguration('fleet.explorer');
  return ExplorerOptions.from({ groupBy: config.get('groupBy'), sortBy: config.get('sortBy') });
}

export function registerClusterFeatures(
  context: vscode.ExtensionContext,
  deps: { languageClient?: LanguageClient; log: vscode.LogOutputChannel },
): ClusterFeatures {
  const { log } = deps;
  const disposables: vscode.Disposable[] = [];
  const own = <T extends vscode.Disposable>(d: T): T => {
    disposables.push(d);
    return d;
  };
  const languageClient = deps.languageClient;
  const intervalSeconds = vscode.workspace.getConfiguration('fleet.explorer').get<number>('refreshIntervalSeconds', 3);
  const model = new ClusterModel({
    intervalMs: Math.max(1, Number.isFinite(intervalSeconds) ? intervalSeconds : 3) * 1000,
    log: (level, message) => log[level](message),
  });
  own({ dispose: () => model.dispose() });
  const connections = own(new ClusterConnections(model, log));
  own(connections.onDidChange(() => void vscode.commands.executeCommand('setContext', LOCAL_ACTIVE_CONTEXT, connections.activeCluster?.source === 'local')));
  // fleetctl journal/status/ssh on the unit's machine for real fleets (settings read on each use).
  const remote = new RemoteAccess({
    api: () => model.currentApi,
    profile: () => connections.activeCluster?.profile,
    settings: () => {
      const c = vscode.workspace.getConfiguration('fleet.ssh');
      return remoteSettingsFrom({ port: c.get('port'), sudo: c.get('sudo'), forwardAgent: c.get('forwardAgent'), journalLines: c.get('journalLines') });
    },
    confirmUnknownHost: (host, fingerprint, _keyType, notes) =>
      confirmHostKey(host, fingerprint, connections.activeCluster?.profile?.knownHostsFile ?? 'the known hosts file', notes),
    log: (level, message) => log[level](`[ssh] ${message}`),
  });
  const documents = own(new UnitDocumentProvider(model, remote));
  own(vscode.workspace.registerTextDocumentContentProvider(UNIT_SCHEME, documents));
  own(vscode.workspace.registerTextDocumentContentProvider(STATUS_SCHEME, documents));

  // Explorer views; polling runs only while one of them is visible.
  const machinesProvider = own(new ClusterTreeProvider('machines', model, explorerOptions));
  // The Units view's options: the configured grouping, or by machine above 500 units; the filter.
  let unitsControls: UnitsViewControls | undefined;
  const unitsProvider = own(new ClusterTreeProvider('units', model, () => unitsControls?.options() ?? explorerOptions()));
  const machinesView = own(vscode.window.createTreeView(Views.machines, { treeDataProvider: machinesProvider, canSelectMany: true, showCollapseAll: true }));
  const unitsView = own(vscode.window.createTreeView(Views.units, { treeDataProvider: unitsProvider, canSelectMany: true, showCollapseAll: true }));
  // Polling runs while a Fleet view is visible, or a fleet-unit editor is (so the language
  // server's cluster context stays fresh for MachineID/MachineOf completion and placement).
  let release: (() => void) | undefined;
  const editingUnits = () => vscode.window.visibleTextEditors.some(e => e.document.languageId === 'fleet-unit');
  const updateWatching = () => {
    const visible = machinesView.visible || unitsView.visible || editingUnits();
    if (visible && !release) release = model.watch();
    else if (!visible && release) {
      release();
      release = undefined;
    }
  };
  // An unfocused window polls a cluster without a change feed 4× slower.
  model.setFocused(vscode.window.state.focused);
  own(vscode.window.onDidChangeWindowState(state => model.setFocused(state.focused)));
  own(machinesView.onDidChangeVisibility(updateWatching));
  own(unitsView.onDidChangeVisibility(updateWatching));
  own(vscode.window.onDidChangeVisibleTextEditors(updateWatching));
  own({ dispose: () => release?.() });
  updateWatching();
  own(
    vscode.workspace.onDidChangeConfiguration(e => {
      if (e.affectsConfiguration('fleet.explorer')) {
        machinesProvider.refresh();
        unitsProvider.refresh();
      }
    }),
  );
  const updateMessage = () => {
    const view = model.view;
    const healthy = view.kind === 'connected' && !view.error;
    const units = healthy && view.snapshot.units.length === 0 ? `No units in ${view.label}. Open a unit file and run Fleet: Start Unit.` : '';
    const machines =
      healthy && view.snapshot.machines.length === 0
        ? `No machines have joined ${view.label}: units cannot be scheduled until an agent (fleetd) is running.`
        : '';
    // Assigned only when it changes: each assignment is a change event, which VS Code debounces
    // with the tree's own (see ClusterTreeProvider).
    if ((unitsView.message ?? '') !== units) unitsView.message = units;
    if ((machinesView.message ?? '') !== machines) machinesView.message = machines;
  };
  own(model.onDidChange(updateMessage));
  unitsControls = own(new UnitsViewControls(model, unitsView, () => unitsProvider.refresh()));

  // The language server's cluster context follows the snapshot.
  let lastContext: ClusterContextParams = { context: null };
  const sendContext = () => {
    const client = languageClient;
    if (!client || !client.isRunning()) return;
    client.sendNotification(ClusterContextNotification.type, lastContext).catch((err: unknown) => {
      log.warn(`could not send fleet/clusterContext: ${errorMessage(err)}`);
    });
  };
  if (languageClient) own(languageClient.onDidChangeState(() => sendContext()));
  // The welcome views: "not connected", or one message with the reason the active cluster cannot be read.
  let welcome: WelcomeState | undefined;
  const updateWelcome = () => {
    const next = welcomeStateOf(model.view, connections.isFallback);
    if (welcome && welcome.connected === next.connected && welcome.problem === next.problem) return;
    welcome = next;
    void vscode.commands.executeCommand('setContext', CONNECTED_CONTEXT, next.connected);
    void vscode.commands.executeCommand('setContext', PROBLEM_CONTEXT, next.problem);
  };
  own(connections.onDidChange(updateWelcome));
  updateWelcome();
  own(
    model.onDidChange(change => {
      updateWelcome();
      if (change.view.kind === 'connected') {
        if (!change.diff?.changed && lastContext.context) return;
        const context = clusterContextOf(change.view.snapshot);
        // A unit's systemd state is not part of the context: the server hears only of what it shows.
        if (lastContext.context && sameClusterContext(lastContext.context, context)) return;
        lastContext = { context };
      } else if (change.view.kind === 'disconnected' || change.view.kind === 'loading') {
        if (lastContext.context === null) return;
        lastContext = { context: null };
      } else return; // keep the last context through transient errors
      sendContext();
    }),
  );

  own(new ClusterStatusBar(model, connections));
  const journals = own(new JournalFollower(remote));
  const local = own(new LocalClusterManager(context, connections, log));
  const deploy = new DeployController({ model, log, documents, languageClient: () => languageClient, clusterName: () => connections.activeCluster?.name });
  own(registerCommands({ context, model, connections, deploy, local, journals, remote, log }));
  own(registerMaps({ context, model, unitsView, unitsProvider, languageClient: () => languageClient, log }));

  void connections.connect();

  // Dispose in reverse order: the local cluster is stopped before the model and connections go.
  const store = vscode.Disposable.from({
    dispose: () => {
      for (const d of disposables.reverse()) {
        try {
          d.dispose();
        } catch (err) {
          log.error(`disposing the cluster UI: ${errorMessage(err)}`);
        }
      }
    },
  });
  return Object.assign(store, { model });
}
