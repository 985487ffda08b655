/** "Fleet: Select Cluster" and "Fleet: Add Cluster". */
import * as vscode from 'vscode';
import { parseEndpoint, parseTunnel } from '../connection/profile';
import type { ClusterConnections } from '../cluster/connections';
import { Commands } from '../commands/commandIds';

export async function selectCluster(connections: ClusterConnections): Promise<void> {
  type Item = vscode.QuickPickItem & { action: 'select' | 'add' | 'local'; name?: string };
  const active = connections.activeCluster?.name;
  const items: Item[] = connections.list().map(c => ({
    label: `${c.name === active ? '$(check) ' : ''}${c.name}`,
    description: c.source === 'environment' ? 'from FLEETCTL_* environment' : c.source === 'local' ? 'local test cluster' : undefined,
    detail: c.detail,
    action: 'select',
    name: c.name,
  }));
  items.push({ label: '$(add) Add Cluster…', action: 'add' });
  if (!connections.localUrl) items.push({ label: '$(play) Start Local Cluster…', action: 'local' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Fleet: Select Cluster', placeHolder: 'The cluster the explorer shows and deploy commands use', matchOnDetail: true });
  if (!pick) return;
  if (pick.action === 'add') return void (await vscode.commands.executeCommand(Commands.addCluster));
  if (pick.action === 'local') return void (await vscode.commands.executeCommand(Commands.startLocalCluster));
  await connections.select(pick.name!, true);
}

export async function addCluster(connections: ClusterConnections): Promise<void> {
  const config = vscode.workspace.getConfiguration('fleet');
  const existing = config.get<unknown[]>('clusters', []);
  const names = new Set(connections.list().map(c => c.name));
  const name = await vscode.window.showInputBox({
    title: 'Fleet: Add Cluster (1/3)',
    prompt: 'A name for the cluster',
    placeHolder: 'production',
    validateInput: v => (v.trim() === '' ? 'Enter a name.' : names.has(v.trim()) ? `A cluster named "${v.trim()}" already exists; choose another name.` : undefined),
  });
  if (name === undefined) return;
  const endpoint = await vscode.window.showInputBox({
    title: 'Fleet: Add Cluster (2/3)',
    prompt: 'The fleet API endpoint (as fleetctl --endpoint)',
    value: 'unix:///var/run/fleet.sock',
    validateInput: v => {
      const r = parseEndpoint(v);
      return 'error' in r ? r.error : r.warning;
    },
  });
  if (endpoint === undefined) return;
  const tunnel = await vscode.window.showInputBox({
    title: 'Fleet: Add Cluster (3/3)',
    prompt: 'SSH tunnel host[:port] (as fleetctl --tunnel); leave empty to connect directly',
    placeHolder: 'bastion.example.com:22',
    validateInput: v => {
      if (v.trim() === '') return undefined;
      const r = parseTunnel(v);
      return 'error' in r ? r.error : undefined;
    },
  });
  if (tunnel === undefined) return;
  const entry: Record<string, string> = { name: name.trim(), endpoint: endpoint.trim() };
  if (tunnel.trim()) entry['tunnel'] = tunnel.trim();
  await config.update('clusters', [...(Array.isArray(existing) ? existing : []), entry], vscode.ConfigurationTarget.Global);
  await connections.select(entry['name']!, true);
}

/**
 * Trust on first use for SSH tunnels: the connection module calls this with an unknown host's
 * key fingerprint; true means "remember it in the known_hosts file and continue".
 */
export async function confirmHostKey(host: string, fingerprint: string, knownHostsFile: string, notes: readonly string[] = []): Promise<boolean> {
  const trust = 'Trust and Connect';
  const noted = notes.length > 0 ? `\n\nNote: ${notes.join('\nNote: ')}` : '';
  const choice = await vscode.window.showWarningMessage(
    `The authenticity of host ${host} can't be established.`,
    { modal: true, detail: `Its key fingerprint is ${fingerprint}.${noted}\n\nIf you trust this host, it is added to ${knownHostsFile} and you are not asked again.` },
    trust,
  );
  return choice === trust;
}
