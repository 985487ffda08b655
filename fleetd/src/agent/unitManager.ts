/**
 * The agent's seam to whatever runs units (fleet's systemd.UnitManager). Two implementations:
 * ProcessUnitManager (supervised child processes with systemd semantics; the default of the local
 * cluster) and FakeUnitManager below (tests). A systemd-backed manager drops in behind the same
 * interface: load = write `<units_directory>/<name>` + LinkUnitFiles (+ EnableUnitFiles when
 * [Install] exists), reloadUnitFiles = daemon-reload, start/stop = StartUnit/StopUnit "replace",
 * unload = stop + DisableUnitFiles + ResetFailedUnit + delete the file, states = ListUnitsByNames
 * polled every second, onChange fired when a polled state differs.
 */
import type { UnitOption } from '../../../unitfile/src/serialize';

export interface UnitManagerState {
  name: string;
  /** Hash of the unit file as loaded. */
  hash: string;
  /** systemd's LoadState: loaded, not-found, bad-setting, error. */
  loadState: string;
  /** systemd's ActiveState: inactive, activating, active, deactivating, failed. */
  activeState: string;
  /** systemd's SubState for services: dead, start-pre, start, start-post, running, exited, stop, stop-sigterm, stop-sigkill, stop-post, failed, auto-restart. */
  subState: string;
  /** What the user should know: the last result, unsupported directives. */
  detail?: string;
}

export interface ChangeSubscription {
  dispose(): void;
}

export interface UnitManager {
  /** Install (or replace) a unit's file. Does not start it. */
  load(name: string, options: readonly UnitOption[], hash: string): Promise<void>;
  /** Stop the unit (waiting for it to be stopped), then forget it and reset its failed state. A no-op for unknown units. */
  unload(name: string): Promise<void>;
  /** systemd's daemon-reload; a no-op where loading takes effect at once. */
  reloadUnitFiles(): Promise<void>;
  /** Queue a start; resolves when the start job is under way (not when the unit is up). Throws for units not loaded. */
  start(name: string): Promise<void>;
  /** Stop the unit; resolves when it is stopped (bounded by TimeoutStopSec and SIGKILL). */
  stop(name: string): Promise<void>;
  /** Every loaded unit, sorted by name. */
  states(): Promise<UnitManagerState[]>;
  /** Fires with a unit name whenever that unit's state may have changed. */
  onChange(listener: (name: string) => void): ChangeSubscription;
  /** Stop every unit and release resources (used on shutdown after the agent purged). */
  close(): Promise<void>;
}

export class UnitNotLoadedError extends Error {
  constructor(
    readonly unit: string,
    action: string,
  ) {
    super(`cannot ${action} unit ${unit}: it is not loaded on this machine; load it first`);
    this.name = 'UnitNotLoadedError';
  }
}

/** Listener fan-out shared by the implementations. */
export class ChangeEmitter {
  private readonly listeners = new Set<(name: string) => void>();
  on(listener: (name: string) => void): ChangeSubscription {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }
  fire(name: string): void {
    for (const l of [...this.listeners]) {
      try {
        l(name);
      } catch {
        // A listener's failure is its own; the others still hear about the change.
      }
    }
  }
}

/**
 * A complete in-memory UnitManager: units go loaded → active/running → inactive/dead at once.
 * `calls` records every operation in order, `failNext` makes the next call of a kind throw, and
 * `setState` simulates a unit changing on its own (a crash).
 */
export class FakeUnitManager implements UnitManager {
  readonly calls: string[] = [];
  private readonly units = new Map<string, UnitManagerState>();
  private readonly emitter = new ChangeEmitter();
  private readonly failures = new Map<string, Error>();

  failNext(kind: 'load' | 'unload' | 'start' | 'stop', error = new Error(`injected ${kind} failure`)): void {
    this.failures.set(kind, error);
  }

  setState(name: string, patch: Partial<Omit<UnitManagerState, 'name'>>): void {
    const u = this.units.get(name);
    if (!u) throw new UnitNotLoadedError(name, 'change');
    Object.assign(u, patch);
    this.emitter.fire(name);
  }

  private check(kind: string, name: string): void {
    this.calls.push(`${kind}(${name})`);
    const err = this.failures.get(kind);
    if (err) {
      this.failures.delete(kind);
      throw err;
    }
  }

  async load(name: string, _options: readonly UnitOption[], hash: string): Promise<void> {
    this.check('load', name);
    this.units.set(name, { name, hash, loadState: 'loaded', activeState: 'inactive', subState: 'dead' });
    this.emitter.fire(name);
  }

  async unload(name: string): Promise<void> {
    this.check('unload', name);
    if (this.units.delete(name)) this.emitter.fire(name);
  }

  async reloadUnitFiles(): Promise<void> {
    this.calls.push('reloadUnitFiles()');
  }

  async start(name: string): Promise<void> {
    this.check('start', name);
    if (!this.units.has(name)) throw new UnitNotLoadedError(name, 'start');
    this.setState(name, { activeState: 'active', subState: 'running' });
  }

  async stop(name: string): Promise<void> {
    this.check('stop', name);
    if (!this.units.has(name)) throw new UnitNotLoadedError(name, 'stop');
    this.setState(name, { activeState: 'inactive', subState: 'dead' });
  }

  async states(): Promise<UnitManagerState[]> {
    return [...this.units.values()].map(u => ({ ...u })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  onChange(listener: (name: string) => void): ChangeSubscription {
    return this.emitter.on(listener);
  }

  async close(): Promise<void> {
    this.units.clear();
  }
}
