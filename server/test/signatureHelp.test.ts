import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { signatureHelp } from '../src/service';
import { context, cursor, unitDoc } from './fixture';

/** The signature label with the active parameter in «», or null. */
function help(fixture: string): string | null {
  const { text, offset } = cursor(fixture);
  const h = signatureHelp(unitDoc(text), offset, context());
  if (!h) return null;
  const s = h.signatures[0]!;
  assert.ok(
    s.parameters!.every(p => Array.isArray(p.label) && p.documentation),
    'parameters are label ranges with documentation',
  );
  const [a, b] = s.parameters![h.activeParameter!]!.label as [number, number];
  return `${s.label.slice(0, a)}«${s.label.slice(a, b)}»${s.label.slice(b)}`;
}

describe('signature help', () => {
  test('Exec lines: prefixes, executable, arguments', () => {
    assert.equal(help('[Service]\nExecStart=$0'), 'ExecStart=[@-:+!|]«/path/to/executable» [argument …]');
    assert.equal(help('[Service]\nExecStartPre=-$0'), 'ExecStartPre=«[@-:+!|]»/path/to/executable [argument …]');
    assert.equal(help('[Service]\nExecStart=-/bin/web$0'), 'ExecStart=[@-:+!|]«/path/to/executable» [argument …]');
    assert.equal(help('[Service]\nExecStart=/bin/web --port $0'), 'ExecStart=[@-:+!|]/path/to/executable «[argument …]»');
  });

  test('MachineMetadata=, time spans, Environment=', () => {
    assert.equal(help('[X-Fleet]\nMachineMetadata=$0'), 'MachineMetadata=«"key=value"» ["key=value" …]');
    assert.equal(help('[X-Fleet]\nMachineMetadata="region=us" $0'), 'MachineMetadata="key=value" «["key=value" …]»');
    assert.equal(help('[Service]\nTimeoutStartSec=90$0'), 'TimeoutStartSec=«<number>»<unit> […]');
    assert.equal(help('[Service]\nTimeoutStartSec=90m$0'), 'TimeoutStartSec=<number>«<unit>» […]');
    assert.equal(help('[Service]\nEnvironment="A=1" $0'), 'Environment="VAR=value" «["VAR2=value 2" …]»');
  });

  test('nothing before = or for unstructured values', () => {
    assert.equal(help('[Service]\nExec$0Start=/bin/x'), null);
    assert.equal(help('[Unit]\nDescription=$0'), null);
    assert.equal(help('[Service]\nRestart=$0'), null);
  });
});
