import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import type { ClusterContext } from '../../protocol/src/lsp';
import { planCluster } from '../../scheduler/src/planCluster';
import { requirements, toOptions } from '../../unitfile/src';
import { diagnostics, placement, placementSummary } from '../src/service';
import { context, unitDoc } from './fixture';

const A = '4d389537d9d14bdabe8be54a9c29f68d';
const B = 'b2a1c3d4e5f60718293a4b5c6d7e8f90';
const C = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const cluster: ClusterContext = {
  machines: [
    { id: A, primaryIP: '10.0.0.1', metadata: { region: 'us', disk: 'ssd' } },
    { id: B, primaryIP: '10.0.0.2', metadata: { region: 'us', disk: 'hdd' } },
    { id: C, metadata: { region: 'eu' } },
  ],
  units: [],
};

const placementDiagnostics = (text: string, name = 'web.service') =>
  diagnostics(unitDoc(text, name), context({ cluster }))
    .filter(d => String(d.code).startsWith('xfleet-placement') || d.code === 'xfleet-no-eligible-machine')
    .map(d => [d.code, d.severity, d.message, d.range.start.line]);

describe('placement preview', () => {
  test('the preview is in hover and code lens, not a diagnostic on every file', () => {
    assert.deepEqual(placementDiagnostics('[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=us\n'), []);
    const p = placement(unitDoc('[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=us\n').file, 'web.service', cluster);
    assert.equal(placementSummary(p), 'eligible on 2 of 3 machines: 4d389537, b2a1c3d4');
  });

  test('metadata keys AND, values OR', () => {
    const p = placement(unitDoc('[X-Fleet]\nMachineMetadata="region=us" "region=eu"\nMachineMetadata=disk=ssd\n').file, 'web.service', cluster);
    assert.deepEqual(
      p.eligible.map(m => m.id),
      [A],
    );
    assert.equal(placementSummary(p), 'eligible on 1 of 3 machines: 4d389537');
  });

  test('MachineID by full or short ID; %-specifiers are substituted first', () => {
    assert.deepEqual(
      placement(unitDoc(`[X-Fleet]\nMachineID=${B.slice(0, 8)}\n`).file, 'web.service', cluster).eligible.map(m => m.id),
      [B],
    );
    assert.deepEqual(
      placement(unitDoc('[X-Fleet]\nMachineMetadata=region=%i\n').file, 'web@eu.service', cluster).eligible.map(m => m.id),
      [C],
    );
  });

  test('a template (web@.service) is never scheduled: no warning, even when no machine could take it', () => {
    assert.deepEqual(placementDiagnostics('[X-Fleet]\nMachineMetadata=region=ap\n', 'web@.service'), []);
    assert.equal(placementDiagnostics('[X-Fleet]\nMachineMetadata=region=ap\n', 'web@1.service').length, 1, 'an instance is');
  });

  test("no eligible machine: a warning with the engine's reason", () => {
    assert.deepEqual(placementDiagnostics('[X-Fleet]\nMachineMetadata=region=ap\n'), [
      [
        'xfleet-no-eligible-machine',
        DiagnosticSeverity.Warning,
        "No machine of the connected cluster can run this unit now: no machine has metadata region=ap. Change its [X-Fleet] requirements, or the machines' metadata.",
        0,
      ],
    ]);
    const p = placement(unitDoc('[X-Fleet]\nMachineMetadata=region=ap\n').file, 'web.service', cluster);
    assert.deepEqual(
      p.rejected.map(r => r.reason),
      [A, B, C].map(id => `machine ${id} does not have metadata region=ap`),
    );
  });

  test("words a rejection as the engine does: the scheduler's checks and reasons, not a copy", () => {
    const units = [
      '[X-Fleet]\nMachineMetadata=region=ap\n',
      '[X-Fleet]\nMachineMetadata="region=us" "region=eu"\nMachineMetadata=disk=nvme\n',
      '[X-Fleet]\nMachineID=0123abcd\n',
      '[X-Fleet]\nMachineID=c0ffee00\nMachineMetadata=region=us\n',
    ];
    for (const text of units) {
      const file = unitDoc(text).file;
      const engine = planCluster({
        machines: cluster.machines.map(m => ({ id: m.id, metadata: m.metadata ?? {} })),
        units: [{ name: 'web.service', desiredState: 'launched', requirements: requirements(toOptions(file), 'web.service') }],
      }).reasons.get('web.service');
      assert.ok(engine, text);
      assert.equal(placement(file, 'web.service', cluster).reason, engine, text);
      const [warning] = placementDiagnostics(text);
      assert.equal(
        warning?.[2],
        `No machine of the connected cluster can run this unit now: ${engine}. Change its [X-Fleet] requirements, or the machines' metadata.`,
        text,
      );
    }
  });

  test('global units: runs on', () => {
    assert.equal(
      placementSummary(placement(unitDoc('[X-Fleet]\nGlobal=true\nMachineMetadata=region=eu\n').file, 'mon.service', cluster)),
      'runs on 1 of 3 machines: c0ffee00',
    );
  });

  test('Conflicts, MachineOf and Replaces against the units already in the cluster', () => {
    const busy: ClusterContext = {
      ...cluster,
      unitDetails: [
        { name: 'db.service', desiredState: 'launched', machineID: B, xfleet: [{ name: 'Conflicts', value: 'web*' }] },
        { name: 'old.service', desiredState: 'launched', machineID: A },
      ],
    };
    // db.service's own Conflicts=web* keeps web.service off B, though web.service says nothing of it.
    assert.deepEqual(
      placement(unitDoc('[Service]\nExecStart=/bin/true\n').file, 'web.service', busy).eligible.map(m => m.id),
      [A, C],
    );
    const side = placement(unitDoc('[X-Fleet]\nMachineOf=db.service\n').file, 'side.service', busy);
    assert.deepEqual(
      side.eligible.map(m => m.id),
      [B],
    );
    assert.equal(placementSummary(side), 'eligible on 1 of 3 machines: b2a1c3d4 — follows db.service to b2a1c3d4 (10.0.0.2)');
    // Replaces=old.service: fleet may put it where old.service runs (and move old.service), so A stays eligible.
    assert.deepEqual(
      placement(unitDoc('[X-Fleet]\nReplaces=old.service\n').file, 'new.service', busy).eligible.map(m => m.id),
      [A, B, C],
    );
    // A unit that a neighbour Replaces is ruled out where that neighbour runs.
    const replacing: ClusterContext = {
      ...cluster,
      unitDetails: [{ name: 'v2.service', desiredState: 'launched', machineID: C, xfleet: [{ name: 'Replaces', value: 'v1.service' }] }],
    };
    assert.deepEqual(
      placement(unitDoc('[Service]\nExecStart=/bin/true\n').file, 'v1.service', replacing).eligible.map(m => m.id),
      [A, B],
    );
  });

  test('nothing without a cluster, without machines, or without [X-Fleet]; suppressible', () => {
    const unit = '[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=ap\n';
    assert.deepEqual(diagnostics(unitDoc(unit), context()), []);
    assert.deepEqual(diagnostics(unitDoc(unit), context({ cluster: { machines: [], units: [] } })), []);
    assert.deepEqual(placementDiagnostics('[Service]\nExecStart=/bin/true\n'), []);
    assert.deepEqual(placementDiagnostics('# fleet-disable xfleet-no-eligible-machine\n[X-Fleet]\nMachineMetadata=region=ap\n'), []);
    assert.deepEqual(
      placementDiagnostics('[Service]\nExecStart=/bin/true\n# fleet-disable-next-line xfleet-no-eligible-machine\n[X-Fleet]\nMachineMetadata=region=ap\n'),
      [],
    );
    assert.equal(
      placementDiagnostics('# fleet-disable-next-line xfleet-no-eligible-machine\n[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=ap\n')
        .length,
      1,
      'the next line only',
    );
  });
});
