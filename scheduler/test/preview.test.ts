import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { requirements, type UnitOption } from '../../unitfile/src';
import { previewPlacement, type ClusterSnapshot } from '../src';

const xfleet = (pairs: [string, string][]): UnitOption[] => pairs.map(([name, value]) => ({ section: 'X-Fleet', name, value }));
const unit = (name: string, pairs: [string, string][], machineId?: string) => ({
  name,
  desiredState: 'launched' as const,
  requirements: requirements(xfleet(pairs), name),
  machineId,
});

const cluster: ClusterSnapshot = {
  machines: [
    { id: 'm1', metadata: { region: 'east' } },
    { id: 'm2', metadata: { region: 'west' } },
    { id: 'm3', metadata: { region: 'west' } },
  ],
  units: [unit('nginx.1.service', [['Conflicts', 'nginx.*.service']], 'm1'), unit('nginx.2.service', [['Conflicts', 'nginx.*.service']], 'm2')],
};

describe("placement preview (the scheduler's checks over the cluster as it is)", () => {
  test("the neighbours' Conflicts count; a MachineOf unit names the machine it follows", () => {
    const third = previewPlacement({ name: 'nginx.3.service', requirements: requirements([], 'nginx.3.service') }, cluster);
    assert.deepEqual(
      [third.eligible, third.rejected.map(r => [r.machineId, r.rejection.check, r.rejection.other])],
      [
        ['m3'],
        [
          ['m1', 'conflicts', 'nginx.1.service'],
          ['m2', 'conflicts', 'nginx.2.service'],
        ],
      ],
    );
    const side = previewPlacement({ name: 'side.service', requirements: requirements(xfleet([['MachineOf', 'nginx.2.service']]), 'side.service') }, cluster);
    assert.deepEqual([side.eligible, side.follows], [['m2'], [{ peer: 'nginx.2.service', machineId: 'm2' }]]);
  });

  test("none left: the engine's reason; the unit's own entry in the cluster is judged afresh", () => {
    const east = previewPlacement(
      { name: 'nginx.4.service', requirements: requirements(xfleet([['MachineMetadata', 'region=east']]), 'nginx.4.service') },
      cluster,
    );
    assert.deepEqual(east.eligible, []);
    assert.equal(east.reason, 'conflicts with nginx.1.service on machine m1');
    const again = previewPlacement(
      { name: 'nginx.1.service', requirements: requirements(xfleet([['Conflicts', 'nginx.*.service']]), 'nginx.1.service') },
      cluster,
    );
    assert.deepEqual(again.eligible, ['m1', 'm3'], 'its own placement does not rule it out');
    assert.equal(previewPlacement({ name: 'x.service', requirements: requirements([], 'x.service') }, { machines: [], units: [] }).reason, undefined);
  });
});
