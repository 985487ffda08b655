/** "Fleet: Select Cluster", "Fleet: Add Cluster" and "Fleet: Edit Cluster" (the wizard: connection/clusterWizardFlow.ts). */
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { runClusterWizard, testClusterEntry, type PickItem, type WizardDeps, type WizardUi } from '../connection/clusterWizardFlow';
import type { ClusterConnections } from '../cluster/connections';
import { confirmHostKey } from '../hostKeyPrompt';
import { Commands } from '../identifiers';
import type { Log } from '../../../protocol/src/log';

export async function selectCluster(connections: ClusterConnections): Promise<void> {
  type Item = vscode.QuickPickItem & { action: 'select' | 'add' | 'edit' | 'local'; name?: string };
  const active = connections.activeCluster?.name;
  const items: Item[] = connections.list().map(c => ({
    label: `${c.name === active ? '$(check) ' : ''}${c.name}`,
    description: c.source === 'environment' ? 'from FLEETCTL_* environment' : c.source === 'local' ? 'local test cluster' : '',
    detail: c.detail,
    action: 'select',
    name: c.name,
  }));
  items.push({ label: '$(add) Add Cluster…', action: 'add' });
  if (connections.list().some(c => c.source === 'settings')) items.push({ label: '$(edit) Edit Cluster…', action: 'edit' });
  if (!connections.localUrl) items.push({ label: '$(play) Start Local Cluster…', action: 'local' });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Fleet: Select Cluster',
    placeHolder: 'The cluster the explorer shows and deploy commands use',
    matchOnDetail: true,
  });
  if (!pick) return;
  if (pick.action === 'add') return void (await vscode.commands.executeCommand(Commands.addCluster));
  if (pick.action === 'edit') return void (await vscode.commands.executeCommand(Commands.editCluster));
  if (pick.action === 'local') return void (await vscode.commands.executeCommand(Commands.startLocalCluster));
  await connections.select(pick.name!, true);
}

/** The wizard's UI: input boxes, quick picks, a file dialog, a progress notification. */
function wizardUi(title: string): WizardUi {
  return {
    input: async o =>
      vscode.window.showInputBox({
        title: `${title} (${o.step})`,
        prompt: o.prompt,
        value: o.value,
        placeHolder: o.placeholder ?? '',
        ignoreFocusOut: true,
        validateInput: v => o.validate(v),
      }),
    pick: async <T>(o: { step: string; placeholder: string; items: PickItem<T>[]; active?: T }) => {
      // The current answer first, so Enter keeps it.
      const items = [...o.items].sort((a, b) => Number(b.value === o.active) - Number(a.value === o.active));
      const pick = await vscode.window.showQuickPick(items, {
        title: `${title} (${o.step})`,
        placeHolder: o.placeholder ?? '',
        ignoreFocusOut: true,
        matchOnDetail: true,
      });
      return pick?.value;
    },
    pickFile: async o => {
      const sshDir = path.join(os.homedir(), '.ssh');
      const files = await vscode.window.showOpenDialog({
        title: `${title} (${o.step}): your private SSH key`,
        openLabel: 'Use this key',
        canSelectFiles: true,
        canSelectFolders: false,
        canSelectMany: false,
        defaultUri: vscode.Uri.file(o.current ?? sshDir),
      });
      return files?.[0]?.fsPath;
    },
    progress: (message, task) => Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: message }, task)),
    ask: async o =>
      o.kind === 'info' ? vscode.window.showInformationMessage(o.message, ...o.buttons) : vscode.window.showErrorMessage(o.message, ...o.buttons),
  };
}

function wizardDeps(connections: ClusterConnections, title: string, log?: Log): WizardDeps {
  const config = vscode.workspace.getConfiguration('fleet');
  const raw = config.get<unknown[]>('clusters', []);
  return {
    ui: wizardUi(title),
    env: process.env,
    clusters: Array.isArray(raw) ? raw : [],
    takenNames: connections.list().map(c => c.name),
    test: entry =>
      testClusterEntry(entry, process.env, {
        confirmUnknownHost: (host, fingerprint, _keyType, notes) =>
          confirmHostKey(host, fingerprint, typeof entry['knownHostsFile'] === 'string' ? entry['knownHostsFile'] : '~/.fleetctl/known_hosts', notes),
        ...(log ? { log } : {}),
      }),
    save: async (list, renamed) => {
      await config.update('clusters', list, vscode.ConfigurationTarget.Global);
      // Renaming the active profile keeps it active; nothing else changes the active cluster here.
      if (renamed && config.get<string>('activeCluster') === renamed.from) await config.update('activeCluster', renamed.to, vscode.ConfigurationTarget.Global);
    },
    connect: name => connections.select(name, true),
  };
}

/** "Fleet: Add Cluster": the wizard; the active cluster changes only on "Connect now". */
export async function addCluster(connections: ClusterConnections, log?: Log): Promise<void> {
  await runClusterWizard(wizardDeps(connections, 'Fleet: Add Cluster', log));
}

/** "Fleet: Edit Cluster": the wizard again, starting from a `fleet.clusters` profile's values. */
export async function editCluster(connections: ClusterConnections, name?: string, log?: Log): Promise<void> {
  const raw = vscode.workspace.getConfiguration('fleet').get<unknown[]>('clusters', []);
  const entries = (Array.isArray(raw) ? raw : []).filter(
    (e): e is Record<string, unknown> => typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>)['name'] === 'string',
  );
  if (entries.length === 0) {
    const add = 'Add Cluster';
    if ((await vscode.window.showInformationMessage('There are no cluster profiles in fleet.clusters to edit.', add)) === add)
      await addCluster(connections, log);
    return;
  }
  let entry = name ? entries.find(e => e['name'] === name) : undefined;
  if (!entry) {
    const pick = await vscode.window.showQuickPick(
      entries.map(e => ({ label: e['name'] as string, description: [e['tunnel'], e['endpoint']].filter(Boolean).join(' → '), entry: e })),
      { title: 'Fleet: Edit Cluster', placeHolder: 'The cluster profile to edit' },
    );
    if (!pick) return;
    entry = pick.entry;
  }
  await runClusterWizard(wizardDeps(connections, `Fleet: Edit Cluster ${entry['name'] as string}`, log), { name: entry['name'] as string, entry });
}
