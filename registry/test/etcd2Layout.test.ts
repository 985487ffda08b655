/**
 * fleet v1.0.0's values, byte for byte: what fleetd writes in v2 mode against what fleetctl
 * v1.0.0 and fleet's own engine and agent wrote for the same things (golden values in
 * fixtures/fleet-v1.0.0-keyspace.json, with where they came from), and how fleetd reads them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseUnitFile, serializeOptions, sha1Hex, toOptions } from '../../unitfile/src';
import { Keys } from '../src/keyspace';
import {
  decodeJobObject,
  decodeJobs,
  decodeLeader,
  decodeMachine,
  decodeUnitBlob,
  decodeUnitState,
  encodeJobObject,
  encodeLeader,
  encodeMachine,
  encodeUnitBlob,
  encodeUnitState,
  goJsonString,
} from '../src/etcd2/layout';
import { normalizePrefix } from '../src/etcd2/etcd2Registry';

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'fleet-v1.0.0-keyspace.json'), 'utf8'));
const keys = new Keys('/_coreos.com/fleet/');

test('a unit submitted by fleetctl: fleetd writes the same blob, key and object', () => {
  const submit = fx.fleetctlSubmit;
  const raw = serializeOptions(toOptions(parseUnitFile(submit.unitFile)));
  const hash = sha1Hex(raw);
  assert.equal(`unit/${hash}`, submit.writes[0].key);
  assert.equal(encodeUnitBlob(raw), submit.writes[0].value);
  assert.equal(encodeJobObject('hello.service', hash), submit.writes[1].value);
  assert.deepEqual(decodeJobObject(submit.writes[1].value), { name: 'hello.service', hash });
  assert.deepEqual(decodeUnitBlob(submit.writes[0].value)?.options, toOptions(parseUnitFile(submit.unitFile)));
});

test('a template instance carries the template content and hash, as fleetctl writes it', () => {
  const t = fx.fleetctlTemplate;
  const raw = serializeOptions(toOptions(parseUnitFile(t.unitFile)));
  assert.equal(`unit/${sha1Hex(raw)}`, t.blobKey);
  assert.equal(encodeUnitBlob(raw), t.blobValue);
  assert.equal(encodeJobObject('web@.service', sha1Hex(raw)), t.templateObject);
  assert.equal(encodeJobObject('web@2.service', sha1Hex(raw)), t.instanceObject);
});

test("a machine: fleetd's record without its extensions is fleet's, byte for byte; fleet's record reads back", () => {
  const m = fx.fleetMachine;
  const id = m.key.split('/')[1];
  assert.equal(encodeMachine({ id, publicIP: '127.0.0.11', metadata: { role: 'fleet' }, version: 'v1.0.0' }), m.value);
  assert.deepEqual(decodeMachine(m.value), { id, publicIP: '127.0.0.11', metadata: { role: 'fleet' }, version: 'v1.0.0' });
  // fleetd's own extensions ride along as fields Go's decoder ignores.
  const ours = encodeMachine({ id, publicIP: '127.0.0.2', metadata: { b: '2', a: '1' }, version: '1.2.3', journalUrl: 'http://127.0.0.1:9' });
  assert.equal(
    ours,
    `{"ID":"${id}","PublicIP":"127.0.0.2","Metadata":{"a":"1","b":"2"},"Capabilities":{"DISABLE_ENGINE":false,"GRPC":false},"Version":"v1.0.0","JournalURL":"http://127.0.0.1:9","FleetdVersion":"1.2.3"}`,
  );
  assert.deepEqual(decodeMachine(ours), { id, publicIP: '127.0.0.2', metadata: { a: '1', b: '2' }, version: '1.2.3', journalUrl: 'http://127.0.0.1:9' });
  assert.equal(decodeMachine('{"ID":""}'), undefined, 'fleet counts a machine without an ID as gone');
});

test("a unit state: fleetd's is fleet's, byte for byte, and fleet's reads back", () => {
  const s = fx.fleetState;
  const [, name, machineId] = s.key.split('/');
  const record = { name, machineId, hash: JSON.parse(s.value).unitHash, loadState: 'loaded', activeState: 'active', subState: 'running' };
  assert.equal(encodeUnitState(record), s.value);
  assert.deepEqual(decodeUnitState(name, machineId, s.value), record);
  assert.match(encodeUnitState({ ...record, activeState: 'failed', detail: 'ExecStart exited 1' }), /,"detail":"ExecStart exited 1"\}$/);
});

test('the engine lease and version', () => {
  assert.equal(encodeLeader('ceccca69c7bc61d75b5d0d28a563a0be'), fx.engineLease.value);
  assert.deepEqual(decodeLeader(fx.engineLease.value), { machineId: 'ceccca69c7bc61d75b5d0d28a563a0be', version: 1 });
  assert.deepEqual(decodeLeader('oldengine-machine'), { machineId: 'oldengine-machine', version: 0 }, 'a non-JSON value is an older engine');
  assert.equal(fx.engineVersion.value, '1');
});

test("job listings: fleet's rules (Name from the object, bad values skipped)", () => {
  const kvs = new Map<string, string>([
    ['/_coreos.com/fleet/job/e.service/object', '{"Name":"renamed.service","UnitHash":[206,206,211,189,78,49,60,80,25,166,88,113,227,182,99,36,71,45,89,71]}'],
    ['/_coreos.com/fleet/job/e.service/target-state', 'launched'],
    ['/_coreos.com/fleet/job/hex.service/object', '{"Name":"hex.service","UnitHash":"cecec3bd"}'],
    ['/_coreos.com/fleet/job/noobj.service/target-state', 'launched'],
    [
      '/_coreos.com/fleet/job/bogus.service/object',
      '{"Name":"bogus.service","UnitHash":[206,206,211,189,78,49,60,80,25,166,88,113,227,182,99,36,71,45,89,71]}',
    ],
    ['/_coreos.com/fleet/job/bogus.service/target-state', 'bogus'],
  ]);
  assert.deepEqual(
    decodeJobs(keys, kvs).map(j => [j.name, j.desiredState]),
    [['renamed.service', 'launched']],
  );
  kvs.set('/_coreos.com/fleet/job/nostate.service/object', kvs.get('/_coreos.com/fleet/job/bogus.service/object')!.replace('bogus', 'nostate'));
  assert.deepEqual(
    decodeJobs(keys, kvs).map(j => [j.name, j.desiredState]),
    [
      ['nostate.service', undefined],
      ['renamed.service', 'launched'],
    ],
    'no target-state: listed, without one',
  );
});

test("Go's JSON string escapes", () => {
  assert.equal(goJsonString('<a&b>'), '"\\u003ca\\u0026b\\u003e"');
  assert.equal(goJsonString('x\u2028y\u0001\b\f\n\t"\\'), '"x\\u2028y\\u0001\\u0008\\u000c\\n\\t\\"\\\\"');
  assert.equal(goJsonString('ünï ☃'), '"ünï ☃"');
});

test("the key prefix is joined as fleet's path.Join does", () => {
  assert.equal(normalizePrefix('/_coreos.com/fleet/'), '/_coreos.com/fleet/');
  assert.equal(normalizePrefix('/myfleet'), '/myfleet/');
  assert.equal(normalizePrefix('other//pfx/'), '/other/pfx/');
});
