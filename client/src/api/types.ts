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
   * A collection read unless it is unchanged since `tag` (fleetd: a collection's ETag, sent back
   * as If-None-Match; a unit's state change leaves the units and machines unchanged): `items` is
   * undefined when unchanged. The answer's `tag` is undefined where the server sends none (real
   * fleet), and then the caller has none to send: every read is a full one. Absent: no tags.
   */
  listIfChanged?<C extends keyof CollectionItems>(collection: C, tag: string | undefined, signal?: AbortSignal): Promise<ConditionalList<CollectionItems[C]>>;
  /**
   * A change feed, where the server has one (fleetd): resolves with a token that differs from
   * `token` once the cluster changed (the same token after a quiet minute), the current token for
   * `undefined`, and undefined when there is no feed (poll instead). Absent: no feed.
   */
  waitForChange?(token: string | undefined, signal: AbortSignal): Promise<string | undefined>;
  /**
   * Follow the journal until the signal aborts: first the last `lines` lines (the server's default
   * when absent), each once, then every new line. One request: a backlog read before it would be
   * printed twice, since the follow replays its own.
   */
  followJournal(unit: string, onLine: (line: JournalLine) => void, signal: AbortSignal, options?: { lines?: number; machineId?: string }): Promise<void>;
  dispose(): void;
}

/** The three collections a cluster read lists, by item type. */
export interface CollectionItems {
  machines: ApiMachine;
  units: ApiUnit;
  states: ApiUnitState;
}

export interface ConditionalList<T> {
  /** undefined: unchanged since the tag asked with (a 304). */
  items: T[] | undefined;
  /** The collection's tag now (undefined: the server has none). */
  tag: string | undefined;
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
