/** Start's own placement check and what a deploy says: the decisions, on plain data. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiUnit } from '../../protocol/src/api';
import type { ClusterSnapshot } from '../src/cluster/snapshot';
import type { DeployResult } from '../src/deploy/deploy';
import { localUnitFromText } from '../src/deploy/localUnit';
import { unplaceableOnStart } from '../src/deploy/placementCheck';
import { deployReport, placementQuestion, unplaceableAction } from '../src/deploy/report';

const M = ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)];

function local(name: string, xfleet: string) {
  const r = localUnitFromText(name, `[Service]\nExecStart=/bin/true\n[X-Fleet]\n${xfleet}\n`);
  assert.ok('unit' in r);
  return r.unit;
}

function registryUnit(name: string, xfleet: string, machineID?: string): ApiUnit {
  return {
    name,
    desiredState: 'launched',
    currentState: machineID ? 'launched' : 'inactive',
    options: local(name, xfleet).options,
    ...(machineID ? { machineID } : {}),
  } as ApiUnit;
}

/** The article's cluster: three nginx units with Conflicts=nginx.*, one on each machine. */
const cluster: ClusterSnapshot = {
  machines: M.map((id, i) => ({ id, primaryIP: `127.0.0.${i + 2}`, metadata: { region: i === 0 ? 'east' : 'west' } })),
  units: [1, 2, 3].map(i => registryUnit(`nginx.${i}.service`, 'Conflicts=nginx.*.service', M[i - 1])),
  states: [],
};

describe("Start's placement check (the scheduler's planCluster over the snapshot)", () => {
  test('a fourth nginx conflicts with the three on every machine', () => {
    assert.deepEqual(unplaceableOnStart(cluster, [{ name: 'nginx.4.service', local: local('nginx.4.service', 'Conflicts=nginx.*.service') }]), [
      { name: 'nginx.4.service', reason: 'conflicts with nginx.1.service, nginx.2.service, nginx.3.service on every machine' },
    ]);
  });

  test("the others' Conflicts count too: a unit without its own is still ruled out by theirs", () => {
    assert.deepEqual(
      unplaceableOnStart(cluster, [{ name: 'nginx.5.service', local: local('nginx.5.service', 'MachineMetadata=region=west') }]).map(u => u.name),
      ['nginx.5.service'],
    );
  });

  test('metadata no machine has; a MachineOf peer that is placeable is fine, one that is not is named', () => {
    assert.deepEqual(unplaceableOnStart(cluster, [{ name: 'db.service', local: local('db.service', 'MachineMetadata=region=mars') }]), [
      { name: 'db.service', reason: 'no machine has metadata region=mars' },
    ]);
    assert.deepEqual(unplaceableOnStart(cluster, [{ name: 'side.service', local: local('side.service', 'MachineOf=nginx.1.service') }]), []);
    const blocked = unplaceableOnStart(cluster, [{ name: 'side.service', local: local('side.service', 'MachineOf=ghost.service') }]);
    assert.equal(blocked.length, 1);
    assert.match(blocked[0]!.reason, /ghost\.service/);
  });

  test('units started together are judged together: nginx 1-3 and the sidekick on an empty cluster all fit', () => {
    const empty: ClusterSnapshot = { ...cluster, units: [] };
    const starting = [1, 2, 3].map(i => ({ name: `nginx.${i}.service`, local: local(`nginx.${i}.service`, 'Conflicts=nginx.*.service') }));
    assert.deepEqual(unplaceableOnStart(empty, [...starting, { name: 'side.service', local: local('side.service', 'MachineOf=nginx.1.service') }]), []);
    assert.deepEqual(unplaceableOnStart({ ...empty, machines: [] }, starting.slice(0, 1)), [{ name: 'nginx.1.service', reason: 'no machines in the cluster' }]);
  });

  test('a registry unit without a local file is judged by its registry copy', () => {
    const withWaiting: ClusterSnapshot = {
      ...cluster,
      units: [...cluster.units, { ...registryUnit('nginx.4.service', 'Conflicts=nginx.*.service'), desiredState: 'loaded' } as ApiUnit],
    };
    assert.equal(unplaceableOnStart(withWaiting, [{ name: 'nginx.4.service' }]).length, 1);
  });
});

const result = (name: string, ok: boolean, message: string, extra: Partial<DeployResult> = {}): DeployResult => ({ name, ok, message, warnings: [], ...extra });

describe('what a deploy says: one message, at most one action', () => {
  test('an unplaceable unit: the machines for metadata, the file for conflicts', () => {
    assert.deepEqual(unplaceableAction('db.service', 'no machine has metadata region=mars', true), { kind: 'machines', label: 'Show Machines' });
    assert.deepEqual(unplaceableAction('n.service', 'conflicts with nginx.1.service on every machine', true), {
      kind: 'open',
      label: 'Open Unit',
      unit: 'n.service',
    });
    assert.deepEqual(unplaceableAction('n.service', 'conflicts with nginx.1.service on every machine', false), { kind: 'machines', label: 'Show Machines' });
    const r = deployReport(
      [result('db.service', false, 'Unit db.service cannot be placed: no machine has metadata region=mars', { unplaceable: true })],
      () => true,
    );
    assert.deepEqual(r, {
      level: 'error',
      message: 'Unit db.service cannot be placed: no machine has metadata region=mars',
      action: { kind: 'machines', label: 'Show Machines' },
    });
  });

  test('several failures: one summary, the advice once, what did work after', () => {
    const advice = 'Raise fleet.deploy.timeoutSeconds or check the unit in the Fleet explorer.';
    const slow = (n: string) =>
      result(n, false, `Unit ${n} did not become launched within 60s (current state inactive). ${advice}`, {
        summary: `Unit ${n} did not become launched within 60s (current state inactive)`,
        advice,
      });
    const report = deployReport(
      [
        slow('a.service'),
        slow('b.service'),
        result('c.service', false, 'Unit c.service cannot be placed: no machine has metadata region=mars', { unplaceable: true }),
        result('d.service', true, 'Unit d.service launched on 4d389537.../127.0.0.2'),
      ],
      () => false,
    );
    assert.equal(
      report.message,
      '3 of 4 units failed: a.service did not become launched within 60s (current state inactive); b.service did not become launched within 60s (current state inactive); ' +
        `c.service cannot be placed: no machine has metadata region=mars. ${advice} Done: d.service launched on 4d389537.../127.0.0.2.`,
    );
    assert.equal(report.message.split(advice).length - 1, 1, 'the advice is said once');
    assert.deepEqual(report.action, { kind: 'log', label: 'Show Log' });
    const allUnplaceable = deployReport(
      [1, 2].map(i => result(`n${i}.service`, false, `Unit n${i}.service cannot be placed: conflicts with x on every machine`, { unplaceable: true })),
      () => true,
    );
    assert.deepEqual(allUnplaceable.action, { kind: 'machines', label: 'Show Machines' });
    assert.deepEqual(
      deployReport(
        [result('a.service', true, 'Unit a.service submitted (inactive)'), result('b.service', true, 'Unit b.service submitted (inactive)')],
        () => true,
      ),
      { level: 'info', message: '2 units done: a.service submitted (inactive); b.service submitted (inactive)' },
    );
  });

  test('a unit that ran and failed: its journal is the one action (the message says "see Fleet: Show Journal")', () => {
    const loop = result('loop.service', false, 'Unit loop.service started, but it keeps failing on 4d389537...: status=1/FAILURE; see Fleet: Show Journal.', {
      failing: true,
    });
    assert.deepEqual(deployReport([loop], () => true).action, { kind: 'journal', label: 'Show Journal', unit: 'loop.service' });
    const done = result('d.service', true, 'Unit d.service launched on 4d389537.../127.0.0.2');
    assert.deepEqual(deployReport([loop, done], () => true).action, { kind: 'journal', label: 'Show Journal', unit: 'loop.service' }, 'one of several failed');
    assert.deepEqual(deployReport([loop, { ...loop, name: 'loop2.service' }], () => true).action, { kind: 'log', label: 'Show Log' }, 'two journals: the log');
    const slow = result('s.service', false, 'Unit s.service did not become launched within 60s (current state inactive)');
    assert.deepEqual(deployReport([slow], () => true).action, { kind: 'log', label: 'Show Log' }, 'it never ran: the log');
  });

  test('Start asks first: one unit with its reason and action, several listed in the detail', () => {
    const one = placementQuestion([{ name: 'db.service', reason: 'no machine has metadata region=mars' }], 1, 'the local cluster', 'start', () => true);
    assert.equal(one.message, 'No machine of the local cluster can take db.service now: no machine has metadata region=mars. Start it anyway?');
    assert.equal(one.detail, 'Started anyway, fleet keeps it in the registry, waiting, until a machine qualifies.');
    assert.equal(one.proceed, 'Start Anyway');
    assert.equal(one.action.label, 'Show Machines');
    const two = placementQuestion(
      [
        { name: 'a.service', reason: 'r1' },
        { name: 'b.service', reason: 'r2' },
      ],
      3,
      'prod',
      'load',
      () => true,
    );
    assert.equal(two.message, 'No machine of prod can take 2 of the 3 units now. Load anyway?');
    assert.equal(two.detail, 'a.service: r1\nb.service: r2\n\nLoaded anyway, fleet keeps them in the registry, waiting, until a machine qualifies.');
  });
});
