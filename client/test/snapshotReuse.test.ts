/**
 * A re-read against the snapshot before it (client/src/cluster/snapshot.ts `reuseSnapshot`):
 * machines, units and states whose JSON is unchanged keep the previous objects, so the diff,
 * unitRows and the map skip them; the diff is the one the stable-key comparison gave (checked
 * against it on random clusters); unitRows and the language server's cluster context keep
 * the rows and details of unchanged units.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import {
  ClusterSnapshot,
  clusterContextOf,
  diffSnapshots,
  reuseSnapshot,
  sameClusterContext,
  sameJson,
  stableKey,
  type SnapshotDiff,
} from '../src/cluster/snapshot';
import { unitRows } from '../src/cluster/unitRows';
import type { FleetApi } from '../src/api/types';

const M1 = 'a'.repeat(32);
const M2 = 'b'.repeat(32);

function cluster(n: number): ClusterSnapshot {
  const machines: ApiMachine[] = [{ id: M1, primaryIP: '10.0.0.1', metadata: { region: 'east' } }, { id: M2 }];
  const units: ApiUnit[] = [];
  const states: ApiUnitState[] = [];
  for (let i = 0; i < n; i++) {
    const machineID = i % 2 ? M2 : M1;
    const name = `u${i}.service`;
    units.push({
      name,
      desiredState: 'launched',
      currentState: 'launched',
      machineID,
      options: [{ section: 'Service', name: 'ExecStart', value: `/bin/sleep ${i}` }],
    });
    states.push({ name, machineID, hash: 'f'.repeat(40), systemdLoadState: 'loaded', systemdActiveState: 'active', systemdSubState: 'running' });
  }
  return ClusterSnapshot.normalize({ machines, units, states });
}

/** What the API client hands over on the next read: fresh objects parsed from JSON. */
const wire = (s: ClusterSnapshot): ClusterSnapshot => ClusterSnapshot.normalize(JSON.parse(JSON.stringify(s)) as ClusterSnapshot);

/** The comparison before reuseSnapshot, as the reference: one stable JSON key per unit and its states. */
function referenceDiff(before: ClusterSnapshot, after: ClusterSnapshot): SnapshotDiff {
  const keys = (s: ClusterSnapshot) => {
    const out = new Map<string, string>();
    for (const u of s.units) out.set(u.name, stableKey(u));
    for (const st of s.states) out.set(st.name, (out.get(st.name) ?? '') + '|' + stableKey(st));
    return out;
  };
  const machineKeys = (s: ClusterSnapshot) =>
    stableKey(s.machines.map(m => ({ id: m.id, ip: m.primaryIP ?? '', metadata: Object.entries(m.metadata ?? {}).sort() })));
  const a = keys(before);
  const b = keys(after);
  const addedUnits = [...b.keys()].filter(n => !a.has(n)).sort();
  const removedUnits = [...a.keys()].filter(n => !b.has(n)).sort();
  const changedUnits = [...b.keys()].filter(n => a.has(n) && a.get(n) !== b.get(n)).sort();
  const machinesChanged = machineKeys(before) !== machineKeys(after);
  return {
    changed: machinesChanged || addedUnits.length + removedUnits.length + changedUnits.length > 0,
    machinesChanged,
    addedUnits,
    removedUnits,
    changedUnits,
  };
}

describe('reuseSnapshot', () => {
  test('one state changed: every other machine, unit and state is the previous object; the changed state is the new one', () => {
    const before = cluster(50);
    const read = wire(before);
    const i = read.states.findIndex(s => s.name === 'u7.service');
    read.states[i] = { ...read.states[i]!, systemdActiveState: 'failed' };
    const { snapshot, diff } = reuseSnapshot(before, read);
    assert.deepEqual(diff, { changed: true, machinesChanged: false, addedUnits: [], removedUnits: [], changedUnits: ['u7.service'] });
    snapshot.machines.forEach((m, k) => assert.equal(m, before.machines[k]));
    snapshot.units.forEach((u, k) => assert.equal(u, before.units[k], u.name));
    snapshot.states.forEach((s, k) => (k === i ? assert.notEqual(s, before.states[k]) : assert.equal(s, before.states[k], s.name)));
    assert.equal(snapshot.states[i]!.systemdActiveState, 'failed');
    assert.deepEqual(snapshot, read, 'the same content as the read');
  });

  test('field order and fields set to undefined are no change, and keep the previous objects', () => {
    const before = cluster(3);
    const read: ClusterSnapshot = {
      machines: before.machines.map(m => ({ ...(m.metadata ? { metadata: { ...m.metadata } } : {}), ...m })),
      units: before.units.map(u => Object.fromEntries(Object.entries({ ...u, reason: undefined }).reverse()) as unknown as ApiUnit),
      states: before.states.map(s => ({ ...s })),
    };
    const { snapshot, diff } = reuseSnapshot(before, read);
    assert.equal(diff.changed, false);
    snapshot.units.forEach((u, k) => assert.equal(u, before.units[k]));
    assert.equal(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }), true);
    assert.equal(sameJson({ a: 1, b: [1, { c: 2 }] }, { a: 1, b: [1, { c: 3 }] }), false);
    assert.equal(sameJson({ a: 1 }, { a: 1, b: 2 }), false);
    assert.equal(sameJson([1, 2], [2, 1]), false);
  });

  test("on random changes the diff is the stable-key comparison's, and the snapshot has the read's content", () => {
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    let before = cluster(40);
    for (let round = 0; round < 200; round++) {
      const read = wire(before);
      for (let k = random(4); k >= 0; k--) {
        const which = random(6);
        if (which === 0 && read.units.length) read.units.splice(random(read.units.length), 1);
        else if (which === 1) read.units.push({ name: `n${random(60)}.service`, desiredState: 'loaded' });
        else if (which === 2 && read.states.length) read.states[random(read.states.length)]!.systemdSubState = ['dead', 'running', 'exited'][random(3)]!;
        else if (which === 3 && read.states.length) read.states.splice(random(read.states.length), 1);
        else if (which === 4) read.states.push({ name: `u${random(45)}.service`, machineID: random(2) ? M1 : M2, systemdActiveState: 'active' });
        else if (which === 5) read.machines[0]!.metadata = { region: ['east', 'west'][random(2)]! };
      }
      const next = ClusterSnapshot.normalize(read);
      const { snapshot, diff } = reuseSnapshot(before, next);
      assert.deepEqual(diff, referenceDiff(before, next), `round ${round}`);
      assert.deepEqual(diffSnapshots(before, next), diff);
      assert.deepEqual(snapshot, next);
      before = snapshot;
    }
  });
});

describe('unitRows across reads', () => {
  test('rows of unchanged units are kept; a unit whose entry or state changed gets a new row', () => {
    const before = cluster(20);
    const rowsBefore = unitRows(before);
    const read = wire(before);
    read.units = read.units.map(u => (u.name === 'u3.service' ? { ...u, desiredState: 'inactive' } : u));
    read.states = read.states.map(s => (s.name === 'u5.service' ? { ...s, systemdActiveState: 'failed' } : s));
    const { snapshot } = reuseSnapshot(before, read);
    const rowsAfter = unitRows(snapshot);
    assert.equal(rowsAfter.length, rowsBefore.length);
    for (const [k, row] of rowsAfter.entries()) {
      if (row.name === 'u3.service') {
        assert.notEqual(row, rowsBefore[k]);
        assert.equal(row.desiredState, 'inactive');
      } else if (row.name === 'u5.service') {
        assert.notEqual(row, rowsBefore[k], 'the same unit object, a new state: a new row');
        assert.equal(row.display, 'failed');
      } else assert.equal(row, rowsBefore[k], row.name);
    }
    // Without reuse (every object new) every row is built again, with equal contents.
    const fresh = unitRows(wire(snapshot));
    assert.notEqual(fresh[0], rowsAfter[0]);
    assert.deepEqual(fresh, rowsAfter);
  });
});

describe("the language server's cluster context across reads", () => {
  test('details of unchanged units are kept; a changed unit gets its new details and hash', () => {
    const before = cluster(10);
    const first = clusterContextOf(before).unitDetails!;
    const read = wire(before);
    read.units = read.units.map(u =>
      u.name === 'u4.service' ? { ...u, machineID: M2, options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }] } : u,
    );
    const { snapshot } = reuseSnapshot(before, read);
    const second = clusterContextOf(snapshot).unitDetails!;
    const fresh = clusterContextOf(wire(snapshot)).unitDetails!;
    assert.deepEqual(second, fresh, 'the same details as a context built from scratch');
    for (const [k, d] of second.entries()) {
      if (d.name !== 'u4.service') assert.equal(d, first[k], d.name);
      else {
        assert.notEqual(d.hash, first[k]!.hash);
        assert.equal(d.machineID, M2);
      }
    }
  });

  test('a state change leaves the context the same (nothing to send); a unit or machine change does not', () => {
    const before = cluster(10);
    const context = clusterContextOf(before);
    const next = (patch: (read: ClusterSnapshot) => void) => {
      const read = wire(before);
      patch(read);
      return clusterContextOf(reuseSnapshot(before, ClusterSnapshot.normalize(read)).snapshot);
    };
    assert.equal(
      sameClusterContext(
        context,
        next(r => (r.states[3]!.systemdActiveState = 'failed')),
      ),
      true,
    );
    assert.equal(sameClusterContext(context, clusterContextOf(wire(before))), true, 'equal contents, other objects');
    assert.equal(
      sameClusterContext(
        context,
        next(r => (r.units[3]!.desiredState = 'inactive')),
      ),
      false,
    );
    assert.equal(
      sameClusterContext(
        context,
        next(r => (r.machines[0]!.metadata = { region: 'west' })),
      ),
      false,
    );
    assert.equal(
      sameClusterContext(
        context,
        next(r => r.units.pop()),
      ),
      false,
    );
  });
});

describe('a read of only the collections that changed (ClusterSnapshot.fetchChanged)', () => {
  /** A FleetApi with tags per collection, as fleetd answers: items unless unchanged since the tag asked with. */
  function taggedApi(data: ClusterSnapshot) {
    const version = { machines: 1, units: 1, states: 1 };
    const asked: [string, string | undefined][] = [];
    const api = {
      label: 'fake',
      async listIfChanged(c: keyof typeof version, tag: string | undefined) {
        asked.push([c, tag]);
        const now = `"${c}-${version[c]}"`;
        if (tag === now) return { items: undefined, tag: now };
        return { items: (JSON.parse(JSON.stringify(data[c])) as unknown[]).reverse(), tag: now };
      },
    } as unknown as FleetApi;
    return { api, version, asked };
  }

  test('a collection unchanged since its tag is the previous snapshot’s array, whole; reuseSnapshot keeps it and diffs only the rest', async () => {
    const data = cluster(20);
    const { api, version, asked } = taggedApi(data);
    const first = await ClusterSnapshot.fetchChanged(api, undefined, undefined);
    assert.deepEqual(first.snapshot, data, 'sorted as normalize sorts');
    assert.deepEqual(first.tags, { machines: '"machines-1"', units: '"units-1"', states: '"states-1"' });
    data.states[4]!.systemdActiveState = 'failed';
    version.states++;
    asked.length = 0;
    const second = await ClusterSnapshot.fetchChanged(api, undefined, first);
    assert.deepEqual(asked.sort(), [
      ['machines', '"machines-1"'],
      ['states', '"states-1"'],
      ['units', '"units-1"'],
    ]);
    assert.equal(second.snapshot.units, first.snapshot.units);
    assert.equal(second.snapshot.machines, first.snapshot.machines);
    assert.deepEqual(second.snapshot.states, data.states);
    assert.equal(second.tags.states, '"states-2"');
    const { snapshot, diff } = reuseSnapshot(first.snapshot, second.snapshot);
    assert.equal(snapshot.units, first.snapshot.units);
    assert.equal(snapshot.machines, first.snapshot.machines);
    assert.deepEqual(diff, { changed: true, machinesChanged: false, addedUnits: [], removedUnits: [], changedUnits: [data.states[4]!.name] });
    assert.deepEqual(diff, referenceDiff(first.snapshot, snapshot));
    snapshot.states.forEach((s, i) => (i === 4 ? assert.notEqual(s, first.snapshot.states[i]) : assert.equal(s, first.snapshot.states[i])));
  });

  test('without tags (real fleet, the etcd driver) every read is a full one', async () => {
    const data = cluster(5);
    const full = {
      label: 'fleet',
      listMachines: async () => wire(data).machines,
      listUnits: async () => wire(data).units,
      listUnitStates: async () => wire(data).states,
    } as unknown as FleetApi;
    const first = await ClusterSnapshot.fetchChanged(full, undefined, undefined);
    assert.deepEqual(first, { snapshot: data, tags: {} });
    const second = await ClusterSnapshot.fetchChanged(full, undefined, first);
    assert.notEqual(second.snapshot.units, first.snapshot.units);
    assert.deepEqual(second, { snapshot: data, tags: {} });
    // A server that answers without an ETag is asked without one next time.
    const asked: (string | undefined)[] = [];
    const untagged = {
      label: 'fleet over HTTP',
      listIfChanged: async (c: 'machines' | 'units' | 'states', tag: string | undefined) => (asked.push(tag), { items: wire(data)[c], tag: undefined }),
    } as unknown as FleetApi;
    const a = await ClusterSnapshot.fetchChanged(untagged, undefined, undefined);
    await ClusterSnapshot.fetchChanged(untagged, undefined, a);
    assert.deepEqual(asked, [undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});
