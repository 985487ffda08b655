/**
 * Fleet: Start / Stop Local Cluster and Show Local Cluster Logs: runs the bundled fleetd
 * (`dist/fleetd.js local …`) under the editor's own Node (ELECTRON_RUN_AS_NODE=1) in its own
 * process group, connects the explorer to it, and stops the whole group when asked, when the
 * process dies, or when the extension deactivates.
 */
import * as vscode from 'vscode';
import fs from 'node:fs';
import path from 'node:path';
import type { ClusterConnections } from '../cluster/connections';
import { Commands } from '../identifiers';
import { defaultMetadata, findEtcd, fleetdArgs, launchFleetd, validateMetadata, type EtcdChoice, type LocalClusterProcess } from './launcher';
import { adoptLocalCluster, findLocalClusters } from './discovery';
import { removeLocalMachine } from './removeMachine';
import { errorMessage } from '../../../protocol/src/log';

export const LOCAL_RUNNING_CONTEXT = 'fleet.localClusterRunning';

export class LocalClusterManager implements vscode.Disposable {
  private process: LocalClusterProcess | undefined;
  /** Set when the running cluster was started outside this editor (e.g. by `npm start`) and adopted. */
  private adopted: { logFile?: string; tail?: () => void } | undefined;
  private starting = false;
  private stopping = false;
  private readonly output = vscode.window.createOutputChannel('Fleet Local Cluster');

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly connections: ClusterConnections,
    private readonly log: vscode.LogOutputChannel,
  ) {
    void vscode.commands.executeCommand('setContext', LOCAL_RUNNING_CONTEXT, false);
    // A local cluster started outside this editor (npm start) is the local cluster: adopt it.
    void this.adoptRunning(true);
  }

  /**
   * Adopts a running `fleetd local` that another process started: it becomes the local cluster
   * (connected, stoppable, its log shown). Returns its URL, or undefined when there is none.
   */
  async adoptRunning(quiet: boolean): Promise<string | undefined> {
    if (this.running) return this.process!.url;
    const [record] = findLocalClusters();
    if (!record) return undefined;
    const proc = adoptLocalCluster(record);
    this.process = proc;
    this.adopted = record.logFile ? { logFile: record.logFile } : {};
    this.output.appendLine(
      `[info] adopted the local cluster at ${record.url} (fleetd pid ${record.pid}, started ${new Date(record.startedAt).toISOString()} outside this editor${record.logFile ? `; log ${record.logFile}` : ''})`,
    );
    if (record.logFile) this.adopted.tail = this.followLog(record.logFile);
    void vscode.commands.executeCommand('setContext', LOCAL_RUNNING_CONTEXT, true);
    void proc.exited.then(code => this.onExit(proc, code));
    await this.connections.setLocalCluster(proc.url);
    if (!quiet) {
      void vscode.window
        .showInformationMessage(
          `A local fleet cluster is already running at ${record.url} (started outside VS Code); the Fleet explorer shows it.`,
          'Show Logs',
          'Stop It',
        )
        .then(c => {
          if (c === 'Show Logs') this.showLogs();
          if (c === 'Stop It') void this.stop();
        });
    }
    return proc.url;
  }

  /** Copies the adopted cluster's log into the output channel: its last lines now, new ones as they come. */
  private followLog(file: string): () => void {
    let offset = 0;
    const read = () => {
      try {
        const size = fs.statSync(file).size;
        if (size < offset) offset = 0;
        if (size === offset) return;
        const start = offset === 0 ? Math.max(0, size - 64 * 1024) : offset;
        const fd = fs.openSync(file, 'r');
        try {
          const buf = Buffer.alloc(size - start);
          fs.readSync(fd, buf, 0, buf.length, start);
          this.output.append(buf.toString('utf8'));
        } finally {
          fs.closeSync(fd);
        }
        offset = size;
      } catch {
        // the log went away with the cluster
      }
    };
    read();
    const timer = setInterval(read, 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  get running(): boolean {
    return !!this.process && !this.process.hasExited();
  }

  get url(): string | undefined {
    return this.running ? this.process?.url : undefined;
  }

  showLogs(): void {
    this.output.show(true);
  }

  /** Asks for machines and metadata (unless given), starts fleetd and connects the explorer. */
  async start(args?: { machines?: number; metadata?: string[]; quiet?: boolean }): Promise<string | undefined> {
    if (this.running) {
      const choice = await vscode.window.showInformationMessage(`The local fleet cluster is already running at ${this.process!.url}.`, 'Show Logs', 'Stop It');
      if (choice === 'Show Logs') this.showLogs();
      if (choice === 'Stop It') await this.stop();
      return this.process?.url;
    }
    if (this.starting) {
      void vscode.window.showInformationMessage('The local fleet cluster is already starting.');
      return undefined;
    }
    // Never a second cluster on the same machines: one started outside this editor is adopted.
    const adopted = await this.adoptRunning(!!args?.quiet);
    if (adopted) return adopted;
    const config = vscode.workspace.getConfiguration('fleet.localCluster');
    let machines = args?.machines;
    if (machines === undefined) {
      const answer = await vscode.window.showInputBox({
        title: 'Fleet: Start Local Cluster (1/2)',
        prompt: 'How many machines?',
        value: String(config.get<number>('machines', 3)),
        validateInput: v => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 20 ? undefined : 'Enter a whole number from 1 to 20.'),
      });
      if (answer === undefined) return undefined;
      machines = Number(answer);
    }
    let metadata = args?.metadata;
    if (!metadata) {
      const defaults = defaultMetadata(machines).join(' ; ');
      const answer = await vscode.window.showInputBox({
        title: 'Fleet: Start Local Cluster (2/2)',
        prompt: 'Metadata per machine, machines separated by ";" (k=v,k2=v2 ; k=v …); empty for none',
        value: defaults,
        validateInput: v => {
          const parts = v.split(';');
          if (v.trim() !== '' && parts.length > machines!) return `There are ${parts.length} entries for ${machines} machines; give at most one per machine.`;
          for (const part of parts) {
            const problem = validateMetadata(part);
            if (problem) return problem;
          }
          return undefined;
        },
      });
      if (answer === undefined) return undefined;
      metadata = answer.split(';').map(s => s.trim());
    }
    const script = path.join(this.context.extensionPath, 'dist', 'fleetd.js');
    if (!fs.existsSync(script)) {
      void vscode.window.showErrorMessage(`The bundled fleet daemon is missing (${script}). Rebuild the extension (npm run build) or reinstall it.`);
      return undefined;
    }
    const stateDir = path.join(this.context.globalStorageUri.fsPath, 'local-cluster');
    fs.mkdirSync(stateDir, { recursive: true });
    const found = findEtcd(config.get<string>('etcdPath'), process.env['PATH']);
    if (found.warning) {
      this.output.appendLine(`[warn] ${found.warning}`);
      void vscode.window.showWarningMessage(found.warning);
    }
    const etcd: EtcdChoice = found.path ? { kind: 'binary', path: found.path } : { kind: 'embedded' };
    const etcdApi = config.get<string>('etcdApi', 'v3') === 'v2' ? 'v2' : 'v3';
    if (etcdApi === 'v2' && etcd.kind === 'embedded') {
      const warning =
        "fleet.localCluster.etcdApi is v2, but no etcd was found: the local cluster uses fleetd's embedded registry, which fleetctl --driver=etcd cannot reach. Install etcd (Debian: etcd-server) or set fleet.localCluster.etcdPath.";
      this.output.appendLine(`[warn] ${warning}`);
      void vscode.window.showWarningMessage(warning);
    }
    const argv = fleetdArgs({ script, machines, metadata, etcd, stateDir, etcdApi });
    const timeoutSeconds = config.get<number>('readyTimeoutSeconds', 60);
    this.output.appendLine(`[info] ${new Date().toISOString()} starting: ${process.execPath} ${argv.join(' ')}`);
    this.output.appendLine(
      `[info] registry: ${etcd.kind === 'binary' ? `etcd at ${etcd.path}` : "fleetd's embedded registry (no etcd found; set fleet.localCluster.etcdPath to use one)"}`,
    );
    this.starting = true;
    try {
      const proc = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Fleet: Starting a local cluster with ${machines} machine${machines === 1 ? '' : 's'}`,
          cancellable: false,
        },
        () =>
          launchFleetd({
            command: process.execPath,
            args: argv,
            // FLEETD_PARENT_PIPE: fleetd stops its cluster when our end of its stdin closes, so
            // even a killed extension host leaves no cluster behind.
            env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', FLEETD_PARENT_PIPE: '1' },
            cwd: stateDir,
            logFile: path.join(stateDir, 'fleetd.log'),
            readyTimeoutMs: Math.max(5, timeoutSeconds) * 1000,
            onLine: line => this.output.appendLine(line),
          }),
      );
      this.process = proc;
      void vscode.commands.executeCommand('setContext', LOCAL_RUNNING_CONTEXT, true);
      void proc.exited.then(code => this.onExit(proc, code));
      await this.connections.setLocalCluster(proc.url);
      this.log.info(`local fleet cluster running at ${proc.url} (pid ${proc.pid})`);
      if (!args?.quiet) {
        void vscode.commands.executeCommand(`workbench.view.extension.fleet`);
        void vscode.window
          .showInformationMessage(
            `Local fleet cluster running at ${proc.url} with ${machines} machine${machines === 1 ? '' : 's'}; the Fleet explorer shows it.`,
            'Show Logs',
          )
          .then(c => c && this.showLogs());
      }
      return proc.url;
    } catch (err) {
      const message = errorMessage(err);
      this.output.appendLine(`[error] ${message}`);
      void vscode.window.showErrorMessage(`Could not start the local fleet cluster: ${message.split('\n')[0]}`, 'Show Logs').then(c => c && this.showLogs());
      return undefined;
    } finally {
      this.starting = false;
    }
  }

  private onExit(proc: LocalClusterProcess, code: number | string): void {
    if (this.process !== proc) return;
    this.process = undefined;
    this.adopted?.tail?.();
    this.adopted = undefined;
    void vscode.commands.executeCommand('setContext', LOCAL_RUNNING_CONTEXT, false);
    void this.connections.setLocalCluster(undefined);
    this.output.appendLine(`[info] fleetd exited (${code})`);
    if (!this.stopping) {
      void proc.stop(1000); // reap anything left in its group
      void vscode.window.showErrorMessage(`The local fleet cluster stopped unexpectedly (${code}).`, 'Show Logs', 'Restart').then(c => {
        if (c === 'Show Logs') this.showLogs();
        if (c === 'Restart') void vscode.commands.executeCommand(Commands.startLocalCluster);
      });
    }
  }

  async stop(): Promise<void> {
    const proc = this.process;
    if (!proc) {
      void vscode.window.showInformationMessage('The local fleet cluster is not running.');
      return;
    }
    this.stopping = true;
    try {
      // fleetd stops in order: machines release their units and presence, then its etcd.
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Fleet: Stopping the local cluster' }, () => proc.stop(30_000));
      this.output.appendLine('[info] local cluster stopped');
    } finally {
      this.stopping = false;
      if (this.process === proc) this.onExit(proc, 'stopped');
    }
  }

  /**
   * Fleet: Remove Machine: after a confirmation, fleetd stops the machine (its units get their
   * ExecStop=, the stop signal, ExecStopPost=) and the engine moves its units to the others.
   */
  async removeMachine(machine: { id: string; primaryIP?: string }): Promise<boolean> {
    const url = this.url;
    if (!url)
      throw new Error(
        'The local fleet cluster is not running: Remove Machine works on the local cluster only (a fleet machine leaves its cluster when its fleetd stops).',
      );
    const label = `${machine.id.slice(0, 8)}${machine.primaryIP ? ` (${machine.primaryIP})` : ''}`;
    const choice = await vscode.window.showWarningMessage(
      `Remove machine ${label} from the local cluster?`,
      {
        modal: true,
        detail:
          'Its units are stopped (ExecStop=, then their processes, then ExecStopPost=) and the cluster moves them to the other machines. The machine comes back when the local cluster restarts.',
      },
      'Remove Machine',
    );
    if (choice !== 'Remove Machine') return false;
    this.output.appendLine(`[info] removing machine ${machine.id}`);
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Fleet: Removing machine ${label} (stopping its units)` }, () =>
      removeLocalMachine(url, machine.id),
    );
    this.output.appendLine(`[info] machine ${machine.id} removed`);
    vscode.window.setStatusBarMessage(`Removed machine ${label}; its units move to the other machines`, 5000);
    return true;
  }

  dispose(): void {
    const proc = this.process;
    this.process = undefined;
    this.stopping = true;
    // Deactivation cannot await: SIGTERM now, SIGKILL after the grace period (and the exit hook
    // in launcher.ts kills the group if the extension host exits first).
    // An adopted cluster belongs to whoever started it: it keeps running when this editor closes.
    if (proc && !this.adopted) void proc.stop(3000);
    this.adopted?.tail?.();
    this.output.dispose();
  }
}
