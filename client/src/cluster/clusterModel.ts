/**
 * ClusterModel: the one owner of the active cluster's snapshot. It polls the FleetApi while
 * someone is watching (a view is visible, or a command holds a lease), fires onDidChange only
 * when the snapshot or the connection status really changed, and backs off on errors. Timers
 * arrive as parameters so tests drive it without waiting. No `vscode` import.
 */
import type { FleetApi } from '../api/types';
import { ClusterSnapshot, diffSnapshots, type SnapshotDiff } from './snapshot';
import type { ConnectionView } from './treeItems';

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
  timers?: Timers;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
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
  private watchers = 0;
  private generation = 0;
  private disposed = false;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly timers: Timers;
  private readonly log: NonNullable<ClusterModelOptions['log']>;

  constructor(options: ClusterModelOptions = {}) {
    this.intervalMs = options.intervalMs ?? 3000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
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
    this.generation++;
    this.abort?.abort();
    this.cancelTimer();
    this.api = api;
    this.snapshot = undefined;
    this.failures = 0;
    this.inflight = undefined;
    this.setView(api ? { kind: 'loading', label: api.label } : { kind: 'disconnected' }, { changed: true, machinesChanged: true, addedUnits: [], removedUnits: [], changedUnits: [] });
    if (api && this.watchers > 0) void this.refresh();
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
        const next = await ClusterSnapshot.fetch(api, abort.signal);
        if (generation !== this.generation || this.disposed) return;
        this.failures = 0;
        const diff = diffSnapshots(this.snapshot, next);
        const wasHealthy = this._view.kind === 'connected' && !this._view.error;
        this.snapshot = next;
        if (diff.changed || !wasHealthy) this.setView({ kind: 'connected', label: api.label, snapshot: next }, diff);
      } catch (err) {
        if (generation !== this.generation || this.disposed) return;
        this.failures++;
        const message = err instanceof Error ? err.message : String(err);
        this.log(this.failures === 1 ? 'warn' : 'debug', `fleet: cannot read the cluster at ${api.label}: ${message}`);
        const view: ConnectionView = this.snapshot
          ? { kind: 'connected', label: api.label, snapshot: this.snapshot, error: message }
          : { kind: 'error', label: api.label, error: message };
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

  /** The delay before the next poll: the interval while healthy, doubling per failure up to the cap. */
  nextDelay(): number {
    if (this.failures === 0) return this.intervalMs;
    return Math.min(this.maxBackoffMs, this.intervalMs * 2 ** Math.min(this.failures, 20));
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
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, this.nextDelay());
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private setView(view: ConnectionView, diff?: SnapshotDiff): void {
    this._view = view;
    const change: ClusterChange = diff ? { view, diff } : { view };
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.log('error', `fleet: a cluster listener failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
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
