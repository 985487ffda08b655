/**
 * Which cluster the explorer shows: the profiles from `fleet.clusters` and the FLEETCTL_*
 * environment (resolved by connection/profile.ts), plus the local test cluster while it runs.
 * The active one is `fleet.activeCluster` (or the local cluster right after it started); this
 * class opens its FleetApi and hands it to the ClusterModel, disposing the previous one.
 */
import * as vscode from 'vscode';
import { HttpFleetApi } from '../api/fleetApi';
import type { FleetApi } from '../api/types';
import { MutableDisposable } from '../dispose';
import { createFleetApi } from '../connection/connect';
import { describeProfile, FLEETCTL_ENV, resolveProfiles, type ClusterProfile } from '../connection/profile';
import { confirmHostKey } from '../hostKeyPrompt';
import type { ClusterModel } from './clusterModel';
import { LOCAL_CLUSTER_NAME } from './clusterName';
import { errorMessage } from '../../../protocol/src/log';

export { LOCAL_CLUSTER_NAME };

export interface ClusterEntry {
  name: string;
  /** For pickers: the endpoint (and tunnel). */
  detail: string;
  source: 'settings' | 'environment' | 'local';
  profile?: ClusterProfile;
  /** The local cluster's API URL. */
  url?: string;
}

/** Opens a FleetApi for a profile (the connection module's tunnel support plugs in here). */
export type ApiOpener = (profile: ClusterProfile) => Promise<FleetApi>;

/** The default opener: the connection module's createFleetApi, with the trust-on-first-use prompt. */
export function defaultApiOpener(log: vscode.LogOutputChannel): ApiOpener {
  return async profile =>
    createFleetApi(profile, {
      confirmUnknownHost: (host, fingerprint, _keyType, notes) => confirmHostKey(host, fingerprint, profile.knownHostsFile, notes),
      log: (level, message) => log[level](`ssh: ${message}`),
    });
}

export class ClusterConnections implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  /** Fires when the list of clusters or the active one changed. */
  readonly onDidChange = this.emitter.event;
  private local: { url: string } | undefined;
  private activeName: string | undefined;
  /** The active cluster was connected to because the local cluster stopped, not chosen by the user. */
  private fallback = false;
  /** The connection-lifetime API: replacing it disposes the previous one. */
  private readonly api = new MutableDisposable<FleetApi>();
  private opening = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private problemsShown = new Set<string>();

  constructor(
    private readonly model: ClusterModel,
    private readonly log: vscode.LogOutputChannel,
    private readonly openApi: ApiOpener = defaultApiOpener(log),
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration(e => {
        if (e.affectsConfiguration('fleet.activeCluster')) {
          this.cached = undefined;
          void this.connect(vscode.workspace.getConfiguration('fleet').get<string>('activeCluster') || undefined);
        } else if (e.affectsConfiguration('fleet.clusters')) {
          this.cached = undefined;
          void this.reconnect();
        }
      }),
    );
  }

  get activeCluster(): ClusterEntry | undefined {
    return this.list().find(c => c.name === this.activeName);
  }

  /** True while the active cluster is the one connected to after the local cluster stopped (the user chose no other since). */
  get isFallback(): boolean {
    return this.fallback;
  }

  /** Retry (the welcome views' button): read the active cluster now, or open it again when it could not be opened. */
  async retry(): Promise<void> {
    if (this.model.currentApi) return this.model.refresh();
    await this.connect(this.activeName);
  }

  get localUrl(): string | undefined {
    return this.local?.url;
  }

  private cached: ClusterEntry[] | undefined;

  /** The clusters to choose from (cached until the settings or the local cluster change). */
  list(): ClusterEntry[] {
    this.cached ??= this.resolve();
    return this.cached;
  }

  private resolve(): ClusterEntry[] {
    const config = vscode.workspace.getConfiguration('fleet');
    const raw = config.get<unknown[]>('clusters', []);
    const { profiles, problems } = resolveProfiles(Array.isArray(raw) ? raw : [], process.env);
    for (const p of problems) {
      const text = `fleet.clusters: ${p.profile}${p.field ? ` (${p.field})` : ''}: ${p.message}`;
      if (this.problemsShown.has(text)) continue;
      this.problemsShown.add(text);
      this.log[p.severity === 'error' ? 'error' : 'warn'](text);
      if (p.severity === 'error')
        void vscode.window.showWarningMessage(text, 'Open Settings').then(choice => {
          if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'fleet.clusters');
        });
    }
    // A profile that points at the running local cluster is that cluster: listed once, as the local cluster.
    const sameAsLocal = (p: ClusterProfile) =>
      !!this.local && p.driver === 'api' && !p.tunnel && p.endpoint.replace(/\/+$/, '') === this.local.url.replace(/\/+$/, '');
    const entries: ClusterEntry[] = profiles
      .filter(p => !sameAsLocal(p))
      .map(profile => ({ name: profile.name, detail: describeProfile(profile), source: profile.source, profile }));
    if (this.local) entries.unshift({ name: LOCAL_CLUSTER_NAME, detail: this.local.url, source: 'local', url: this.local.url });
    return entries;
  }

  /** Connects to the configured active cluster (`fleet.activeCluster`, else the local one, else the first profile). */
  async connect(name?: string): Promise<void> {
    this.fallback = false;
    const entries = this.list();
    const wanted =
      name ??
      (this.activeName && entries.some(e => e.name === this.activeName) ? this.activeName : undefined) ??
      vscode.workspace.getConfiguration('fleet').get<string>('activeCluster') ??
      undefined;
    let entry = entries.find(e => e.name === wanted) ?? entries.find(e => e.source === 'local') ?? entries[0];
    // With nothing configured, resolveProfiles still offers fleetctl's default (unix:///var/run/fleet.sock).
    // Connect to it only when asked to: otherwise the views show their welcome (select, add, start local).
    if (entry && entry.name !== wanted && entry.source === 'environment' && !FLEETCTL_ENV.some(key => (process.env[key] ?? '') !== '')) entry = undefined;
    await this.activate(entry);
  }

  /**
   * After `fleet.clusters` changed: the active cluster again (its profile may have changed), and
   * never a different one unasked. With none active (e.g. a profile saved without connecting),
   * the views keep their welcome.
   */
  private async reconnect(): Promise<void> {
    const wanted = this.activeName ?? (vscode.workspace.getConfiguration('fleet').get<string>('activeCluster') || undefined);
    if (!wanted) {
      this.emitter.fire();
      return;
    }
    await this.connect(wanted);
  }

  /** Makes a cluster active; `persist` also writes `fleet.activeCluster` (user settings). */
  async select(name: string, persist: boolean): Promise<void> {
    if (persist && name !== LOCAL_CLUSTER_NAME) {
      await vscode.workspace.getConfiguration('fleet').update('activeCluster', name, vscode.ConfigurationTarget.Global);
    }
    await this.connect(name);
  }

  async setLocalCluster(url: string | undefined): Promise<void> {
    this.local = url ? { url } : undefined;
    this.cached = undefined;
    if (url) await this.connect(LOCAL_CLUSTER_NAME);
    else if (this.activeName === LOCAL_CLUSTER_NAME) {
      this.activeName = undefined;
      await this.connect();
      // If this one cannot be read, the views say "not connected" (Start Local Cluster), not its error.
      this.fallback = this.activeName !== undefined;
      this.emitter.fire();
    } else this.emitter.fire();
  }

  private async activate(entry: ClusterEntry | undefined): Promise<void> {
    const ticket = ++this.opening;
    let api: FleetApi | undefined;
    let failure: unknown;
    if (entry) {
      try {
        api =
          entry.source === 'local'
            ? new HttpFleetApi({ endpoint: entry.url!, label: `${LOCAL_CLUSTER_NAME} (${entry.url})`, requestTimeoutMs: 5000 })
            : await this.openApi(entry.profile!);
      } catch (err) {
        failure = err;
        this.log.error(`${errorMessage(err)}`);
      }
    }
    if (ticket !== this.opening) {
      api?.dispose();
      return;
    }
    // A cluster that could not be opened stays the active one: the views show why, with Retry and Edit Cluster.
    this.activeName = api || failure !== undefined ? entry?.name : undefined;
    if (failure !== undefined && entry) this.model.setUnopened(entry.detail, failure);
    else this.model.setApi(api);
    this.api.value = api; // after the model let go of the previous one
    if (api) this.log.info(`Fleet explorer connected to ${entry!.name} (${entry!.detail})`);
    this.emitter.fire();
  }

  dispose(): void {
    this.opening++;
    this.api.dispose();
    for (const d of this.disposables) d.dispose();
    this.emitter.dispose();
  }
}
