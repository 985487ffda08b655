/**
 * The question an unknown SSH host key asks the user (fleetctl asks the same on its terminal).
 * At the client's root: the connections, the wizard and the remote commands all ask it.
 */
import * as vscode from 'vscode';

/**
 * Trust on first use for SSH tunnels: the connection module calls this with an unknown host's
 * key fingerprint; true means "remember it in the known_hosts file and continue".
 */
export async function confirmHostKey(host: string, fingerprint: string, knownHostsFile: string, notes: readonly string[] = []): Promise<boolean> {
  const trust = 'Trust and Connect';
  const noted = notes.length > 0 ? `\n\nNote: ${notes.join('\nNote: ')}` : '';
  const choice = await vscode.window.showWarningMessage(
    `The authenticity of host ${host} can't be established.`,
    {
      modal: true,
      detail: `Its key fingerprint is ${fingerprint}.${noted}\n\nIf you trust this host, it is added to ${knownHostsFile} and you are not asked again.`,
    },
    trust,
  );
  return choice === trust;
}
