/** Registers every cluster UI command; each handler reads its targets and delegates. */
import * as vscode from 'vscode';
import type { ClusterModel } from '../cluster/clusterModel';
import type { ClusterConnections } from '../cluster/connections';
import type { JournalFollower } from '../cluster/journal';
import { clusterTitle } from '../cluster/clusterName';
import { openMachineTerminal } from '../cluster/machineTerminal';
import type { RemoteAccess } from '../cluster/remoteAccess';
import { GROUP_BY_VALUES, SORT_BY_VALUES, type ClusterNode } from '../cluster/treeItems';
import { showUnitFile, showUnitStatus } from '../cluster/unitDocuments';
import type { DeployController } from '../deploy/deployController';
import { createTemplateInstances, startMatching } from '../deploy/templateFlows';
import type { LocalClusterManager } from '../localCluster/localClusterManager';
import { addCluster, editCluster, selectCluster } from '../status/clusterPicker';
import { Commands } from '../identifiers';
import { openSampleUnits } from './samples';
import { resolveTargets } from './targets';
import { errorMessage, errorStack } from '../../../protocol/src/log';

export interface CommandDeps {
  context: vscode.ExtensionContext;
  model: ClusterModel;
  connections: ClusterConnections;
  deploy: DeployController;
  local: LocalClusterManager;
  journals: JournalFollower;
  remote: RemoteAccess;
  log: vscode.LogOutputChannel;
}

/** Open Shell on Machine from the palette: pick one of the cluster's machines. */
async function pickMachine(model: ClusterModel): Promise<string | undefined> {
  await model.refresh();
  const view = model.view;
  if (view.kind !== 'connected') throw new Error('Not connected to a fleet cluster; run "Fleet: Select Cluster" first.');
  if (view.snapshot.machines.length === 0) throw new Error(`No machines have joined ${view.label}.`);
  const pick = await vscode.window.showQuickPick(
    view.snapshot.machines.map(m => ({
      label: m.id.slice(0, 8),
      description: m.primaryIP ?? '(no PublicIP)',
      detail: Object.entries(m.metadata ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
      id: m.id,
    })),
    { title: 'Fleet: Open Shell on Machine', placeHolder: 'The machine to open a shell on' },
  );
  return pick?.id;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable {
  const { model, connections, deploy, local, journals, remote } = deps;
  const guard =
    (id: string, fn: (...args: unknown[]) => unknown) =>
    async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        deps.log.error(`${id}: ${errorStack(err)}`);
        void vscode.window.showErrorMessage(errorMessage(err));
        return undefined;
      }
    };
  const table: Record<string, (...args: unknown[]) => unknown> = {
    [Commands.refreshCluster]: () => model.refresh(),
    [Commands.selectCluster]: () => selectCluster(connections),
    [Commands.addCluster]: () => addCluster(connections, (level, message) => deps.log[level](`[ssh] ${message}`)),
    [Commands.retryConnection]: () => connections.retry(),
    // The welcome views pass { active: true }: edit the active cluster's profile.
    [Commands.editCluster]: (a: unknown) => {
      const name =
        typeof a === 'string' ? a : a && typeof a === 'object' && (a as { active?: unknown }).active === true ? connections.activeCluster?.name : undefined;
      return editCluster(connections, name, (level, message) => deps.log[level](`[ssh] ${message}`));
    },
    [Commands.setExplorerGrouping]: async () => {
      const pick = await vscode.window.showQuickPick(
        GROUP_BY_VALUES.map(v => ({ label: v === 'machine' ? 'By machine' : v === 'state' ? 'By state' : 'Flat list', value: v })),
        { title: 'Fleet: Group Units' },
      );
      if (pick) await vscode.workspace.getConfiguration('fleet').update('explorer.groupBy', pick.value, vscode.ConfigurationTarget.Global);
    },
    [Commands.setExplorerSorting]: async () => {
      const pick = await vscode.window.showQuickPick(
        SORT_BY_VALUES.map(v => ({ label: v === 'name' ? 'By name' : v === 'state' ? 'By state (problems first)' : 'By machine', value: v })),
        { title: 'Fleet: Sort Units' },
      );
      if (pick) await vscode.workspace.getConfiguration('fleet').update('explorer.sortBy', pick.value, vscode.ConfigurationTarget.Global);
    },
    [Commands.submitUnit]: (a, s) => deploy.command('submit', a, s),
    [Commands.loadUnit]: (a, s) => deploy.command('load', a, s),
    [Commands.startUnit]: (a, s) => deploy.command('start', a, s),
    [Commands.stopUnit]: (a, s) => deploy.command('stop', a, s),
    [Commands.unloadUnit]: (a, s) => deploy.command('unload', a, s),
    [Commands.destroyUnit]: (a, s) => deploy.command('destroy', a, s),
    [Commands.replaceUnit]: (a, s) => deploy.replace(a, s),
    [Commands.startUnitsMatching]: (a, s) => startMatching(deploy, a, s),
    [Commands.createTemplateInstances]: (a, s) => createTemplateInstances(deploy, a, s),
    [Commands.showUnitFile]: async (a, s) => {
      for (const t of (await resolveTargets(model, 'Fleet: Show Unit File', a, s)) ?? [])
        await showUnitFile(t.name, clusterTitle(connections.activeCluster?.name, model.currentApi?.label));
    },
    [Commands.showUnitStatus]: async (a, s) => {
      for (const t of (await resolveTargets(model, 'Fleet: Show Unit Status', a, s)) ?? []) await showUnitStatus(t.name, t.machineId);
    },
    [Commands.showUnitJournal]: async (a, s) => {
      const api = model.currentApi;
      if (!api) return void vscode.window.showErrorMessage('Not connected to a fleet cluster; run "Fleet: Select Cluster" first.');
      const targets = (await resolveTargets(model, 'Fleet: Show Journal', a, s)) ?? [];
      for (const t of targets) void journals.follow(api, t.name, t.machineId);
    },
    [Commands.copyMachineId]: async a => {
      const node = a as ClusterNode | undefined;
      const id =
        node?.kind === 'machine' ? node.machine.id : node?.kind === 'unit' ? node.row.machineId : node?.kind === 'unitState' ? node.state.machineID : undefined;
      if (!id) return void vscode.window.showInformationMessage('Select a machine (or a scheduled unit) in the Fleet explorer to copy its machine ID.');
      await vscode.env.clipboard.writeText(id);
      vscode.window.setStatusBarMessage(`Copied machine ID ${id}`, 3000);
    },
    [Commands.openMachineShell]: async a => {
      const node = a as ClusterNode | undefined;
      let target;
      if (node?.kind === 'machine') target = await remote.machine(node.machine.id);
      else if (node?.kind === 'unit' || node?.kind === 'unitState') {
        const machineId = node.kind === 'unitState' ? node.state.machineID : node.row.machineId;
        target = await remote.target(node.row.name, 'shell', machineId);
      } else {
        const id = await pickMachine(model);
        if (!id) return;
        target = await remote.machine(id);
      }
      openMachineTerminal(remote, target);
    },
    [Commands.removeMachine]: async a => {
      const node = a as ClusterNode | undefined;
      if (node?.kind !== 'machine')
        return void vscode.window.showInformationMessage('Right-click a machine of the local cluster in the Machines view to remove it.');
      const active = connections.activeCluster;
      if (active?.source !== 'local')
        throw new Error(
          `Remove Machine works on the local cluster only; the explorer shows ${active?.name ?? 'no cluster'} (a fleet machine leaves its cluster when its fleetd stops).`,
        );
      if (await local.removeMachine(node.machine)) await model.refresh();
    },
    [Commands.startLocalCluster]: a => local.start(a && typeof a === 'object' ? (a as { machines?: number; metadata?: string[]; quiet?: boolean }) : undefined),
    [Commands.stopLocalCluster]: () => local.stop(),
    [Commands.showLocalClusterLogs]: () => local.showLogs(),
    [Commands.openSampleUnits]: () => openSampleUnits(deps.context),
  };
  const disposables = Object.entries(table).map(([id, fn]) => vscode.commands.registerCommand(id, guard(id, fn)));
  return vscode.Disposable.from(...disposables);
}
