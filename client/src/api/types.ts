/**
 * The client's only network seam: everything the explorer, the commands and the language
 * server's cluster context read from or write to a cluster goes through FleetApi.
 * HttpFleetApi (fleetApi.ts) implements it over HTTP(S), a unix socket or an SSH tunnel;
 * tests use an in-memory fake. No `vscode` import here.
 */
import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState, JobState, JournalLine } from '../../../protocol/src/api';

export interface FleetApi {
  /** A short label for logs and the status bar, e.g. `http://127.0.0.1:49153` or `core@host → unix:///var/run/fleet.sock`. */
  readonly label: string;
  listMachines(signal?: AbortSignal): Promise<ApiMachine[]>;
  /** All pages. */
  listUnits(signal?: AbortSignal): Promise<ApiUnit[]>;
  /** All pages; `unitName` asks for one unit's states only (fleet's `?unitName=` filter). */
  listUnitStates(signal?: AbortSignal, filter?: { unitName?: string }): Promise<ApiUnitState[]>;
  /** undefined on 404. */
  getUnit(name: string, signal?: AbortSignal): Promise<ApiUnit | undefined>;
  /** Create (with options) as fleetctl submit/load/start do. */
  createUnit(name: string, options: ApiUnitOption[], desiredState: JobState, signal?: AbortSignal): Promise<void>;
  /** Change the desired state of an existing unit (fleetctl load/start/stop/unload). */
  setUnitTargetState(name: string, desiredState: JobState, signal?: AbortSignal): Promise<void>;
  /** 404 is not an error: returns false. */
  destroyUnit(name: string, signal?: AbortSignal): Promise<boolean>;
  /** fleetd extension; rejects with FleetApiError(404) on a real fleet. */
  journal(unit: string, options: { lines?: number; machineId?: string }, signal?: AbortSignal): Promise<JournalLine[]>;
  /**
   * A change feed, where the server has one (fleetd): resolves with a token that differs from
   * `token` once the cluster changed (the same token after a quiet minute), the current token for
   * `undefined`, and undefined when there is no feed (poll instead). Absent: no feed.
   */
  waitForChange?(token: string | undefined, signal: AbortSignal): Promise<string | undefined>;
  /**
   * The three lists read at once, with what their answers say of the change feed, so the first
   * read needs no request for the token before it. Absent: the caller lists them and asks
   * `waitForChange(undefined)` for the token first.
   */
  readCluster?(signal?: AbortSignal): Promise<ClusterRead>;
  /**
   * Follow the journal until the signal aborts: first the last `lines` lines (the server's default
   * when absent), each once, then every new line. One request: a backlog read before it would be
   * printed twice, since the follow replays its own.
   */
  followJournal(unit: string, onLine: (line: JournalLine) => void, signal: AbortSignal, options?: { lines?: number; machineId?: string }): Promise<void>;
  dispose(): void;
}

/** The three lists, and the change feed's token as of before they were read. */
export interface ClusterRead {
  machines: ApiMachine[];
  units: ApiUnit[];
  states: ApiUnitState[];
  /**
   * `token`: the tag every answer carried (fleetd's ETag, taken before each list's read), so a
   * wait on it returns as soon as anything changed after the read; `none`: no answer carried one
   * (a fleet API without the change feed: poll); `moved`: the answers' tags differ (the cluster
   * changed during the read: ask for a token, then read again).
   */
  feed: { token: string } | 'none' | 'moved';
}

/** An error from the API or the way to it, with a message that names the object and the fix. */
export class FleetApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, when the server answered. */
    readonly status?: number,
    /** 'http' (the server answered with an error), 'network' (unreachable, refused, timeout), 'ssh' (tunnel), 'tls', 'config'. */
    readonly kind: 'http' | 'network' | 'ssh' | 'tls' | 'config' = 'http',
    /**
     * What failed, for decisions (the message is for people): the socket error's code
     * (`ECONNREFUSED`, `ETIMEDOUT`, `ENOENT`…, `ETIMEOUT_FLEET` for the request timeout), or
     * `wrong-driver` when the endpoint is not what the profile's driver talks to.
     */
    readonly code?: string,
    /** The underlying error (e.g. the SSH tunnel's, under an etcd driver's "cannot reach etcd"). */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FleetApiError';
  }
}
