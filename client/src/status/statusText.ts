/** What the status bar says for a cluster and its connection state. Pure; no `vscode` import. */
import type { ConnectionView } from '../cluster/treeItems';
import { escapeMarkdown } from '../cluster/treeItems';

export interface StatusText {
  text: string;
  /** Markdown. */
  tooltip: string;
  warning: boolean;
}

export function statusText(clusterName: string | undefined, view: ConnectionView): StatusText {
  if (!clusterName || view.kind === 'disconnected') {
    return { text: '$(server-environment) Fleet: no cluster', tooltip: 'No fleet cluster selected. Click to select or add one.', warning: false };
  }
  const name = escapeMarkdown(clusterName);
  switch (view.kind) {
    case 'loading':
      return { text: `$(loading~spin) Fleet: ${clusterName}`, tooltip: `Connecting to **${name}** (${escapeMarkdown(view.label)})…`, warning: false };
    case 'error':
      return {
        text: `$(debug-disconnect) Fleet: ${clusterName} unreachable`,
        tooltip: `**${name}** is unreachable: ${escapeMarkdown(view.error)}\n\nClick to select another cluster.`,
        warning: true,
      };
    case 'connected': {
      const m = view.snapshot.machines.length;
      const u = view.snapshot.units.length;
      const counts = `${m} machine${m === 1 ? '' : 's'}, ${u} unit${u === 1 ? '' : 's'}`;
      if (view.error) {
        return {
          text: `$(debug-disconnect) Fleet: ${clusterName} unreachable`,
          tooltip: `**${name}** stopped answering: ${escapeMarkdown(view.error)}\n\nLast snapshot: ${counts}.`,
          warning: true,
        };
      }
      return {
        text: `$(server-environment) Fleet: ${clusterName} (${m}/${u})`,
        tooltip: `**${name}** is reachable: ${counts}.\n\nClick to select another cluster.`,
        warning: false,
      };
    }
  }
}
