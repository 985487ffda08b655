/**
 * Fleet: Open Sample Units (the walkthrough's first step): copies the seed scenario — three
 * nginx units that conflict with each other, a sidekick with MachineOf, a Global unit and a
 * template — into `fleet-samples/` of the first workspace folder (or opens them from the
 * extension when no folder is open) and shows them.
 */
import * as vscode from 'vscode';
import fs from 'node:fs';
import path from 'node:path';

export const SAMPLE_UNITS = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-announce.1.service', 'monitor.service', 'web@.service'];

export async function openSampleUnits(context: vscode.ExtensionContext): Promise<void> {
  const source = path.join(context.extensionPath, 'media', 'samples');
  const folder = vscode.workspace.workspaceFolders?.[0];
  let dir = source;
  if (folder && folder.uri.scheme === 'file') {
    dir = path.join(folder.uri.fsPath, 'fleet-samples');
    fs.mkdirSync(dir, { recursive: true });
    for (const name of SAMPLE_UNITS) {
      const target = path.join(dir, name);
      if (!fs.existsSync(target)) fs.copyFileSync(path.join(source, name), target);
    }
  }
  for (const [i, name] of SAMPLE_UNITS.entries()) {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(dir, name)));
    await vscode.window.showTextDocument(doc, { preview: false, preserveFocus: i > 0 });
  }
  await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(path.join(dir, SAMPLE_UNITS[0]!))).then(undefined, () => undefined);
  void vscode.window
    .showInformationMessage(
      folder
        ? `Sample units written to ${path.relative(folder.uri.fsPath, dir)}/. Start the local cluster, then start them.`
        : 'Sample units opened from the extension (open a folder to get editable copies).',
      'Start Local Cluster',
    )
    .then(c => c && vscode.commands.executeCommand('fleet.startLocalCluster'));
}
