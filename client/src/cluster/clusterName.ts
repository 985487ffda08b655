/**
 * How the UI names the active cluster in titles and sentences: by its profile's name, the local
 * cluster as such, the API's label (its URL) only when there is no name. Pure; no `vscode` import.
 */

/** The entry name of the local cluster in Select Cluster and the status bar. */
export const LOCAL_CLUSTER_NAME = 'Local cluster';

/** For a tab or a title: `local cluster`, `prod`, else the API's label. */
export function clusterTitle(name: string | undefined, label: string | undefined): string {
  if (name === LOCAL_CLUSTER_NAME) return 'local cluster';
  return name || label || 'the cluster';
}

/** Inside a sentence: `the local cluster`, `prod`, else the API's label. */
export function clusterPhrase(name: string | undefined, label: string | undefined): string {
  return name === LOCAL_CLUSTER_NAME ? 'the local cluster' : clusterTitle(name, label);
}

/** `nginx.1.service (local cluster)`: the title of a registry copy's tab. */
export function registryCopyTitle(unit: string, cluster: string): string {
  return `${unit} (${cluster})`;
}

/** The unit name in a registry copy's title (`nginx.1.service (prod)` → `nginx.1.service`). */
export function unitOfTitle(title: string): string {
  return title.replace(/ \([^/]*\)$/, '');
}
