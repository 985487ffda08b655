/**
 * ClusterModel: the one owner of the active cluster's snapshot. While someone is watching (a
 * view is visible, a unit file is open, or a command holds a lease) it keeps the snapshot fresh:
 *
 *  - against a server with a change feed (fleetd: `FleetApi.waitForChange`), one long poll at a
 *    time that returns when the cluster changed, and a re-read only then, so an idle cluster
 *    costs about one request a minute;
 *  - otherwise (real fleet, the etcd driver) by polling, slower while nothing changes (up to 4×
 *    the interval) and slower still while the window is not focused (4× more);
 *  - errors back off exponentially.
 *
 * onDidChange fires only when the snapshot or the connection status really changed; a deploy
 * that saw a unit's new state pushes it in (`applyUnit`) without waiting for the next read.
 * Timers arrive as parameters so tests drive it without waiting. No `vscode` import.
 */
import type { ApiUnit, ApiUnitState } from '../../../protocol/src/api';
import type { FleetApi } from '../api/types';
import { classifyConnectionError } from './connectionProblem';
import { ClusterSnapshot, reuseSnapshot, type CollectionTags, type SnapshotDiff } from './snapshot';
import type { ConnectionView } from './treeItems';
import { errorMessage, errorStack, type Log } from '../../../protocol/src/log';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ClusterModelOptions {
  /** Poll interval while healthy. */
  intervalMs?: number;
  /** Upper bound of the error backoff. */
  maxBackoffMs?: number;
  /** Slowest poll while nothing changes (without a change feed); default 4 × intervalMs. */
  idleMaxMs?: number;
  timers?: Timers;
  log?: Log;
}

export interface ClusterChange {
  view: ConnectionView;
  /** Present when a new snapshot was read. */
  diff?: SnapshotDiff;
}

type Listener = (change: ClusterChange) => void;

export class ClusterModel {
  private api: FleetApi | undefined;
  private _view: ConnectionView = { kind: 'disconnected' };
  private snapshot: ClusterSnapshot | undefined;
  private readonly listeners = new Set<Listener>();
  private timer: unknown;
  private inflight: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private failures = 0;
  /** Polls in a row that found nothing new. */
  private quiet = 0;
  private focused = true;
  /**
   * The change feed of the current API: its last token, and whether the server has one (undefined:
   * not known yet); `moved` when the lists of the last full read carried different tags (the cluster
   * changed during it): the token is then asked for before the next read, which follows at once.
   */
  private feed: { token?: string; supported?: boolean; moved?: boolean } = {};
  /** The tags of the collections as `snapshot` holds them (false after applyUnit patched it: the next read is a full one). */
  private tags: CollectionTags = {};
  private tagged = false;
  private listening: AbortController | undefined;
  private watchers = 0;
  private generation = 0;
  private disposed = false;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly idleMaxMs: number;
  private readonly timers: Timers;
  private readonly log: NonNullable<ClusterModelOptions['log']>;

  constructor(options: ClusterModelOptions = {}) {
    this.intervalMs = options.intervalMs ?? 3000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.idleMaxMs = options.idleMaxMs ?? 4 * this.intervalMs;
    this.timers = options.timers ?? realTimers;
    this.log = options.log ?? (() => undefined);
  }

  get view(): ConnectionView {
    return this._view;
  }

  get currentApi(): FleetApi | undefined {
    return this.api;
  }

  /** The last good snapshot, if any (kept across transient errors). */
  get lastSnapshot(): ClusterSnapshot | undefined {
    return this.snapshot;
  }

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /** Switches to another cluster (or none). The previous API is not disposed here: its owner does that. */
  setApi(api: FleetApi | undefined): void {
    this.reset(api);
    this.setView(api ? { kind: 'loading', label: api.label } : { kind: 'disconnected' }, {
      changed: true,
      machinesChanged: true,
      addedUnits: [],
      removedUnits: [],
      changedUnits: [],
    });
    if (api && this.watchers > 0) void this.refresh();
  }

  /** The cluster `label` could not even be opened (e.g. a file its profile names is unreadable): no API, an error view with the reason. */
  setUnopened(label: string, err: unknown): void {
    this.reset(undefined);
    this.setView(
      { kind: 'error', label, error: errorMessage(err), problem: classifyConnectionError(err) },
      { changed: true, machinesChanged: true, addedUnits: [], removedUnits: [], changedUnits: [] },
    );
  }

  private reset(api: FleetApi | undefined): void {
    this.generation++;
    this.abort?.abort();
    this.cancelTimer();
    this.api = api;
    this.snapshot = undefined;
    this.failures = 0;
    this.quiet = 0;
    this.feed = {};
    this.tags = {};
    this.tagged = false;
    this.inflight = undefined;
  }

  /**
   * Polling runs only while at least one watcher holds a lease (a visible view, a running deploy).
   * Returns the release function.
   */
  watch(): () => void {
    this.watchers++;
    if (this.watchers === 1 && this.api && !this.inflight && this.timer === undefined) void this.refresh();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.watchers--;
      if (this.watchers === 0) this.cancelTimer();
    };
  }

  get watching(): boolean {
    return this.watchers > 0;
  }

  /** Reads a snapshot now (coalesced with one already running) and reschedules polling. */
  refresh(): Promise<void> {
    if (this.disposed || !this.api) return Promise.resolve();
    if (this.inflight) return this.inflight;
    this.cancelTimer();
    const api = this.api;
    const generation = this.generation;
    const abort = new AbortController();
    this.abort = abort;
    const run = (async () => {
      try {
        // Only the collections that changed since the last read (fleetd's tags; all three otherwise).
        const since = this.snapshot && this.tagged ? { snapshot: this.snapshot, tags: this.tags } : undefined;
        // The feed's token is taken before the read, so a change during the read is not missed: on
        // a full read of tagged lists it is the tag the three carry (fleetd takes it before each
        // list's read), so no request goes before them; otherwise it is asked for first.
        const needToken = !!api.waitForChange && this.feed.supported !== false && this.feed.token === undefined;
        const fromLists = needToken && !since && !!api.listIfChanged && !this.feed.moved;
        if (needToken && !fromLists) {
          const token = await api.waitForChange!(undefined, abort.signal);
          if (generation !== this.generation || this.disposed) return;
          this.feed = token === undefined ? { supported: false } : { token, supported: true };
        }
        const { snapshot: read, tags } = await ClusterSnapshot.fetchChanged(api, abort.signal, since);
        if (generation !== this.generation || this.disposed) return;
        if (fromLists) {
          const all = [tags.machines, tags.units, tags.states];
          this.feed = all.every(t => t === undefined)
            ? { supported: false }
            : all.every(t => t === all[0])
              ? { token: all[0]!, supported: true }
              : { supported: true, moved: true };
        }
        this.tags = tags;
        this.tagged = true;
        this.failures = 0;
        // Unchanged units keep their objects, so the diff and the views' rows skip them.
        const { snapshot: next, diff } = reuseSnapshot(this.snapshot, read);
        this.quiet = diff.changed ? 0 : this.quiet + 1;
        const wasHealthy = this._view.kind === 'connected' && !this._view.error;
        this.snapshot = next;
        if (diff.changed || !wasHealthy) this.setView({ kind: 'connected', label: api.label, snapshot: next }, diff);
      } catch (err) {
        if (generation !== this.generation || this.disposed) return;
        this.failures++;
        const message = errorMessage(err);
        this.log(this.failures === 1 ? 'warn' : 'debug', `fleet: cannot read the cluster at ${api.label}: ${message}`);
        const view: ConnectionView = this.snapshot
          ? { kind: 'connected', label: api.label, snapshot: this.snapshot, error: message }
          : { kind: 'error', label: api.label, error: message, problem: classifyConnectionError(err) };
        if (!sameView(this._view, view)) this.setView(view);
      } finally {
        if (generation === this.generation) {
          this.inflight = undefined;
          this.schedule();
        }
      }
    })();
    this.inflight = run;
    return run;
  }

  /**
   * The delay before the next poll: the interval while things change; after 3 quiet polls twice
   * it, after 6 the idle maximum; 4× that while the window is not focused; doubling per failure
   * up to the cap.
   */
  nextDelay(): number {
    if (this.failures > 0) return Math.min(this.maxBackoffMs, this.intervalMs * 2 ** Math.min(this.failures, 20));
    const idle = this.quiet >= 6 ? this.idleMaxMs : this.quiet >= 3 ? Math.min(this.idleMaxMs, 2 * this.intervalMs) : this.intervalMs;
    return this.focused ? idle : 4 * idle;
  }

  /** Whether the editor window has focus: an unfocused window polls 4× slower (a change feed is unaffected). */
  setFocused(focused: boolean): void {
    if (this.focused === focused) return;
    this.focused = focused;
    if (focused) this.quiet = 0;
    if (this.timer !== undefined) this.schedule();
  }

  /** True while a long poll on the server's change feed is open. */
  get listeningForChanges(): boolean {
    return this.listening !== undefined;
  }

  /**
   * A unit's state as a deploy just read it: patched into the snapshot at once (listeners see it
   * now, not at the next read).
   */
  applyUnit(unit: ApiUnit, states: readonly ApiUnitState[]): void {
    const current = this.snapshot;
    if (!current || !this.api || this._view.kind !== 'connected') return;
    const { snapshot: next, diff } = reuseSnapshot(
      current,
      ClusterSnapshot.normalize({
        machines: current.machines,
        units: [...current.units.filter(u => u.name !== unit.name), unit],
        states: [...current.states.filter(s => s.name !== unit.name), ...states.filter(s => s.name === unit.name)],
      }),
    );
    if (!diff.changed) return;
    this.snapshot = next;
    // The snapshot now holds what no tag describes.
    this.tagged = false;
    this.setView({ kind: 'connected', label: this.api.label, snapshot: next }, diff);
  }

  dispose(): void {
    this.disposed = true;
    this.abort?.abort();
    this.cancelTimer();
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.disposed || !this.api || this.watchers === 0) return;
    this.cancelTimer();
    if (this.failures === 0 && this.feed.supported && this.feed.token !== undefined && this.api.waitForChange) {
      this.listen(this.api, this.generation, this.feed.token);
      return;
    }
    // Lists read while the cluster changed (their tags differ): the token, then the lists again, at once.
    this.timer = this.timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.refresh();
      },
      this.failures === 0 && this.feed.moved ? 0 : this.nextDelay(),
    );
  }

  /** One long poll on the change feed: re-read when the token moved, ask again when it did not. */
  private listen(api: FleetApi, generation: number, token: string): void {
    const abort = new AbortController();
    this.listening = abort;
    api.waitForChange!(token, abort.signal).then(
      next => {
        if (this.listening === abort) this.listening = undefined;
        if (abort.signal.aborted || generation !== this.generation || this.disposed || this.watchers === 0) return;
        if (next === undefined) {
          this.feed = { supported: false };
          this.schedule();
        } else if (next === token) {
          this.listen(api, generation, token);
        } else {
          this.feed.token = next;
          void this.refresh();
        }
      },
      (err: unknown) => {
        if (this.listening === abort) this.listening = undefined;
        if (abort.signal.aborted || generation !== this.generation || this.disposed || this.watchers === 0) return;
        // The connection broke: read again (which reports the error and backs off if it persists).
        this.log('debug', `fleet: change feed of ${api.label}: ${errorMessage(err)}`);
        delete this.feed.token;
        this.failures++;
        this.timer = this.timers.setTimeout(() => {
          this.timer = undefined;
          void this.refresh();
        }, this.nextDelay());
      },
    );
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.listening?.abort();
    this.listening = undefined;
  }

  private setView(view: ConnectionView, diff?: SnapshotDiff): void {
    this._view = view;
    const change: ClusterChange = diff ? { view, diff } : { view };
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.log('error', `fleet: a cluster listener failed: ${errorStack(err)}`);
      }
    }
  }
}

function sameView(a: ConnectionView, b: ConnectionView): boolean {
  if (a.kind !== b.kind) return false;
  const ea = 'error' in a ? a.error : undefined;
  const eb = 'error' in b ? b.error : undefined;
  return ea === eb && ('label' in a ? a.label : '') === ('label' in b ? b.label : '');
}
