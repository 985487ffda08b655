/**
 * The two pictures: Fleet: Show Cluster Map (Machines view title) and Fleet: Show Unit Graph
 * (editor title of unit files), with their WebviewPanelSerializers so a reload restores them.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { ClusterModel } from '../cluster/clusterModel';
import type { ClusterTreeProvider } from '../cluster/clusterTree';
import type { ClusterNode } from '../cluster/treeItems';
import { ClusterMapPanel, CLUSTER_MAP_VIEW, type ClusterMapDeps, type ClusterMapState } from './clusterMapPanel';
import { UnitGraphPanel, UNIT_GRAPH_VIEW, type UnitGraphDeps, type UnitGraphState } from './unitGraphPanel';
import type { MenuItem } from './webviewParts';
import type { Log } from '../../../protocol/src/log';

export const MapCommands = {
  showClusterMap: 'fleet.showClusterMap',
  showUnitGraph: 'fleet.showUnitGraph',
} as const;

export function registerMaps(deps: {
  context: vscode.ExtensionContext;
  model: ClusterModel;
  unitsView: vscode.TreeView<ClusterNode>;
  unitsProvider: ClusterTreeProvider;
  languageClient: () => LanguageClient | undefined;
  log: vscode.LogOutputChannel;
}): vscode.Disposable {
  const extension = deps.context.extension.packageJSON as {
    contributes?: { menus?: Record<string, MenuItem[]>; commands?: { command: string; title: string }[] };
  };
  const titles = new Map((extension.contributes?.commands ?? []).map(c => [c.command, c.title]));
  const log: Log = (level, message) => deps.log[level](message);
  const mapDeps: ClusterMapDeps = {
    extensionUri: deps.context.extensionUri,
    model: deps.model,
    unitsView: deps.unitsView,
    unitsProvider: deps.unitsProvider,
    menu: extension.contributes?.menus?.['view/item/context'] ?? [],
    titles,
    log,
  };
  const graphDeps: UnitGraphDeps = { extensionUri: deps.context.extensionUri, languageClient: deps.languageClient, log };
  const unitNameOf = (arg: unknown): string | undefined => {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    return uri?.path.split('/').pop();
  };
  return vscode.Disposable.from(
    vscode.commands.registerCommand(MapCommands.showClusterMap, () => void ClusterMapPanel.show(mapDeps)),
    vscode.commands.registerCommand(MapCommands.showUnitGraph, (arg: unknown) => void UnitGraphPanel.show(graphDeps, unitNameOf(arg))),
    vscode.window.registerWebviewPanelSerializer(CLUSTER_MAP_VIEW, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        ClusterMapPanel.current?.dispose();
        new ClusterMapPanel(panel, mapDeps, (state ?? {}) as ClusterMapState);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(UNIT_GRAPH_VIEW, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        UnitGraphPanel.current?.dispose();
        new UnitGraphPanel(panel, graphDeps, (state ?? {}) as UnitGraphState);
      },
    }),
    // When the extension goes (a reload, a shutdown) the panels stay: VS Code keeps them for the
    // serializers to revive. Closing them here would race the window saving its layout.
    {
      dispose: () => {
        ClusterMapPanel.current?.detach();
        UnitGraphPanel.current?.detach();
      },
    },
  );
}
