/**
 * Read-only views of registry data: `fleet-unit:/<name> (<cluster>)` is the registry copy of a
 * unit file (serialized as fleet hashes it; the tab names the cluster), `fleet-unit:/<name> (local
 * file, as fleet stores it)?local=<file>` the local file as fleet would store it (comments and
 * blank lines dropped: Replace's diff compares the two), `fleet-status:/<name>` a status page
 * built from the snapshot with the unit's last journal lines. All read through the active FleetApi
 * when opened. On a real fleet (no fleetd journal API) the status page starts with fleetctl
 * status's `systemctl status -l` output from the unit's machine over SSH (RemoteAccess);
 * `?machine=<id>` pins the machine (global units).
 */
import * as vscode from 'vscode';
import { serializeOptions } from '../../../unitfile/src';
import { STATUS_SCHEME, UNIT_SCHEME } from '../identifiers';
import { localUnitFromText } from '../deploy/localUnit';
import type { ClusterModel } from './clusterModel';
import { registryCopyTitle, unitOfTitle } from './clusterName';
import { formatJournalLine } from './journal';
import type { RemoteAccess } from './remoteAccess';
import { machineLabel, metadataLabel } from './snapshot';
import { systemdSummary, toUnitOptions, unitRows } from './unitRows';
import { errorMessage } from '../../../protocol/src/log';

/** The journal lines a status page ends with (fleetctl status shows systemctl's last 10). */
export const STATUS_JOURNAL_LINES = 10;

/** The registry copy of a unit; with a cluster, the tab reads `nginx.1.service (local cluster)`. */
export function unitUri(name: string, cluster?: string): vscode.Uri {
  return vscode.Uri.from({ scheme: UNIT_SCHEME, path: `/${cluster ? registryCopyTitle(name, cluster) : name}` });
}

/** The local file `file` as fleet stores it (Replace's diff: the registry copy against this). */
export function localCopyUri(name: string, file: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({
    scheme: UNIT_SCHEME,
    path: `/${registryCopyTitle(name, 'local file, as fleet stores it')}`,
    query: `local=${encodeURIComponent(file.toString())}`,
  });
}

export function statusUri(name: string, machineId?: string): vscode.Uri {
  return vscode.Uri.from({ scheme: STATUS_SCHEME, path: `/${name}.status`, ...(machineId ? { query: `machine=${encodeURIComponent(machineId)}` } : {}) });
}

export class UnitDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  constructor(
    private readonly model: ClusterModel,
    private readonly remote?: RemoteAccess,
  ) {}

  /** The registry-copy URIs served so far, by unit (a change re-reads each). */
  private readonly served = new Map<string, Map<string, vscode.Uri>>();

  /** Tells open documents to re-read (after a replace). */
  changed(name: string): void {
    this.emitter.fire(unitUri(name));
    for (const uri of this.served.get(name)?.values() ?? []) this.emitter.fire(uri);
    this.emitter.fire(statusUri(name));
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const api = this.model.currentApi;
    if (uri.scheme === STATUS_SCHEME) {
      const machineId = new URLSearchParams(uri.query).get('machine') ?? undefined;
      const name = uri.path.replace(/^\//, '').replace(/\.status$/, '');
      const [remote, registry, journal] = await Promise.all([this.remoteStatus(name, machineId), this.status(name), this.recentJournal(name, machineId)]);
      return remote + registry + (registry.startsWith('Not connected') || registry.startsWith(`Unit ${name} is not in`) ? '' : journal);
    }
    const name = unitOfTitle(uri.path.replace(/^\//, ''));
    const served = this.served.get(name) ?? new Map<string, vscode.Uri>();
    this.served.set(name, served.set(uri.toString(), uri));
    const localFile = new URLSearchParams(uri.query).get('local');
    if (localFile) return this.localCopy(name, vscode.Uri.parse(localFile));
    if (!api) return `# Not connected to a fleet cluster; run "Fleet: Select Cluster" and reopen ${name}.\n`;
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      const unit = await api.getUnit(name, abort.signal);
      if (!unit) return `# Unit ${name} is not in the registry of ${api.label}.\n`;
      return serializeOptions(toUnitOptions(unit.options));
    } catch (err) {
      return `# Cannot read ${name} from ${api.label}: ${errorMessage(err)}\n`;
    } finally {
      sub.dispose();
    }
  }

  /** The local file as fleet stores it: its options serialized, comments and blank lines gone. */
  private async localCopy(name: string, file: vscode.Uri): Promise<string> {
    try {
      const parsed = localUnitFromText(file.path, (await vscode.workspace.openTextDocument(file)).getText());
      return 'error' in parsed ? `# ${parsed.error}\n` : serializeOptions(parsed.unit.options);
    } catch (err) {
      return `# Cannot read ${name} from ${file.fsPath}: ${errorMessage(err)}\n`;
    }
  }

  /** The unit's last journal lines through fleetd's journal ('' on a real fleet: systemctl status has them). */
  private async recentJournal(name: string, machineId: string | undefined): Promise<string> {
    const api = this.model.currentApi;
    if (!api) return '';
    try {
      if (this.remote && !(await this.remote.hasJournalApi(api, name))) return '';
      const lines = await api.journal(name, { lines: STATUS_JOURNAL_LINES, ...(machineId ? { machineId } : {}) });
      if (lines.length === 0) return '\n  Journal: no lines yet.\n';
      return `\n  Journal (last ${lines.length} line${lines.length === 1 ? '' : 's'}; Fleet: Show Journal follows it):\n${lines.map(l => `    ${formatJournalLine(l)}`).join('\n')}\n`;
    } catch (err) {
      return `\n  Journal: cannot read it: ${errorMessage(err)}\n`;
    }
  }

  /** `systemctl status -l` from the unit's machine on a real fleet; '' on fleetd. */
  private async remoteStatus(name: string, machineId: string | undefined): Promise<string> {
    const api = this.model.currentApi;
    if (!this.remote || !api) return '';
    try {
      if (await this.remote.hasJournalApi(api, name)) return '';
      const status = await this.remote.status(name, machineId);
      const exit = status.exitCode === 0 ? '' : `  (exit status ${status.exitCode ?? 'unknown'})`;
      return `$ ${status.commandLine}   # on ${status.target.label}${exit}\n${status.output}${status.output.endsWith('\n') ? '' : '\n'}\n`;
    } catch (err) {
      return `Cannot run "systemctl status" for ${name} on its machine: ${errorMessage(err)}\n\n`;
    }
  }

  private async status(name: string): Promise<string> {
    await this.model.refresh();
    const view = this.model.view;
    if (view.kind !== 'connected') return `Not connected to a fleet cluster.\n`;
    const snapshot = view.snapshot;
    const row = unitRows(snapshot).find(r => r.name === name);
    if (!row) return `Unit ${name} is not in the registry of ${view.label}.\n`;
    const lines = [
      `● ${row.name}${row.description ? ` - ${row.description}` : ''}`,
      `  Cluster:       ${view.label}`,
      `  Desired state: ${row.desiredState ?? 'inactive'}`,
      `  Current state: ${row.global ? '(global unit)' : (row.currentState ?? 'inactive')}`,
      `  Machine:       ${row.global ? 'every matching machine' : row.machineId ? machineLabel(row.machineId, snapshot.machines, true) : 'not scheduled'}`,
    ];
    if (row.hash) lines.push(`  Hash:          ${row.hash}`);
    if (row.reason) lines.push(`  Not scheduled: ${row.reason}`);
    for (const state of row.states) {
      const machine = snapshot.machines.find(m => m.id === state.machineID);
      lines.push('', `  On ${state.machineID ?? '?'}${machine?.primaryIP ? ` (${machine.primaryIP})` : ''} [${metadataLabel(machine?.metadata)}]`);
      lines.push(`    Loaded: ${state.systemdLoadState ?? '-'}`);
      lines.push(`    Active: ${systemdSummary(state) ?? '-'}`);
      if (state.hash) lines.push(`    Hash:   ${state.hash}${row.hash && state.hash !== row.hash ? ' (differs from the registry copy)' : ''}`);
      if (state.detail) lines.push(`    Detail: ${state.detail}`);
    }
    if (row.states.length === 0) lines.push('', '  No machine reports a state for this unit.');
    return lines.join('\n') + '\n';
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** Opens the registry copy of a unit read-only, with fleet-unit highlighting; the tab names the cluster. */
export async function showUnitFile(name: string, cluster?: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(unitUri(name, cluster));
  await vscode.languages.setTextDocumentLanguage(doc, 'fleet-unit');
  await vscode.window.showTextDocument(doc, { preview: true });
}

export async function showUnitStatus(name: string, machineId?: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(statusUri(name, machineId));
  await vscode.window.showTextDocument(doc, { preview: true });
}
