/**
 * The agent's StatePublisher keeps one write in flight, each reading the states when its turn
 * comes, so the registry ends with a unit's latest state and the publisher's memory of what it
 * wrote matches the registry, even when a registry would answer two overlapping writes in the
 * opposite order to how it applied them (which left a unit's state stale for a minute).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentRegistry, UnitStateRecord } from '../../registry/src/registry';
import { StatePublisher } from '../src/agent/statePublisher';
import type { UnitManagerState } from '../src/agent/unitManager';

interface Deferred {
  resolve(): void;
  promise: Promise<void>;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>(r => (resolve = r));
  return { resolve, promise };
}
const tick = () => new Promise(r => setImmediate(r));

/**
 * A registry that applies a write when it is issued and answers it only when the test says so:
 * answers can come in any order, as gRPC's can.
 */
class HeldRegistry {
  readonly stored = new Map<string, string>();
  readonly pending: { what: string; answer: Deferred }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  private async held(what: string, apply: () => void): Promise<void> {
    apply();
    const answer = deferred();
    this.pending.push({ what, answer });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await answer.promise;
    this.inFlight--;
  }

  publishUnits(_machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }): Promise<void> {
    const what = batch.states.map(s => `${s.name}=${s.activeState}`).join(',');
    return this.held(`publish ${what}`, () => {
      for (const s of batch.states) this.stored.set(s.name, s.activeState);
    });
  }

  removeUnitState(name: string): Promise<void> {
    return this.held(`remove ${name}`, () => this.stored.delete(name));
  }

  /** Answers the pending write whose description starts with `what`. */
  answer(what: string): void {
    const i = this.pending.findIndex(p => p.what.startsWith(what));
    assert.ok(i >= 0, `no pending write "${what}" (pending: ${this.pending.map(p => p.what).join('; ') || 'none'})`);
    const [p] = this.pending.splice(i, 1);
    p!.answer.resolve();
  }
}

function setup() {
  const registry = new HeldRegistry();
  const states = new Map<string, UnitManagerState>();
  const set = (name: string, activeState: string) =>
    states.set(name, { name, hash: 'h', loadState: 'loaded', activeState, subState: activeState === 'active' ? 'running' : 'dead' });
  const publisher = new StatePublisher({
    registry: registry as unknown as AgentRegistry,
    machineId: 'm1',
    ttlMs: 30_000,
    states: async () => [...states.values()],
    skip: () => false,
    report: () => undefined,
  });
  return { registry, states, set, publisher };
}

describe('StatePublisher', () => {
  test('a later write waits for the one in flight and reads the states when its turn comes', async () => {
    const { registry, set, publisher } = setup();
    set('a.service', 'activating');
    const first = publisher.publishAll(true);
    await tick();
    assert.deepEqual(
      registry.pending.map(p => p.what),
      ['publish a.service=activating'],
    );
    // The unit becomes active and is announced while the first write is unanswered.
    set('a.service', 'active');
    const second = publisher.announceStarted(['a.service']);
    await tick();
    assert.equal(registry.pending.length, 1, 'the second write is not issued before the first is answered');
    registry.answer('publish a.service=activating');
    await first;
    await tick();
    registry.answer('publish a.service=active');
    await second;
    assert.equal(registry.maxInFlight, 1);
    assert.equal(registry.stored.get('a.service'), 'active');
    // What it remembers matches the registry: nothing left to publish.
    await Promise.all([publisher.publishAll(), tick()]);
    assert.equal(registry.pending.length, 0, 'nothing to write: the registry has the latest state');
  });

  test('a change during a pass, a heartbeat and a start: one write at a time, the registry ends with the latest state', async () => {
    const { registry, set, publisher } = setup();
    set('b.service', 'inactive');
    publisher.passStarted();
    const heartbeat = publisher.publishAll(true, []);
    set('b.service', 'active');
    publisher.changed('b.service');
    const started = publisher.announceStarted(['b.service']);
    publisher.passEnded();
    // Bounded: the writes queued here take a few turns each.
    for (let i = 0; i < 30; i++) {
      await tick();
      // Answer whatever is pending, newest first: the order that used to leave the old state.
      const last = registry.pending.at(-1);
      if (last) registry.answer(last.what);
    }
    await Promise.all([heartbeat, started, publisher.idle()]);
    assert.equal(registry.maxInFlight, 1);
    assert.equal(registry.stored.get('b.service'), 'active');
  });

  test('a removal waits for the writes before it, so none brings the state back', async () => {
    const { registry, set, publisher, states } = setup();
    set('c.service', 'active');
    const write = publisher.publishAll(true);
    await tick();
    // The unit is unloaded while its state is being written.
    states.delete('c.service');
    const removal = publisher.remove('c.service');
    await tick();
    assert.deepEqual(
      registry.pending.map(p => p.what),
      ['publish c.service=active'],
    );
    registry.answer('publish c.service=active');
    await write;
    await tick();
    registry.answer('remove c.service');
    await removal;
    assert.equal(registry.stored.has('c.service'), false);
    assert.equal(registry.maxInFlight, 1);
  });

  test('a failed write is the caller’s error and the queue goes on', async () => {
    let calls = 0;
    const failing = new StatePublisher({
      registry: {
        publishUnits: async () => {
          calls++;
          if (calls === 1) throw new Error('etcd is unavailable');
        },
      } as unknown as AgentRegistry,
      machineId: 'm1',
      ttlMs: 30_000,
      states: async () => [{ name: 'd.service', hash: 'h', loadState: 'loaded', activeState: 'active', subState: 'running' }],
      skip: () => false,
      report: () => undefined,
    });
    await assert.rejects(failing.announceStarted(['d.service']), /etcd is unavailable/);
    // Not remembered as published: the next full publish writes it.
    await failing.publishAll();
    assert.equal(calls, 2);
  });
});
