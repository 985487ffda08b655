/**
 * How a running `fleetd local` can be found by an editor that did not start it (`npm start`
 * starts one before VS Code): at ready it writes one record `<pid>.json` into a per-user
 * directory, and removes it when it stops. The extension adopts such a cluster (connects, and its
 * Stop and Show Logs commands work on it) instead of starting a second one.
 */

/** The record `fleetd local` writes. */
export interface LocalClusterRecord {
  /** The `fleetd local` process (its process group leader when started with setsid/detached). */
  pid: number;
  /** fleet's v1 API. */
  url: string;
  /** The cluster's etcd, when it runs on one. */
  etcd?: string;
  machines: number;
  stateDir: string;
  /** Where its output goes, when that is a file (`npm start` redirects it to one). */
  logFile?: string;
  /** Epoch ms. */
  startedAt: number;
}

/**
 * The directory of the records: `$FLEETD_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/fleetd`, else
 * `~/.cache/fleetd/run`. Pure (the caller passes the environment and the home directory).
 */
export function localClusterDir(env: Readonly<Record<string, string | undefined>>, home: string): string {
  if (env['FLEETD_RUNTIME_DIR']) return env['FLEETD_RUNTIME_DIR'];
  if (env['XDG_RUNTIME_DIR']) return `${env['XDG_RUNTIME_DIR'].replace(/\/+$/, '')}/fleetd`;
  return `${home.replace(/\/+$/, '')}/.cache/fleetd/run`;
}

/** A record as read from disk, or undefined when it is not one. */
export function parseLocalClusterRecord(text: string): LocalClusterRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = v as Partial<LocalClusterRecord> | null;
  if (!r || typeof r !== 'object' || !Number.isInteger(r.pid) || (r.pid as number) <= 1 || typeof r.url !== 'string' || !/^(http|unix):\/\//.test(r.url))
    return undefined;
  const out: LocalClusterRecord = {
    pid: r.pid!,
    url: r.url,
    machines: typeof r.machines === 'number' ? r.machines : 0,
    stateDir: typeof r.stateDir === 'string' ? r.stateDir : '',
    startedAt: typeof r.startedAt === 'number' ? r.startedAt : 0,
  };
  if (typeof r.etcd === 'string') out.etcd = r.etcd;
  if (typeof r.logFile === 'string') out.logFile = r.logFile;
  return out;
}
