/**
 * FakeFleetApi: an in-memory FleetApi for tests of the explorer, commands and deploy flows.
 * It behaves like fleet seen from fleetctl: units keep their options as given, `currentState`
 * follows `desiredState` (at once, or on `settle()` with `{ settleImmediately: false }`),
 * launched units publish an active/running state on their machine, errors can be injected, and
 * every call is recorded. No `vscode` import.
 */
import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState, JobState, JournalLine } from '../../../protocol/src/api';
import { FleetApiError, type FleetApi } from './types';

export type FakeMethod = Exclude<keyof FleetApi, 'label' | 'dispose'>;

export interface FakeCall {
  method: FakeMethod;
  args: unknown[];
}

export interface FakeFleetApiOptions {
  label?: string;
  machines?: ApiMachine[];
  units?: ApiUnit[];
  states?: ApiUnitState[];
  /** true (default): currentState follows desiredState at once; false: only on settle(). */
  settleImmediately?: boolean;
}

const clone = <T>(value: T): T => structuredClone(value);

function isGlobal(unit: ApiUnit): boolean {
  return (unit.options ?? []).some(o => o.section === 'X-Fleet' && o.name === 'Global' && /^(1|t|true|y|yes|on)$/i.test((o.value ?? '').trim()));
}

function wantedMachine(unit: ApiUnit): string | undefined {
  return (unit.options ?? []).find(o => o.section === 'X-Fleet' && o.name === 'MachineID')?.value;
}

/** A deterministic 40-hex stand-in for fleet's unit hash (not fleet's SHA-1; tests compare it only with itself). */
function fakeHash(options: readonly ApiUnitOption[]): string {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(options)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(5);
}

export class FakeFleetApi implements FleetApi {
  readonly label: string;
  readonly calls: FakeCall[] = [];
  machines: ApiMachine[];
  private readonly units = new Map<string, ApiUnit>();
  private states: ApiUnitState[];
  private readonly journals = new Map<string, JournalLine[]>();
  private readonly followers = new Map<string, Set<(line: JournalLine) => void>>();
  private readonly failures = new Map<FakeMethod, Error[]>();
  private readonly settleImmediately: boolean;
  disposed = false;

  constructor(options: FakeFleetApiOptions = {}) {
    this.label = options.label ?? 'fake://fleet';
    this.machines = clone(options.machines ?? [{ id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', primaryIP: '10.0.0.1' }]);
    for (const unit of options.units ?? []) this.units.set(unit.name, clone(unit));
    this.states = clone(options.states ?? []);
    this.settleImmediately = options.settleImmediately ?? true;
  }

  // --- test controls --------------------------------------------------------------------------

  /** The next call of `method` rejects with `error` (queued: one error per call). */
  failNext(method: FakeMethod, error: Error = new FleetApiError(`Cannot reach fleet at ${this.label}: connection refused`, undefined, 'network')): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
  }

  /** Moves every unit's currentState to its desiredState and publishes states, as agents would. */
  settle(): void {
    for (const unit of this.units.values()) this.transition(unit);
  }

  /** Adds a journal line for a unit and hands it to every follower. */
  appendJournal(unit: string, line: Partial<JournalLine> & { text: string }): void {
    const full: JournalLine = { time: line.time ?? Date.now(), machineID: line.machineID ?? this.units.get(unit)?.machineID ?? '', stream: line.stream ?? 'stdout', text: line.text };
    const lines = this.journals.get(unit) ?? [];
    lines.push(full);
    this.journals.set(unit, lines);
    for (const follower of this.followers.get(unit) ?? []) follower(clone(full));
  }

  /** Replaces the published states (e.g. to simulate a failed unit). */
  setStates(states: ApiUnitState[]): void {
    this.states = clone(states);
  }

  /** How many followJournal calls are still following `unit`. */
  followerCount(unit: string): number {
    return this.followers.get(unit)?.size ?? 0;
  }

  // --- FleetApi -------------------------------------------------------------------------------

  async listMachines(signal?: AbortSignal): Promise<ApiMachine[]> {
    this.enter('listMachines', [], signal);
    return clone([...this.machines].sort((a, b) => a.id.localeCompare(b.id)));
  }

  async listUnits(signal?: AbortSignal): Promise<ApiUnit[]> {
    this.enter('listUnits', [], signal);
    return clone([...this.units.values()].sort((a, b) => a.name.localeCompare(b.name)));
  }

  async listUnitStates(signal?: AbortSignal): Promise<ApiUnitState[]> {
    this.enter('listUnitStates', [], signal);
    return clone([...this.states].sort((a, b) => a.name.localeCompare(b.name) || (a.machineID ?? '').localeCompare(b.machineID ?? '')));
  }

  async getUnit(name: string, signal?: AbortSignal): Promise<ApiUnit | undefined> {
    this.enter('getUnit', [name], signal);
    const unit = this.units.get(name);
    return unit ? clone(unit) : undefined;
  }

  async createUnit(name: string, options: ApiUnitOption[], desiredState: JobState, signal?: AbortSignal): Promise<void> {
    this.enter('createUnit', [name, options, desiredState], signal);
    if (options.length === 0 && !this.units.has(name)) {
      throw new FleetApiError('fleet API 409: unit does not exist and options field empty', 409, 'http');
    }
    if (/@\.[a-z]+$/.test(name) && desiredState !== 'inactive') {
      throw new FleetApiError(`fleet API 400: cannot activate template "${name}"`, 400, 'http');
    }
    const existing = this.units.get(name);
    const unit: ApiUnit = { name, options: clone(options), desiredState, currentState: existing?.currentState ?? 'inactive' };
    if (existing?.machineID) unit.machineID = existing.machineID;
    this.units.set(name, unit);
    if (this.settleImmediately) this.transition(unit);
  }

  async setUnitTargetState(name: string, desiredState: JobState, signal?: AbortSignal): Promise<void> {
    this.enter('setUnitTargetState', [name, desiredState], signal);
    const unit = this.units.get(name);
    if (!unit) throw new FleetApiError('fleet API 409: unit does not exist and options field empty', 409, 'http');
    if (/@\.[a-z]+$/.test(name) && desiredState !== 'inactive') {
      throw new FleetApiError(`fleet API 400: cannot activate template "${name}"`, 400, 'http');
    }
    unit.desiredState = desiredState;
    if (this.settleImmediately) this.transition(unit);
  }

  async destroyUnit(name: string, signal?: AbortSignal): Promise<boolean> {
    this.enter('destroyUnit', [name], signal);
    const existed = this.units.delete(name);
    this.states = this.states.filter(s => s.name !== name);
    return existed;
  }

  async journal(unit: string, options: { lines?: number; machineId?: string }, signal?: AbortSignal): Promise<JournalLine[]> {
    this.enter('journal', [unit, options], signal);
    let lines = (this.journals.get(unit) ?? []).filter(l => !options.machineId || l.machineID === options.machineId);
    if (options.lines !== undefined) lines = options.lines > 0 ? lines.slice(-options.lines) : [];
    return clone(lines);
  }

  followJournal(unit: string, onLine: (line: JournalLine) => void, signal: AbortSignal, options: { lines?: number; machineId?: string } = {}): Promise<void> {
    try {
      this.enter('followJournal', [unit, options], undefined);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal.aborted) return Promise.resolve();
    // As fleetd: the backlog (10 lines unless asked), then what follows; a machine narrows both.
    const mine = (l: JournalLine) => !options.machineId || l.machineID === options.machineId;
    const lines = options.lines ?? 10;
    const backlog = (this.journals.get(unit) ?? []).filter(mine);
    for (const l of lines > 0 ? backlog.slice(-lines) : []) onLine(clone(l));
    const set = this.followers.get(unit) ?? new Set();
    this.followers.set(unit, set);
    const follower = (l: JournalLine) => mine(l) && onLine(l);
    set.add(follower);
    return new Promise(resolve => {
      signal.addEventListener('abort', () => {
        set.delete(follower);
        resolve();
      }, { once: true });
    });
  }

  dispose(): void {
    this.disposed = true;
  }

  // --- internals ------------------------------------------------------------------------------

  private enter(method: FakeMethod, args: unknown[], signal: AbortSignal | undefined): void {
    this.calls.push({ method, args: clone(args) });
    if (this.disposed) throw new FleetApiError(`the connection to ${this.label} was closed`, undefined, 'config');
    if (signal?.aborted) {
      const err = new Error('The operation was aborted');
      err.name = 'AbortError';
      throw err;
    }
    const queue = this.failures.get(method);
    const failure = queue?.shift();
    if (failure) throw failure;
  }

  private transition(unit: ApiUnit): void {
    const desired = unit.desiredState ?? 'inactive';
    this.states = this.states.filter(s => s.name !== unit.name);
    if (isGlobal(unit)) {
      // fleet: a global unit has no single target; list shows it inactive, states come from every machine.
      unit.currentState = 'inactive';
      delete unit.machineID;
      if (desired !== 'inactive') for (const m of this.machines) this.states.push(this.stateFor(unit, m.id, desired));
      return;
    }
    if (desired === 'inactive') {
      unit.currentState = 'inactive';
      delete unit.machineID;
      return;
    }
    const wanted = wantedMachine(unit);
    const machine = wanted
      ? this.machines.find(m => m.id === wanted || m.id.startsWith(wanted))
      : this.machines.find(m => m.id === unit.machineID) ?? this.leastLoaded();
    if (!machine) {
      unit.currentState = 'inactive';
      delete unit.machineID;
      unit.reason = wanted ? `no machine with ID ${wanted}` : 'no machines in the cluster';
      return;
    }
    delete unit.reason;
    unit.machineID = machine.id;
    unit.currentState = desired;
    this.states.push(this.stateFor(unit, machine.id, desired));
  }

  private leastLoaded(): ApiMachine | undefined {
    const load = (id: string) => [...this.units.values()].filter(u => u.machineID === id).length;
    return [...this.machines].sort((a, b) => load(a.id) - load(b.id) || a.id.localeCompare(b.id))[0];
  }

  private stateFor(unit: ApiUnit, machineID: string, desired: JobState): ApiUnitState {
    const launched = desired === 'launched';
    return {
      name: unit.name,
      hash: fakeHash(unit.options ?? []),
      machineID,
      systemdLoadState: 'loaded',
      systemdActiveState: launched ? 'active' : 'inactive',
      systemdSubState: launched ? 'running' : 'dead',
    };
  }
}
