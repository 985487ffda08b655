/**
 * Tree updates that keep the views' state (client/src/cluster/treeUpdate.ts): a state change of a
 * unit whose place in the tree stays repaints that unit's node only, in the object VS Code holds;
 * a change of shape (a unit added or removed, a row that moves to another group, machines that
 * change) asks for a full refresh.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import { ClusterSnapshot, diffSnapshots } from '../src/cluster/snapshot';
import { childrenOf, ExplorerOptions, toItem, unitRoots, type ClusterNode, type ConnectionView } from '../src/cluster/treeItems';
import { applyTreeUpdate, planTreeUpdate, ServedTree } from '../src/cluster/treeUpdate';

const machines: ApiMachine[] = [
  { id: 'a'.repeat(32), primaryIP: '127.0.0.2' },
  { id: 'b'.repeat(32), primaryIP: '127.0.0.3' },
];

function snap(n: number, patch: (u: ApiUnit, s: ApiUnitState) => void = () => undefined): ClusterSnapshot {
  const units: ApiUnit[] = [];
  const states: ApiUnitState[] = [];
  for (let i = 0; i < n; i++) {
    const machineID = machines[i % 2]!.id;
    const u: ApiUnit = {
      name: `u${i}.service`,
      desiredState: 'launched',
      currentState: 'launched',
      machineID,
      options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
    };
    const s: ApiUnitState = { name: u.name, machineID, systemdLoadState: 'loaded', systemdActiveState: 'active', systemdSubState: 'running' };
    patch(u, s);
    units.push(u);
    states.push(s);
  }
  return ClusterSnapshot.normalize({ machines, units, states });
}

const view = (s: ClusterSnapshot): ConnectionView => ({ kind: 'connected', label: 'c', snapshot: s });

/** What VS Code does: the root, then the children of the parents it shows expanded. */
function render(served: ServedTree, v: ConnectionView, options: ExplorerOptions, expand: (n: ClusterNode) => boolean): ClusterNode[] {
  const roots = served.serve(undefined, unitRoots(v, options));
  for (const r of roots) if (expand(r)) served.serve(r, childrenOf(r, v, options));
  return roots;
}

describe('tree updates that keep scroll, selection and expansion', () => {
  const flat = ExplorerOptions.defaults;

  test('flat: one unit fails → only its node repaints, in the object VS Code holds, with the new description', () => {
    const before = snap(20);
    const served = new ServedTree();
    const roots = render(served, view(before), flat, () => false);
    const held = roots.find(n => n.id === 'unit:u7.service')!;
    const after = snap(20, (u, s) => {
      if (u.name === 'u7.service') Object.assign(s, { systemdActiveState: 'failed', systemdSubState: 'failed' });
    });
    const plan = planTreeUpdate(served, v => unitRoots(v, flat), view(after), flat, diffSnapshots(before, after));
    assert.equal(plan.full, false);
    const repaint = applyTreeUpdate(plan.full ? [] : plan.changed);
    assert.deepEqual(repaint, [held], 'the same object, nothing else');
    assert.match(toItem(held).description ?? '', /failed/);
    assert.equal(toItem(held).icon.id, 'error');
  });

  test('grouped by machine with a group expanded: a state change inside repaints the unit; the collapsed group gets fresh rows silently', () => {
    const options: ExplorerOptions = { ...flat, groupBy: 'machine' };
    const before = snap(10);
    const served = new ServedTree();
    const groups = render(served, view(before), options, g => g.id === `group:machine:${machines[0]!.id}`);
    const after = snap(10, (u, s) => {
      if (u.name === 'u2.service' || u.name === 'u3.service') s.systemdSubState = 'exited';
    });
    const plan = planTreeUpdate(served, v => unitRoots(v, options), view(after), options, diffSnapshots(before, after));
    assert.equal(plan.full, false);
    const repaint = applyTreeUpdate(plan.full ? [] : plan.changed);
    // u2 is on machine a (expanded, served): repainted. u3 is on machine b (collapsed): not served, nothing to repaint.
    assert.deepEqual(
      repaint.map(n => n.id),
      [`group:machine:${machines[0]!.id}/unit:u2.service`],
    );
    const collapsed = groups.find(g => g.id === `group:machine:${machines[1]!.id}`)!;
    const u3 = childrenOf(collapsed, view(after), options).find(n => n.id.endsWith('u3.service'))!;
    assert.match(toItem(u3).description ?? '', /active \(exited\)/, 'expanding the other group later shows the new state');
  });

  test('a change of shape is a full refresh: added, removed, moved between groups, machines changed, an error node', () => {
    const before = snap(6);
    const check = (after: ClusterSnapshot, options: ExplorerOptions, what: string) => {
      const served = new ServedTree();
      render(served, view(before), options, () => true);
      assert.equal(planTreeUpdate(served, v => unitRoots(v, options), view(after), options, diffSnapshots(before, after)).full, true, what);
    };
    check(snap(7), flat, 'a unit added');
    check(snap(5), flat, 'a unit removed');
    check(
      snap(6, (u, s) => {
        if (u.name === 'u1.service') Object.assign(s, { systemdActiveState: 'failed' });
      }),
      { ...flat, groupBy: 'state' },
      'a row that moves from Launched to Failed',
    );
    check(ClusterSnapshot.normalize({ ...before, machines: [...machines, { id: 'c'.repeat(32) }] }), flat, 'a machine joined');
    const served = new ServedTree();
    render(served, view(before), flat, () => false);
    const stale: ConnectionView = { kind: 'connected', label: 'c', snapshot: before, error: 'connection refused' };
    assert.equal(
      planTreeUpdate(served, v => unitRoots(v, flat), stale, flat, {
        changed: false,
        machinesChanged: false,
        addedUnits: [],
        removedUnits: [],
        changedUnits: [],
      }).full,
      true,
      'the error node appears',
    );
  });

  test('nothing served yet, or no diff: full', () => {
    const s = snap(3);
    assert.equal(planTreeUpdate(new ServedTree(), v => unitRoots(v, flat), view(s), flat, diffSnapshots(s, s)).full, true);
    const served = new ServedTree();
    render(served, view(s), flat, () => false);
    assert.equal(planTreeUpdate(served, v => unitRoots(v, flat), view(s), flat, undefined).full, true);
  });
});
