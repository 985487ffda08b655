/**
 * ClusterModel: polling only while watched, change detection (no event for an identical
 * snapshot), exponential backoff on errors with the last snapshot kept, switching clusters.
 * Timers are a manual fake; nothing waits on the wall clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import { FleetApiError, type FleetApi } from '../src/api/types';
import { ClusterModel, type ClusterChange, type Timers } from '../src/cluster/clusterModel';

class ManualTimers implements Timers {
  pending: { fn: () => void; ms: number; id: number }[] = [];
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter(t => t.id !== handle);
  }
  /** Runs the one scheduled timer and returns its delay. */
  fire(): number {
    assert.equal(this.pending.length, 1, `expected exactly one timer, have ${this.pending.length}`);
    const t = this.pending.shift()!;
    t.fn();
    return t.ms;
  }
}

class StubApi implements FleetApi {
  machines: ApiMachine[] = [{ id: 'm1', primaryIP: '10.0.0.1' }];
  units: ApiUnit[] = [];
  states: ApiUnitState[] = [];
  fail: string | undefined;
  reads = 0;
  constructor(readonly label = 'stub') {}
  private async read<T>(value: T): Promise<T> {
    if (this.fail) throw new FleetApiError(this.fail, undefined, 'network');
    return value;
  }
  listMachines() {
    this.reads++;
    return this.read(this.machines);
  }
  listUnits() {
    return this.read(this.units);
  }
  listUnitStates() {
    return this.read(this.states);
  }
  async getUnit() {
    return undefined;
  }
  async createUnit() {}
  async setUnitTargetState() {}
  async destroyUnit() {
    return false;
  }
  async journal() {
    return [];
  }
  async followJournal() {}
  dispose() {}
}

function setup(intervalMs = 1000) {
  const timers = new ManualTimers();
  const model = new ClusterModel({ intervalMs, maxBackoffMs: 8000, timers });
  const changes: ClusterChange[] = [];
  model.onDidChange(c => changes.push(c));
  return { timers, model, changes };
}

const settle = () => new Promise(resolve => setImmediate(resolve));

describe('ClusterModel', () => {
  test('does not poll until watched, and stops when the last watcher leaves', async () => {
    const { timers, model } = setup();
    const api = new StubApi();
    model.setApi(api);
    await settle();
    assert.equal(api.reads, 0);
    assert.equal(model.view.kind, 'loading');
    const release = model.watch();
    await settle();
    assert.equal(api.reads, 1);
    assert.equal(model.view.kind, 'connected');
    assert.equal(timers.fire(), 1000);
    await settle();
    assert.equal(api.reads, 2);
    release();
    assert.equal(timers.pending.length, 0);
    release(); // idempotent
    assert.equal(model.watching, false);
  });

  test('fires only when the snapshot changed', async () => {
    const { timers, model, changes } = setup();
    const api = new StubApi();
    model.setApi(api);
    model.watch();
    await settle();
    assert.deepEqual(
      changes.map(c => c.view.kind),
      ['loading', 'connected'],
    );
    timers.fire();
    await settle();
    assert.equal(changes.length, 2, 'an identical snapshot fires nothing');
    api.units = [{ name: 'a.service', desiredState: 'launched', currentState: 'inactive' }];
    timers.fire();
    await settle();
    assert.equal(changes.length, 3);
    assert.deepEqual(changes[2]!.diff?.addedUnits, ['a.service']);
  });

  test('a re-read keeps the objects of unchanged units, so the views skip them', async () => {
    const { timers, model, changes } = setup();
    const api = new StubApi();
    api.units = [
      { name: 'a.service', desiredState: 'launched' },
      { name: 'b.service', desiredState: 'launched' },
    ];
    api.states = [
      { name: 'a.service', machineID: 'm1', systemdActiveState: 'active' },
      { name: 'b.service', machineID: 'm1', systemdActiveState: 'active' },
    ];
    model.setApi(api);
    model.watch();
    await settle();
    const first = model.lastSnapshot!;
    // The next read parses new objects; only b's state differs.
    api.machines = structuredClone(api.machines);
    api.units = structuredClone(api.units);
    api.states = structuredClone(api.states);
    api.states[1]!.systemdActiveState = 'failed';
    timers.fire();
    await settle();
    const second = model.lastSnapshot!;
    assert.deepEqual(changes.at(-1)?.diff?.changedUnits, ['b.service']);
    assert.equal(second.machines[0], first.machines[0]);
    assert.deepEqual(
      second.units.map((u, i) => u === first.units[i]),
      [true, true],
    );
    assert.deepEqual(
      second.states.map((s, i) => s === first.states[i]),
      [true, false],
    );
    assert.equal(second.states[1]!.systemdActiveState, 'failed');
  });

  test('backs off exponentially on errors, keeps the last snapshot, and recovers', async () => {
    const { timers, model, changes } = setup();
    const api = new StubApi();
    model.setApi(api);
    model.watch();
    await settle();
    api.fail = 'connect ECONNREFUSED 127.0.0.1:1';
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      delays.push(timers.fire());
      await settle();
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
    const view = model.view;
    assert.equal(view.kind, 'connected');
    assert.equal(view.kind === 'connected' && view.error, 'connect ECONNREFUSED 127.0.0.1:1');
    assert.equal(changes.length, 3, 'one event when the error appears, none while it persists');
    api.fail = undefined;
    timers.fire();
    await settle();
    assert.equal(model.view.kind === 'connected' && model.view.error, undefined);
    assert.equal(model.nextDelay(), 1000);
    assert.equal(changes.length, 4);
  });

  test('an unreachable cluster with no snapshot yet is an error view', async () => {
    const { model } = setup();
    const api = new StubApi('http://10.0.0.1:49153');
    api.fail = 'connect ETIMEDOUT';
    model.setApi(api);
    model.watch();
    await settle();
    assert.deepEqual(model.view, { kind: 'error', label: 'http://10.0.0.1:49153', error: 'connect ETIMEDOUT', problem: 'unreachable' });
  });

  test('manual refresh is coalesced and reschedules the poll', async () => {
    const { timers, model } = setup();
    const api = new StubApi();
    model.setApi(api);
    model.watch();
    await settle();
    const a = model.refresh();
    const b = model.refresh();
    assert.equal(a, b);
    await a;
    assert.equal(api.reads, 2);
    assert.equal(timers.pending.length, 1);
  });

  test('switching clusters drops the old snapshot and ignores late answers from the old API', async () => {
    const { model, changes } = setup();
    let resolveSlow: (m: ApiMachine[]) => void = () => undefined;
    const slow = new StubApi('old');
    slow.listMachines = () => new Promise(r => (resolveSlow = r));
    model.watch();
    model.setApi(slow);
    const fast = new StubApi('new');
    model.setApi(fast);
    await settle();
    resolveSlow([{ id: 'stale' }]);
    await settle();
    const view = model.view;
    assert.equal(view.kind === 'connected' && view.label, 'new');
    assert.deepEqual(view.kind === 'connected' && view.snapshot.machines.map(m => m.id), ['m1']);
    assert.ok(!changes.some(c => c.view.kind === 'connected' && c.view.label === 'old'));
    model.setApi(undefined);
    assert.equal(model.view.kind, 'disconnected');
  });

  test('a throwing listener does not break the others', async () => {
    const { model } = setup();
    const seen: string[] = [];
    model.onDidChange(() => {
      throw new Error('boom');
    });
    model.onDidChange(c => seen.push(c.view.kind));
    model.setApi(new StubApi());
    assert.deepEqual(seen, ['loading']);
  });
});
