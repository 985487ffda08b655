/** The status bar item: the active cluster and its health; click to switch clusters. */
import * as vscode from 'vscode';
import type { ClusterModel } from '../cluster/clusterModel';
import type { ClusterConnections } from '../cluster/connections';
import { Commands } from '../identifiers';
import { statusText } from './statusText';

export class ClusterStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('fleet.cluster', vscode.StatusBarAlignment.Left, 10);
  private readonly disposables: { dispose(): void }[] = [];

  constructor(
    private readonly model: ClusterModel,
    private readonly connections: ClusterConnections,
  ) {
    this.item.name = 'Fleet Cluster';
    this.item.command = Commands.selectCluster;
    this.disposables.push(
      model.onDidChange(() => this.update()),
      connections.onDidChange(() => this.update()),
    );
    this.update();
    this.item.show();
  }

  update(): void {
    const text = statusText(this.connections.activeCluster?.name, this.model.view);
    this.item.text = text.text;
    this.item.tooltip = new vscode.MarkdownString(text.tooltip, true);
    this.item.backgroundColor = text.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.item.dispose();
  }
}
