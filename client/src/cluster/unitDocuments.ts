/**
 * Read-only views of registry data: `fleet-unit:/<name>` is the registry copy of a unit file
 * (serialized as fleet hashes it), `fleet-status:/<name>` a status page built from the
 * snapshot. Both read through the active FleetApi when opened. On a real fleet (no fleetd
 * journal API) the status page starts with fleetctl status's `systemctl status -l` output from
 * the unit's machine over SSH (RemoteAccess); `?machine=<id>` pins the machine (global units).
 */
import * as vscode from 'vscode';
import { serializeOptions } from '../../../unitfile/src';
import { STATUS_SCHEME, UNIT_SCHEME } from '../identifiers';
import type { ClusterModel } from './clusterModel';
import type { RemoteAccess } from './remoteAccess';
import { machineLabel, metadataLabel } from './snapshot';
import { systemdSummary, toUnitOptions, unitRows } from './unitRows';
import { errorMessage } from '../../../protocol/src/log';

export function unitUri(name: string): vscode.Uri {
  return vscode.Uri.from({ scheme: UNIT_SCHEME, path: `/${name}` });
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

  /** Tells open documents to re-read (after a replace). */
  changed(name: string): void {
    this.emitter.fire(unitUri(name));
    this.emitter.fire(statusUri(name));
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const api = this.model.currentApi;
    if (uri.scheme === STATUS_SCHEME) {
      const machineId = new URLSearchParams(uri.query).get('machine') ?? undefined;
      const name = uri.path.replace(/^\//, '').replace(/\.status$/, '');
      const [remote, registry] = await Promise.all([this.remoteStatus(name, machineId), this.status(name)]);
      return remote + registry;
    }
    const name = uri.path.replace(/^\//, '');
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
      `  Current state: ${row.global ? '(global unit)' : row.currentState ?? 'inactive'}`,
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

/** Opens the registry copy of a unit read-only, with fleet-unit highlighting. */
export async function showUnitFile(name: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(unitUri(name));
  await vscode.languages.setTextDocumentLanguage(doc, 'fleet-unit');
  await vscode.window.showTextDocument(doc, { preview: true });
}

export async function showUnitStatus(name: string, machineId?: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(statusUri(name, machineId));
  await vscode.window.showTextDocument(doc, { preview: true });
}
