import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterContext } from '../../protocol/src/lsp';
import { formatTimespan, inlayHints, parseTimespan, type ServiceContext } from '../src/service';
import { context, cursor, unitDoc } from './fixture';

const M1 = '5911b4a9c0de4f6e9a8b7c6d5e4f3a2b';
const CLUSTER: ClusterContext = {
  machines: [
    { id: M1, primaryIP: '127.0.0.2', metadata: { region: 'us' } },
    { id: 'f00dfeed00000000000000000000000a', metadata: {} },
  ],
  units: ['web@1.service'],
  unitDetails: [{ name: 'web@1.service', desiredState: 'launched', currentState: 'launched', machineID: M1 }],
};

/** Hints in the `$0…$0` range as `line:character label`. */
function hints(fixture: string, ctx: ServiceContext = context(), name = 'web@1.service'): string[] {
  const { text, offset, end } = cursor(fixture);
  return inlayHints(unitDoc(text, name), { start: offset, end }, ctx).map(h => `${h.position.line}:${h.position.character} ${String(h.label)}`);
}

describe('inlay hints', () => {
  test("time spans: systemd's parsing and normal form", () => {
    assert.equal(parseTimespan('90'), 90e6);
    assert.equal(parseTimespan('1min 30'), 90e6);
    assert.equal(parseTimespan('1.5h'), 5400e6);
    assert.equal(parseTimespan('5 fortnights'), undefined);
    assert.equal(parseTimespan('infinity'), undefined);
    assert.equal(formatTimespan(90e6), '1min 30s');
    assert.equal(formatTimespan(86400e6 + 1500), '1d 1ms 500us');
    assert.equal(formatTimespan(0), '0');
  });

  test('specifier expansions for this file, normalised time spans, only in the range', () => {
    const fixture =
      '$0[Unit]\nDescription=Web %n (%p)\n[Service]\nExecStart=/bin/web %i\nTimeoutStartSec=90\nRestartSec=5s\nTimeoutStopSec=2m30s\nExecStop=/bin/web %m$0\nWatchdogSec=120\n';
    assert.deepEqual(hints(fixture), ['1:18 = web@1.service', '1:22 = web', '3:21 = 1', '4:18 = 1min 30s', '6:20 = 2min 30s']);
  });

  test('with the cluster: %m of the machine the unit is scheduled to, MachineID= → IP and metadata', () => {
    const ctx = context({ cluster: CLUSTER });
    assert.deepEqual(hints('$0[Service]\nExecStart=/bin/web %m\n[X-Fleet]\nMachineID=5911b4a9\n$0', ctx), [`1:21 = ${M1}`, '3:18 127.0.0.2 · region=us']);
    // Not scheduled (another name), or an unknown machine: nothing to say.
    assert.deepEqual(hints('$0[Service]\nExecStart=/bin/web %m\n[X-Fleet]\nMachineID=deadbeef\n$0', ctx, 'other.service'), []);
  });
});
