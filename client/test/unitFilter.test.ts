/**
 * The large-cluster decisions of the Units view (client/src/cluster/unitFilter.ts): the automatic
 * grouping above 500 units, the filter's terms, and what the tree shows with both, on a
 * generated snapshot of thousands of units on ten machines.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import { ClusterSnapshot } from '../src/cluster/snapshot';
import { childrenOf, ExplorerOptions, toItem, unitRoots, type ConnectionView } from '../src/cluster/treeItems';
import { AUTO_GROUP_THRESHOLD, decideGrouping, filterRows, parseUnitFilter, unitsViewDescription } from '../src/cluster/unitFilter';
import { unitRows } from '../src/cluster/unitRows';

const machines: ApiMachine[] = Array.from({ length: 10 }, (_, i) => ({ id: `${String(i).repeat(8)}${'a'.repeat(24)}`, primaryIP: `127.0.0.${i + 2}` }));

function cluster(n: number): ClusterSnapshot {
  const units: ApiUnit[] = [];
  const states: ApiUnitState[] = [];
  for (let i = 0; i < n; i++) {
    const machine = machines[i % machines.length]!.id;
    const failed = i % 100 === 7;
    units.push({
      name: i % 2 ? `web@${i}.service` : `worker.${i}.service`,
      desiredState: 'launched',
      currentState: 'launched',
      machineID: machine,
      options: [{ section: 'Service', name: 'ExecStart', value: `/bin/sleep ${i}` }],
    });
    states.push({
      name: units[i]!.name,
      machineID: machine,
      systemdLoadState: 'loaded',
      systemdActiveState: failed ? 'failed' : 'active',
      systemdSubState: failed ? 'failed' : 'running',
    });
  }
  return ClusterSnapshot.normalize({ machines, units, states });
}

const view = (snapshot: ClusterSnapshot): ConnectionView => ({ kind: 'connected', label: 'bench', snapshot });

describe('the Units view with thousands of units', () => {
  test("grouping: the user's choice always; unset, flat up to the threshold, by machine (collapsed) above it, flat again while filtered", () => {
    assert.deepEqual(decideGrouping('flat', 5000, false), { groupBy: 'flat', collapseGroups: false });
    assert.deepEqual(decideGrouping('state', 10, false), { groupBy: 'state', collapseGroups: false });
    assert.deepEqual(decideGrouping(undefined, AUTO_GROUP_THRESHOLD, false), { groupBy: 'flat', collapseGroups: false });
    assert.deepEqual(decideGrouping(undefined, AUTO_GROUP_THRESHOLD + 1, false), { groupBy: 'machine', collapseGroups: true });
    assert.deepEqual(decideGrouping(undefined, 5000, true), { groupBy: 'flat', collapseGroups: false });
  });

  test('filter terms: substring, glob, state:, machine: by ID prefix or IP; all must match', () => {
    const rows = unitRows(cluster(1000));
    const names = (text: string) => filterRows(rows, parseUnitFilter(text).filter, machines).map(r => r.name);
    assert.equal(names('web@').length, 500);
    assert.deepEqual(names('WEB@99*'), ['web@99.service', 'web@991.service', 'web@993.service', 'web@995.service', 'web@997.service', 'web@999.service']);
    assert.equal(names('worker.1?.service').length, 5); // 10, 12, 14, 16, 18
    assert.equal(names('state:failed').length, 10);
    assert.ok(
      names('state:failed').every(n => /^web@(\d*0)?7\.service$/.test(n)),
      names('state:failed').join(),
    );
    assert.equal(names('machine:33333333').length, 100);
    assert.deepEqual(names('machine:127.0.0.5'), names('machine:3333'));
    // worker units are the even ones; failed ones end in 07 (i % 100 === 7) and so are odd: none.
    assert.deepEqual(names('worker state:failed'), []);
    // …and all on machine 7 (i % 10 === 7), whose IP is 127.0.0.9.
    assert.deepEqual(names('web@ state:failed machine:127.0.0.9'), names('state:failed'));
    assert.deepEqual(names('web@ state:failed machine:127.0.0.8'), []);
    assert.equal(names('nothing-like-this').length, 0);
    assert.equal(parseUnitFilter('   ').filter, undefined, 'an empty text is no filter');
  });

  test('a bad term is refused with the fix', () => {
    assert.match(parseUnitFilter('state:broken').error ?? '', /unknown state "broken" in the filter: use one of failed, restarting, .*inactive, unknown/);
    assert.match(parseUnitFilter('machine:').error ?? '', /machine: needs a machine ID prefix or IP/);
  });

  test('5,000 units unset: ten collapsed machine groups at the root, the units under each; a filter shows a flat list of its matches', () => {
    const snapshot = cluster(5000);
    const decision = decideGrouping(undefined, snapshot.units.length, false);
    const options: ExplorerOptions = { ...ExplorerOptions.defaults, groupBy: decision.groupBy, collapseGroups: decision.collapseGroups };
    const roots = unitRoots(view(snapshot), options);
    assert.equal(roots.length, 10);
    assert.ok(roots.every(r => r.kind === 'group' && toItem(r).collapsible === 'collapsed'));
    assert.equal(toItem(roots[0]!).description, '500 units');
    const first = childrenOf(roots[0]!, view(snapshot), options);
    assert.equal(first.length, 500);
    // Machine 0 has the units i % 10 === 0: all even, so all workers, in natural order.
    assert.deepEqual(
      first.slice(0, 2).map(n => n.id),
      [`group:machine:${machines[0]!.id}/unit:worker.0.service`, `group:machine:${machines[0]!.id}/unit:worker.10.service`],
    );
    assert.equal(unitsViewDescription(undefined, 5000, 5000, decision), '5,000 units by machine');

    const filter = parseUnitFilter('web@12*').filter!;
    const filtered = decideGrouping(undefined, snapshot.units.length, true);
    const fOptions: ExplorerOptions = { ...ExplorerOptions.defaults, groupBy: filtered.groupBy, filter };
    const shown = unitRoots(view(snapshot), fOptions);
    // web@ units are the odd ones: 121..129 (5) and 1201..1299 (50); web@12 is even, so a worker.
    assert.deepEqual(shown.map(n => toItem(n).label).slice(0, 3), ['web@121.service', 'web@123.service', 'web@125.service']);
    assert.equal(shown.length, 55);
    assert.ok(
      shown.every(n => n.kind === 'unit' && n.id === `unit:${n.row.name}`),
      'flat rows keep their ids: selection survives filtering',
    );
    assert.equal(unitsViewDescription(filter, shown.length, 5000, filtered), 'filter: web@12* · 55 of 5,000');
  });

  test('the explicit grouping keeps its groups expanded, as before', () => {
    const snapshot = cluster(600);
    const options: ExplorerOptions = { ...ExplorerOptions.defaults, groupBy: 'machine' };
    assert.ok(unitRoots(view(snapshot), options).every(r => toItem(r).collapsible === 'expanded'));
  });

  test('rows are computed once per snapshot (a render asks for them per group and per machine)', () => {
    const snapshot = cluster(50);
    assert.equal(unitRows(snapshot), unitRows(snapshot));
    assert.notEqual(unitRows(cluster(50)), unitRows(snapshot));
  });
});
