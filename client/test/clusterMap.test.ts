/**
 * The cluster map's model, from the article's sample units (read from samples/) placed by the
 * scheduler's own planCluster: boxes, chips by state, the waiting lane with its reason, the edges,
 * aggregation, and "what if a machine is hidden".
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import { planCluster } from '../../scheduler/src';
import { parseUnitFile } from '../../unitfile/src';
import { clusterMap, mapEdges, MapRowCache, schedulerSnapshot, whatIfHidden } from '../src/cluster/clusterMap';
import { edgesOf } from '../src/cluster/mapEdges';
import { ClusterSnapshot, diffSnapshots } from '../src/cluster/snapshot';

const SAMPLES = join(__dirname, '../../samples');

function sample(file: string, as = file): ApiUnit {
  const parsed = parseUnitFile(readFileSync(join(SAMPLES, file), 'utf8'));
  return { name: as, desiredState: 'launched', options: parsed.options.map(o => ({ section: o.section, name: o.name, value: o.value })) };
}

const MACHINES: ApiMachine[] = [
  { id: 'aaaa1111', primaryIP: '127.0.0.11', metadata: { role: 'web' } },
  { id: 'bbbb2222', primaryIP: '127.0.0.12' },
  { id: 'cccc3333', primaryIP: '127.0.0.13' },
];

/** Places the units the way fleetd's engine does (planCluster), and reports them launched. */
function placed(units: ApiUnit[], machines = MACHINES): ClusterSnapshot {
  const plan = planCluster(schedulerSnapshot({ machines, units, states: [] }));
  const target = new Map<string, string>();
  for (const a of plan.actions) if (a.kind === 'schedule') target.set(a.unit, a.machineId);
  const out: ApiUnit[] = units.map(u => {
    const machineID = target.get(u.name);
    return machineID ? { ...u, machineID, currentState: 'launched' } : { ...u, currentState: 'inactive', reason: plan.reasons.get(u.name)! };
  });
  const states: ApiUnitState[] = out
    .filter(u => u.machineID)
    .map(u => ({ name: u.name, machineID: u.machineID!, systemdActiveState: 'active', systemdSubState: 'running', systemdLoadState: 'loaded' }));
  return ClusterSnapshot.normalize({ machines, units: out, states });
}

const ARTICLE = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-discovery.1.service'].map(f => sample(f));

describe('clusterMap', () => {
  test('the article: three nginx units on three machines, the sidekick next to nginx.1', () => {
    const map = clusterMap(placed(ARTICLE));
    assert.deepEqual(
      map.machines.map(m => [m.shortId, m.ip, m.metadata]),
      [
        ['aaaa1111', '127.0.0.11', 'role=web'],
        ['bbbb2222', '127.0.0.12', '-'],
        ['cccc3333', '127.0.0.13', '-'],
      ],
    );
    const where = new Map(map.machines.flatMap(m => m.chips!.map(c => [c.name, m.id] as const)));
    assert.equal(new Set(['nginx.1.service', 'nginx.2.service', 'nginx.3.service'].map(n => where.get(n))).size, 3);
    assert.equal(where.get('nginx-discovery.1.service'), where.get('nginx.1.service'));
    const chip = map.machines.flatMap(m => m.chips!).find(c => c.name === 'nginx.1.service')!;
    assert.deepEqual([chip.display, chip.stateLabel, chip.color], ['launched', 'Launched', 'testing.iconPassed']);
    assert.deepEqual(map.waiting, []);
    assert.deepEqual(map.global, []);
    const edges = mapEdges(map)
      .map(e => `${e.from} ${e.kind} ${e.to}`)
      .sort();
    assert.ok(edges.includes('nginx-discovery.1.service machineOf nginx.1.service'));
    // Conflicts=nginx.*.service resolved against the cluster's names, never the unit itself.
    assert.deepEqual(
      edges.filter(e => e.startsWith('nginx.1.service ')),
      ['nginx.1.service conflicts nginx.2.service', 'nginx.1.service conflicts nginx.3.service'],
    );
    // One unit's edges, both ways, as the webview asks for them.
    const names = map.machines.flatMap(m => m.chips!.map(c => c.name));
    assert.deepEqual(
      edgesOf('nginx.1.service', map.relations, names)
        .map(e => `${e.from} ${e.kind} ${e.to}`)
        .sort(),
      [
        'nginx-discovery.1.service machineOf nginx.1.service',
        'nginx.1.service conflicts nginx.2.service',
        'nginx.1.service conflicts nginx.3.service',
        'nginx.2.service conflicts nginx.1.service',
        'nginx.3.service conflicts nginx.1.service',
      ],
    );
    assert.deepEqual(map.relations['nginx-discovery.1.service'], { machineOf: ['nginx.1.service'] });
  });

  test('a fourth nginx waits in the lane with the engine reason', () => {
    const map = clusterMap(placed([...ARTICLE, sample('nginx.1.service', 'nginx.4.service')]));
    assert.equal(map.waiting.length, 1);
    const w = map.waiting[0]!;
    assert.equal(w.name, 'nginx.4.service');
    assert.equal(w.display, 'unplaceable');
    assert.match(w.reason, /^conflicts with nginx\.1\.service, nginx\.2\.service, nginx\.3\.service on every machine$/);
  });

  test('global units form a band and count on every machine', () => {
    const monitor = sample('monitor.service');
    const snap = placed(ARTICLE);
    const withGlobal = ClusterSnapshot.normalize({
      ...snap,
      units: [...snap.units, { ...monitor, options: [...monitor.options!, { section: 'X-Fleet', name: 'Global', value: 'true' }], currentState: 'launched' }],
      states: [
        ...snap.states,
        ...MACHINES.map(m => ({ name: 'monitor.service', machineID: m.id, systemdActiveState: m.id === 'bbbb2222' ? 'failed' : 'active' })),
      ],
    });
    const map = clusterMap(withGlobal);
    assert.deepEqual(
      map.global.map(c => [c.name, c.display]),
      [['monitor.service', 'failed']],
    );
    const b = map.machines.find(m => m.id === 'bbbb2222')!;
    assert.equal(b.counts.failed, 1);
    assert.equal(b.total, b.chips!.length + 1);
  });

  test('a machine above maxChips shows counts by state instead of chips', () => {
    const units: ApiUnit[] = Array.from({ length: 30 }, (_, i) => ({
      name: `u${i}.service`,
      desiredState: 'launched',
      options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
    }));
    const map = clusterMap(placed(units, MACHINES.slice(0, 1)), { maxChips: 10 });
    assert.equal(map.machines[0]!.chips, undefined);
    assert.deepEqual(map.machines[0]!.counts, { launched: 30 });
    assert.equal(map.machines[0]!.total, 30);
    assert.equal(clusterMap(placed(units, MACHINES.slice(0, 1)), { maxChips: 30 }).machines[0]!.chips!.length, 30);
  });
});

describe('MapRowCache', () => {
  test('a change rebuilds the units the diff names and gives the map a fresh build gives', () => {
    const before = placed(ARTICLE);
    const cache = new MapRowCache();
    clusterMap(before, { cache });
    const failed = ClusterSnapshot.normalize({
      ...before,
      states: before.states.map(st => (st.name === 'nginx.2.service' ? { ...st, systemdActiveState: 'failed' } : st)),
    });
    const since = { snapshot: before, diff: diffSnapshots(before, failed) };
    assert.deepEqual(since.diff.changedUnits, ['nginx.2.service']);
    const incremental = clusterMap(failed, { cache, since });
    assert.deepEqual(incremental, clusterMap(failed));
    assert.equal(incremental.machines.flatMap(m => m.chips!).find(c => c.name === 'nginx.2.service')!.display, 'failed');
    // And back, from the base the cache now holds.
    const other = clusterMap(before, { cache, since: { snapshot: failed, diff: diffSnapshots(failed, before) } });
    assert.deepEqual(other, clusterMap(before));
  });
});

describe('what if a machine is hidden (planCluster)', () => {
  test('nginx.1 and its sidekick have nowhere to go: they wait, with the scheduler reason', () => {
    const snap = placed(ARTICLE);
    const m1 = snap.units.find(u => u.name === 'nginx.1.service')!.machineID!;
    const result = whatIfHidden(snap, m1);
    assert.equal(result.hidden, m1);
    assert.deepEqual(
      result.moves.map(m => [m.unit, m.from, m.to]),
      [
        ['nginx-discovery.1.service', m1, undefined],
        ['nginx.1.service', m1, undefined],
      ],
    );
    assert.match(result.moves[1]!.reason, /^conflicts with nginx\.\d\.service, nginx\.\d\.service on every machine$/);
    assert.match(result.moves[0]!.reason, /nginx\.1\.service/);
  });

  test('with a fourth machine the pair moves together', () => {
    const machines = [...MACHINES, { id: 'dddd4444', primaryIP: '127.0.0.14' }];
    const snap = placed(ARTICLE, machines);
    const m1 = snap.units.find(u => u.name === 'nginx.1.service')!.machineID!;
    const { moves } = clusterMap(snap, { hide: m1 }).whatIf!;
    const free = machines.find(m => !snap.units.some(u => u.machineID === m.id))!.id;
    assert.deepEqual(
      moves.map(m => [m.unit, m.to]),
      [
        ['nginx-discovery.1.service', free],
        ['nginx.1.service', free],
      ],
    );
    assert.match(moves[0]!.reason, /^with its MachineOf peer nginx\.1\.service/);
  });

  test('an unknown machine is a clear error', () => {
    assert.throws(() => whatIfHidden(placed(ARTICLE), 'nope'), /machine nope is not in the cluster; pick one of aaaa1111, bbbb2222, cccc3333/);
  });
});
