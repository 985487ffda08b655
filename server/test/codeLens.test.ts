import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterContext } from '../../protocol/src/lsp';
import { parseUnitFile, toOptions, unitHash } from '../../unitfile/src';
import { codeLenses } from '../src/service';
import { context, unitDoc } from './fixture';

const M1 = '5911b4a9c0de4f6e9a8b7c6d5e4f3a2b';
const M2 = '85c0e1a2000000000000000000000000';
const M3 = 'f00dfeed00000000000000000000000a';
const WEB = '[Service]\nExecStart=/bin/web\n[X-Fleet]\nMachineMetadata=region=us\n';

function cluster(units: ClusterContext['unitDetails']): ClusterContext {
  return {
    machines: [
      { id: M1, primaryIP: '127.0.0.2', metadata: { region: 'us' } },
      { id: M2, primaryIP: '127.0.0.3', metadata: { region: 'us' } },
      { id: M3, primaryIP: '127.0.0.4', metadata: { region: 'eu' } },
    ],
    units: (units ?? []).map(u => u.name),
    ...(units ? { unitDetails: units } : {}),
  };
}

/** Lenses as `title → command`. */
function lenses(text: string, c: ClusterContext | undefined, name = 'web.service'): string[] {
  return codeLenses(unitDoc(text, name), context({ cluster: c })).map(l => {
    assert.deepEqual(l.range, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
    const cmd = l.command!;
    if (cmd.command) assert.deepEqual(cmd.arguments, [`file:///ws/${name}`]);
    return cmd.command ? `${cmd.title} → ${cmd.command}` : cmd.title;
  });
}

describe('code lens', () => {
  test('nothing when not connected, nor on a drop-in', () => {
    assert.deepEqual(lenses(WEB, undefined), []);
    const dropIn = { ...unitDoc('[Service]\nRestart=always\n', 'web.service', 'file:///ws/web.service.d/x.conf'), dropIn: true };
    assert.deepEqual(codeLenses(dropIn, context({ cluster: cluster([]) })), []);
  });

  test("launched: state with machine and IP, Stop, Journal; eligibility from the scheduler's checks", () => {
    const hash = unitHash(toOptions(parseUnitFile(WEB)));
    assert.deepEqual(lenses(WEB, cluster([{ name: 'web.service', desiredState: 'launched', currentState: 'launched', machineID: M1, hash }])), [
      'launched on 5911b4a9 / 127.0.0.2 → fleet.showUnitStatus',
      'Stop → fleet.stopUnit',
      'Journal → fleet.showUnitJournal',
      'eligible on 2 of 3 machines: 5911b4a9, 85c0e1a2',
    ]);
  });

  test('not in the cluster → Start; differs from the cluster → Replace…', () => {
    assert.deepEqual(lenses('[Service]\nExecStart=/bin/x\n', cluster([])), ['not in the cluster', 'Start → fleet.startUnit']);
    assert.deepEqual(lenses(WEB, cluster([{ name: 'web.service', desiredState: 'launched', machineID: M1, hash: 'a'.repeat(40) }])), [
      'differs from the cluster → fleet.showUnitStatus',
      'Replace… → fleet.replaceUnit',
      'eligible on 2 of 3 machines: 5911b4a9, 85c0e1a2',
    ]);
  });

  test('MachineOf and Conflicts are judged against where the other units run', () => {
    const text = '[X-Fleet]\nMachineOf=db.service\n';
    const units = [{ name: 'db.service', desiredState: 'launched' as const, machineID: M2 }];
    // A MachineOf unit names the machine it must follow.
    assert.deepEqual(lenses(text, cluster(units), 'app.service'), [
      'not in the cluster',
      'Start → fleet.startUnit',
      'eligible on 1 of 3 machines: 85c0e1a2',
      'follows db.service to 85c0e1a2 (127.0.0.3)',
    ]);
    const conflicts = '[X-Fleet]\nConflicts=db*\n';
    assert.deepEqual(lenses(conflicts, cluster(units), 'app.service').at(-1), 'eligible on 2 of 3 machines: 5911b4a9, f00dfeed');
    assert.deepEqual(lenses('[X-Fleet]\nGlobal=true\nMachineMetadata=region=eu\n', cluster([]), 'mon.service').at(-1), 'runs on 1 of 3 machines: f00dfeed');
  });

  test("the cluster's units count with what they require: their Conflicts rule out a unit without its own, and none left gives the engine's reason", () => {
    const nginx = (i: number, machineID: string) => ({
      name: `nginx.${i}.service`,
      desiredState: 'launched' as const,
      machineID,
      xfleet: [{ name: 'Conflicts', value: 'nginx.*.service' }],
    });
    // nginx.4 has no [X-Fleet] of its own; nginx.1's Conflicts=nginx.* still keeps it off nginx.1's machine.
    assert.deepEqual(
      lenses('[Service]\nExecStart=/bin/x\n', cluster([nginx(1, M1)]), 'nginx.4.service').at(-1),
      'eligible on 2 of 3 machines: 85c0e1a2, f00dfeed',
    );
    assert.deepEqual(
      lenses('[Service]\nExecStart=/bin/x\n', cluster([nginx(1, M1), nginx(2, M2), nginx(3, M3)]), 'nginx.4.service').at(-1),
      'no machine can take it now: conflicts with nginx.1.service, nginx.2.service, nginx.3.service on every machine',
    );
    // A unit free to go anywhere gets no placement lens.
    assert.deepEqual(lenses('[Service]\nExecStart=/bin/x\n', cluster([nginx(1, M1)]), 'web.service'), ['not in the cluster', 'Start → fleet.startUnit']);
  });

  test('a template (web@.service): Create Instances…, no Start and no placement (fleet schedules its instances)', () => {
    const template = '[Service]\nExecStart=/bin/web %i\n[X-Fleet]\nConflicts=web@*.service\n';
    const instances = [M1, M2, M3].map((id, i) => ({
      name: `web@${i + 1}.service`,
      desiredState: 'launched' as const,
      currentState: 'launched' as const,
      machineID: id,
    }));
    assert.deepEqual(lenses(template, cluster(instances), 'web@.service'), [
      'template: fleet runs its instances',
      'Create Instances… → fleet.createTemplateInstances',
    ]);
    assert.deepEqual(lenses(template, cluster([{ name: 'web@.service', desiredState: 'inactive' }]), 'web@.service'), [
      'template, in the cluster → fleet.showUnitStatus',
      'Create Instances… → fleet.createTemplateInstances',
    ]);
    assert.ok(lenses(template, cluster(instances), 'web@4.service').includes('Start → fleet.startUnit'), 'an instance is started');
  });

  test('loaded or inactive in the cluster → Start', () => {
    assert.deepEqual(
      lenses('[Service]\nExecStart=/bin/x\n', cluster([{ name: 'web.service', desiredState: 'loaded', currentState: 'loaded', machineID: M3 }])),
      ['loaded on f00dfeed / 127.0.0.4 → fleet.showUnitStatus', 'Start → fleet.startUnit', 'Journal → fleet.showUnitJournal'],
    );
    assert.deepEqual(lenses('[Service]\nExecStart=/bin/x\n', cluster([{ name: 'web.service', desiredState: 'inactive' }])), [
      'inactive in the cluster → fleet.showUnitStatus',
      'Start → fleet.startUnit',
      'Journal → fleet.showUnitJournal',
    ]);
  });
});
