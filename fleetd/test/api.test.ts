/**
 * fleet's v1 API (fleet-reference §3, cases 58–60) over real HTTP on 127.0.0.1 against a
 * MemoryRegistry: routing, every status code and message, PUT's decision order, derived
 * currentState, pagination, PATCH /machines, 503/500/413, and the unix socket.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { unitHash, validateOptions, validateUnitName } from '../../unitfile/src';
import { createApiServer } from '../src/api';
import { encodePageToken } from '../../registry/src/api/pagination';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { RegistryUnavailableError, type Registry } from '../../registry/src/registry';
import { ApiClient, errorBody, HELLO_OPTIONS, startApi, type ApiFixture } from './apiHarness';
import { saveUnitState, scheduleUnit, setLaunched } from '../../registry/test/registryOps';

const U = '/fleet/v1/units';

describe('API routing and errors', () => {
  let f: ApiFixture;
  before(async () => (f = await startApi()));
  after(async () => f.close());

  test('paths fleet does not serve: 405 or 404 with an empty message; Server header', async () => {
    const cases: [string, string, number][] = [
      ['GET', '/', 405],
      ['GET', '/fleet/v1', 405],
      ['GET', '/v1-alpha', 405],
      ['GET', '/fleet/v1/', 404],
      ['GET', '/nope', 404],
      ['GET', '/fleet/v1/units/', 404],
      ['GET', '/fleet/v1/units/a/b', 404],
      ['GET', '/fleet/v1/machines/', 404],
      ['GET', '/fleet/v1/state/', 404],
      ['GET', '/fleet/v1/unknown', 404],
      ['GET', '/fleet/v2/units', 404],
    ];
    for (const [method, p, code] of cases) {
      const r = await f.api.request(method, p);
      assert.equal(r.status, code, `${method} ${p}`);
      assert.deepEqual(r.json, errorBody(code), `${method} ${p}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(String(r.headers.server), /^fleetd\//);
    }
  });

  test('methods a resource does not support: fleet messages', async () => {
    const cases: [string, string, number, string][] = [
      ['POST', U, 405, 'only GET supported against this resource'],
      ['DELETE', U, 405, 'only GET supported against this resource'],
      ['POST', `${U}/a.service`, 405, 'only GET, PUT and DELETE supported against this resource'],
      ['PATCH', `${U}/a.service`, 405, 'only GET, PUT and DELETE supported against this resource'],
      ['POST', '/fleet/v1/state', 405, 'only GET supported against this resource'],
      ['DELETE', '/fleet/v1/state/a.service', 405, 'only GET supported against this resource'],
      ['PUT', '/fleet/v1/machines', 405, 'only GET and PATCH supported against this resource'],
      ['POST', '/fleet/v1/discovery', 400, 'only HTTP GET supported against this resource'],
      ['POST', '/v1-alpha/units', 405, 'only GET supported against this resource'],
    ];
    for (const [method, p, code, message] of cases) {
      const r = await f.api.request(method, p);
      assert.deepEqual([r.status, r.json], [code, errorBody(code, message)], `${method} ${p}`);
    }
  });

  test('discovery document', async () => {
    const r = await f.api.get('/fleet/v1/discovery?alt=json');
    assert.equal(r.status, 200);
    const doc = r.json as {
      id: string;
      resources: Record<string, { methods: Record<string, { id: string; path: string }> }>;
      schemas: Record<string, unknown>;
    };
    assert.equal(doc.id, 'fleet:v1');
    assert.equal(doc.resources.Units?.methods.Set?.id, 'fleet.Unit.Set');
    assert.equal(doc.resources.UnitState?.methods.List?.path, 'state');
    assert.deepEqual(Object.keys(doc.schemas).sort(), ['Machine', 'MachinePage', 'Unit', 'UnitOption', 'UnitPage', 'UnitState', 'UnitStatePage']);
    assert.equal((await f.api.get('/v1-alpha/discovery')).status, 200);
  });

  test('empty collections are {}', async () => {
    for (const p of [U, '/fleet/v1/state', '/fleet/v1/machines', '/v1-alpha/units?alt=json']) {
      const r = await f.api.get(p);
      assert.deepEqual([r.status, r.text], [200, '{}'], p);
    }
  });
});

describe('PUT /units/{name}: fleet decision order (case 59)', () => {
  let f: ApiFixture;
  before(async () => (f = await startApi()));
  after(async () => f.close());

  const put = (name: string, body: unknown, headers?: [string, string][]) =>
    f.api.request('PUT', `${U}/${name}?alt=json`, { body: typeof body === 'string' ? body : JSON.stringify(body), ...(headers ? { headers } : {}) });

  test('415: Content-Type missing, repeated or not JSON; parameters accepted', async () => {
    const body = { name: 'ct.service', options: HELLO_OPTIONS };
    assert.deepEqual(
      (await put('ct.service', body, [['Content-Type', 'text/plain']])).json,
      errorBody(415, 'only acceptable Content-Type is application/json'),
    );
    assert.deepEqual((await put('ct.service', body, [])).json, errorBody(415, 'expected 1 Content-Type, got 0'));
    assert.deepEqual(
      (
        await put('ct.service', body, [
          ['Content-Type', 'application/json'],
          ['Content-Type', 'application/json'],
        ])
      ).json,
      errorBody(415, 'expected 1 Content-Type, got 2'),
    );
    // 415 wins over a bad body and a bad name.
    assert.equal((await put('bad%20name', 'garbage', [['Content-Type', 'text/plain']])).status, 415);
    assert.equal((await put('ct.service', body, [['Content-Type', ' application/json ; charset=utf-8']])).status, 201);
  });

  test("400: Go's JSON errors, wrapped as fleet does", async () => {
    const cases: [string, string][] = [
      ['', 'unable to decode body: EOF'],
      ['   ', 'unable to decode body: EOF'],
      ['{"name":', 'unable to decode body: unexpected EOF'],
      ['{"name":"x.service"', 'unable to decode body: unexpected EOF'],
      ['nope', "unable to decode body: invalid character 'o' in literal null (expecting 'u')"],
      ['xyz', "unable to decode body: invalid character 'x' looking for beginning of value"],
      ['{name:1}', "unable to decode body: invalid character 'n' looking for beginning of object key string"],
      ['{"name" 1}', "unable to decode body: invalid character '1' after object key"],
      ['{"name":"a" "b"}', `unable to decode body: invalid character '"' after object key:value pair`],
      ['{"options":[1 2]}', "unable to decode body: invalid character '2' after array element"],
      ['{"name":"a\\qb"}', "unable to decode body: invalid character 'q' in string escape code"],
      ['{"name":"a\nb"}', "unable to decode body: invalid character '\\n' in string literal"],
      ['{"name":-x}', "unable to decode body: invalid character 'x' in numeric literal"],
      ['{"name":1}', 'unable to decode body: json: cannot unmarshal number into Go struct field Unit.name of type string'],
      ['{"options":"x"}', 'unable to decode body: json: cannot unmarshal string into Go struct field Unit.options of type []*schema.UnitOption'],
      [
        '{"options":[{"section":"Unit","name":"A","value":true}]}',
        'unable to decode body: json: cannot unmarshal bool into Go struct field UnitOption.options.value of type string',
      ],
      ['[]', 'unable to decode body: json: cannot unmarshal array into Go value of type schema.Unit'],
      // Verified against Go 1.19's encoding/json: the first mismatch in document order; bytes, not runes.
      ['{"desiredState":5,"name":7}', 'unable to decode body: json: cannot unmarshal number into Go struct field Unit.desiredState of type string'],
      ['{"machineID":[],"currentState":{}}', 'unable to decode body: json: cannot unmarshal array into Go struct field Unit.machineID of type string'],
      ['\ufeff{}', "unable to decode body: invalid character 'ï' looking for beginning of value"],
      ['{"name":1.x}', "unable to decode body: invalid character 'x' after decimal point in numeric literal"],
      ['{"name":1e+}', "unable to decode body: invalid character '}' in exponent of numeric literal"],
      ['{"name":"\\u12g4"}', "unable to decode body: invalid character 'g' in \\u hexadecimal character escape"],
      ['{"options":[{"section":"Unit","name":"A","value":"1"},null]}', 'unable to decode body: options[1] is null (expected {"section","name","value"})'],
    ];
    for (const [body, message] of cases) {
      const r = await put('json.service', body);
      assert.deepEqual([r.status, r.json], [400, errorBody(400, message)], JSON.stringify(body));
    }
    assert.equal(await f.registry.getUnit('json.service'), undefined);
    // Go's Decoder reads one value: trailing bytes are ignored.
    assert.equal((await put('json.service', `${JSON.stringify({ options: HELLO_OPTIONS })} trailing {garbage`)).status, 201);
  });

  test('400: URL and body names differ; invalid names get the unitfile message', async () => {
    assert.deepEqual(
      (await put('a.service', { name: 'b.service', options: HELLO_OPTIONS })).json,
      errorBody(400, 'name in URL "a.service" differs from unit name in request body "b.service"'),
    );
    for (const name of ['new.bogus', 'noext', 'trailing.', 'bad%20char.service', '%40x.service', 'tmpl%40.mount']) {
      const decoded = decodeURIComponent(name);
      const r = await put(name, { options: HELLO_OPTIONS });
      const expected = validateUnitName(decoded);
      assert.ok(expected, decoded);
      assert.deepEqual([r.status, r.json], [400, errorBody(400, expected)], decoded);
    }
    assert.deepEqual((await put('new.bogus', { options: HELLO_OPTIONS })).json, errorBody(400, 'invalid unit type: "bogus"'));
  });

  test('create, state updates, replace, and the 409s', async () => {
    assert.deepEqual((await put('hello.service', { desiredState: 'launched' })).json, errorBody(409, 'unit does not exist and options field empty'));
    assert.deepEqual((await put('hello.service', { name: 'hello.service', options: [] })).json, errorBody(409, 'unit does not exist and options field empty'));
    const created = await put('hello.service', { name: 'hello.service', options: HELLO_OPTIONS });
    assert.deepEqual([created.status, created.text], [201, '']);
    assert.deepEqual((await f.api.get(`${U}/hello.service?alt=json`)).json, {
      name: 'hello.service',
      options: [
        { section: 'Unit', name: 'Description', value: 'Hello' },
        { section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' },
      ],
      desiredState: 'inactive',
      currentState: 'inactive',
    });
    assert.deepEqual((await put('hello.service', {})).json, errorBody(409, 'must provide DesiredState to update existing unit'));
    const updated = await put('hello.service', { desiredState: 'launched', name: 'hello.service' });
    assert.deepEqual([updated.status, updated.text], [204, '']);
    assert.equal((await f.registry.getUnit('hello.service'))?.desiredState, 'launched');
    // Same options (same hash) fall through to the state update.
    assert.equal((await put('hello.service', { options: HELLO_OPTIONS, desiredState: 'loaded' })).status, 204);
    assert.equal((await put('hello.service', { options: HELLO_OPTIONS })).status, 409);
    // Different options replace the unit and reset it to inactive (fleetctl --replace).
    const replaced = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 5' }];
    assert.equal((await put('hello.service', { options: replaced })).status, 201);
    const after = await f.registry.getUnit('hello.service');
    assert.deepEqual([after?.desiredState, after?.hash], ['inactive', unitHash(replaced)]);
    // ... or to the state the body asks for.
    assert.equal((await put('hello.service', { options: HELLO_OPTIONS, desiredState: 'loaded' })).status, 201);
    assert.equal((await f.registry.getUnit('hello.service'))?.desiredState, 'loaded');
  });

  test('desiredState outside the enum is a 400 (fleetd fixes fleet)', async () => {
    await put('ds.service', { options: HELLO_OPTIONS });
    for (const body of [
      { desiredState: 'whatever' },
      { options: HELLO_OPTIONS, desiredState: 'bogus' },
      { name: 'ds2.service', options: HELLO_OPTIONS, desiredState: 'Launched' },
    ]) {
      const name = body.name ?? 'ds.service';
      const r = await put(name, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match((r.json as { error: { message: string } }).error.message, /^invalid desiredState ".*": expected inactive, loaded or launched$/);
    }
    assert.equal((await f.registry.getUnit('ds.service'))?.desiredState, 'inactive');
    assert.equal(await f.registry.getUnit('ds2.service'), undefined);
  });

  test('ValidateOptions on create: the unitfile message; not on replace (fleet)', async () => {
    const bad = [
      { section: 'Service', name: 'ExecStart', value: '/bin/true' },
      { section: 'X-Fleet', name: 'Conflicts', value: 'a.service' },
      { section: 'X-Fleet', name: 'Replaces', value: 'foo.service' },
    ];
    const r = await put('vo.service', { options: bad });
    assert.deepEqual([r.status, r.json], [400, errorBody(400, 'Conflicts cannot be used with Replaces')]);
    assert.equal(validateOptions(bad), 'Conflicts cannot be used with Replaces');
    const peer = [
      { section: 'X-Fleet', name: 'MachineOf', value: 'foo.service' },
      { section: 'X-Fleet', name: 'Conflicts', value: 'foo.service' },
    ];
    assert.deepEqual(
      (await put('vo.service', { options: peer })).json,
      errorBody(400, 'unresolvable requirements: peer "foo.service" matches conflict "foo.service"'),
    );
    const longLine = [{ section: 'Service', name: 'ExecStart', value: 'a'.repeat(3000) }];
    assert.deepEqual((await put('vo.service', { options: longLine })).json, errorBody(400, validateOptions(longLine)!));
    assert.equal(await f.registry.getUnit('vo.service'), undefined);
    await put('vo.service', { options: HELLO_OPTIONS });
    assert.equal((await put('vo.service', { options: bad })).status, 201, 'fleet skips ValidateOptions on replacement');
  });

  test('templates: %40 decoding, no activation, no creation already active (fleetd fixes fleet)', async () => {
    assert.equal((await put('tmpl%40.service', { name: 'tmpl@.service', options: HELLO_OPTIONS })).status, 201);
    assert.ok(await f.registry.getUnit('tmpl@.service'));
    assert.deepEqual((await put('tmpl%40.service', { desiredState: 'launched' })).json, errorBody(400, 'cannot activate template "tmpl@.service"'));
    assert.equal((await put('tmpl@.service', { desiredState: 'inactive' })).status, 204);
    assert.deepEqual(
      (await put('tmpl2%40.service', { options: HELLO_OPTIONS, desiredState: 'loaded' })).json,
      errorBody(400, 'cannot activate template "tmpl2@.service"'),
    );
    assert.equal(await f.registry.getUnit('tmpl2@.service'), undefined);
    assert.equal((await put('tmpl%401.service', { name: 'tmpl@1.service', options: HELLO_OPTIONS, desiredState: 'launched' })).status, 201);
    assert.equal((await f.registry.getUnit('tmpl@1.service'))?.desiredState, 'launched');
  });

  test('options: empty values are omitted on the wire; order and duplicates kept; case-insensitive keys', async () => {
    const options = [
      { section: 'Unit', name: 'Description', value: '' },
      { section: 'Service', name: 'ExecStart', value: '/bin/a' },
      { section: 'Unit', name: 'After', value: 'x.service' },
      { section: 'Service', name: 'ExecStart', value: '/bin/b' },
    ];
    assert.equal((await f.api.put(`${U}/opts.service`, { Name: 'opts.service', OPTIONS: options, unknownField: [1, 2] })).status, 201);
    assert.deepEqual((await f.api.get(`${U}/opts.service`)).json, {
      name: 'opts.service',
      options: [
        { section: 'Unit', name: 'Description' },
        { section: 'Unit', name: 'After', value: 'x.service' },
        { section: 'Service', name: 'ExecStart', value: '/bin/a' },
        { section: 'Service', name: 'ExecStart', value: '/bin/b' },
      ],
      desiredState: 'inactive',
      currentState: 'inactive',
    });
  });

  test('DELETE twice: 204 then 404; GET of an unknown unit: 404', async () => {
    await put('gone.service', { options: HELLO_OPTIONS });
    const first = await f.api.delete(`${U}/gone.service`);
    assert.deepEqual([first.status, first.text], [204, '']);
    assert.deepEqual((await f.api.delete(`${U}/gone.service`)).json, errorBody(404, 'unit does not exist'));
    assert.deepEqual((await f.api.get(`${U}/gone.service`)).json, errorBody(404, 'unit does not exist'));
  });
});

describe('GET /units: derived state, global units, reasons', () => {
  let f: ApiFixture;
  before(async () => (f = await startApi()));
  after(async () => f.close());

  const state = (name: string, machineId: string, extra: { detail?: string } = {}) => ({
    name,
    machineId,
    hash: 'e'.repeat(40),
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    ...extra,
  });

  test("currentState follows fleet's determineJobState", async () => {
    const r = f.registry;
    await r.putUnit({ name: 'a.service', options: HELLO_OPTIONS, desiredState: 'launched' });
    const get = async () => (await f.api.get(`${U}/a.service`)).json as { currentState?: string; machineID?: string };
    assert.deepEqual([(await get()).currentState, (await get()).machineID], ['inactive', undefined], 'unscheduled: inactive, not missing');
    await scheduleUnit(r, 'a.service', 'm1');
    assert.deepEqual([(await get()).currentState, (await get()).machineID], ['inactive', 'm1'], 'scheduled but no state from the target');
    await saveUnitState(r, state('a.service', 'm2'), 60_000);
    assert.equal((await get()).currentState, 'inactive', 'a state from another machine does not count');
    await saveUnitState(r, state('a.service', 'm1'), 60_000);
    assert.equal((await get()).currentState, 'loaded');
    await setLaunched(r, 'a.service', 'm2', 60_000);
    assert.equal((await get()).currentState, 'loaded', 'a heartbeat from another machine does not count');
    await setLaunched(r, 'a.service', 'm1', 60_000);
    assert.equal((await get()).currentState, 'launched');
  });

  test('global units: single GET omits currentState and machineID; the list says inactive', async () => {
    const options = [...HELLO_OPTIONS, { section: 'X-Fleet', name: 'Global', value: 'true' }];
    await f.registry.putUnit({ name: 'g.service', options, desiredState: 'launched' });
    const single = (await f.api.get(`${U}/g.service`)).json as Record<string, unknown>;
    assert.equal('currentState' in single, false);
    assert.equal('machineID' in single, false);
    const list = (await f.api.get(U)).json as { units: Record<string, unknown>[] };
    assert.equal(list.units.find(u => u.name === 'g.service')?.currentState, 'inactive');
  });

  test('extension: reason on unscheduled active units; detail on states', async () => {
    await f.registry.putUnit({ name: 'r.service', options: HELLO_OPTIONS, desiredState: 'launched' });
    await f.registry.putUnit({ name: 'r2.service', options: HELLO_OPTIONS, desiredState: 'inactive' });
    await f.registry.setUnitReasons(
      new Map([
        ['r.service', 'no machine has metadata region=west'],
        ['r2.service', 'ignored'],
      ]),
    );
    assert.equal(((await f.api.get(`${U}/r.service`)).json as { reason?: string }).reason, 'no machine has metadata region=west');
    assert.equal(((await f.api.get(`${U}/r2.service`)).json as { reason?: string }).reason, undefined, 'inactive units carry no reason');
    await saveUnitState(f.registry, state('r.service', 'm9', { detail: 'ExecStart exited with status 1' }), 60_000);
    assert.deepEqual((await f.api.get('/fleet/v1/state/r.service')).json, {
      name: 'r.service',
      hash: 'e'.repeat(40),
      machineID: 'm9',
      systemdLoadState: 'loaded',
      systemdActiveState: 'active',
      systemdSubState: 'running',
      detail: 'ExecStart exited with status 1',
    });
  });
});

describe('pagination (token_limit 2, case 58)', () => {
  let f: ApiFixture;
  before(async () => (f = await startApi({ tokenLimit: 2 })));
  after(async () => f.close());

  test('3 units: 2 + token, then 1 and no token; an exact multiple leads to an empty page', async () => {
    for (const n of ['c', 'a', 'b']) await f.registry.putUnit({ name: `${n}.service`, options: HELLO_OPTIONS, desiredState: 'inactive' });
    const p1 = (await f.api.get(U)).json as { units: { name: string }[]; nextPageToken?: string };
    assert.deepEqual(
      p1.units.map(u => u.name),
      ['a.service', 'b.service'],
    );
    assert.equal(p1.nextPageToken, 'AgACAA==');
    const p2 = (await f.api.get(`${U}?alt=json&nextPageToken=${encodeURIComponent(p1.nextPageToken!)}`)).json as {
      units: { name: string }[];
      nextPageToken?: string;
    };
    assert.deepEqual(
      p2.units.map(u => u.name),
      ['c.service'],
    );
    assert.equal(p2.nextPageToken, undefined);
    await f.registry.putUnit({ name: 'd.service', options: HELLO_OPTIONS, desiredState: 'inactive' });
    const q2 = (await f.api.get(`${U}?nextPageToken=AgACAA==`)).json as { nextPageToken?: string };
    assert.equal(q2.nextPageToken, 'AgADAA==');
    assert.equal((await f.api.get(`${U}?nextPageToken=AgADAA==`)).text, '{}');
  });

  test('token errors are 400s with fleet/Go messages', async () => {
    const cases: [string, string][] = [
      ['nextPageToken=AgACAA==&nextPageToken=AgACAA==', 'too many values for page token'],
      ['nextPageToken=!!!!', 'illegal base64 data at input byte 0'],
      ['nextPageToken=AgA', 'illegal base64 data at input byte 0'],
      ['nextPageToken=AgACAA=', 'illegal base64 data at input byte 7'],
      ['nextPageToken=', 'EOF'],
      ['nextPageToken=AgA=', 'unexpected EOF'],
      ['nextPageToken=ZAAC%0AAA%3D%3D', 'token limit must be 2'],
      ['nextPageToken=Ag%3D%0AA', 'illegal base64 data at input byte 3'],
      [`nextPageToken=${encodePageToken({ limit: 100, page: 2 })}`, 'token limit must be 2'],
      [`nextPageToken=${encodePageToken({ limit: 2, page: 0 })}`, 'token page must be greater than zero'],
    ];
    for (const [query, message] of cases) {
      for (const p of [U, '/fleet/v1/state', '/fleet/v1/machines']) {
        const r = await f.api.get(`${p}?${query}`);
        assert.deepEqual([r.status, r.json], [400, errorBody(400, message)], `${p}?${query}`);
      }
    }
  });

  test('the default page size is 100: 101 units give ZAACAA==', async () => {
    const big = await startApi();
    try {
      for (let i = 0; i < 101; i++)
        await big.registry.putUnit({ name: `u${String(i).padStart(3, '0')}.service`, options: HELLO_OPTIONS, desiredState: 'inactive' });
      const p1 = (await big.api.get(U)).json as { units: unknown[]; nextPageToken: string };
      assert.deepEqual([p1.units.length, p1.nextPageToken], [100, 'ZAACAA==']);
      const p2 = (await big.api.get(`${U}?nextPageToken=ZAACAA==`)).json as { units: { name: string }[]; nextPageToken?: string };
      assert.deepEqual([p2.units.map(u => u.name), p2.nextPageToken], [['u100.service'], undefined]);
      assert.deepEqual((await big.api.get(`${U}?nextPageToken=AgACAA==`)).json, errorBody(400, 'token limit must be 100'));
    } finally {
      await big.close();
    }
  });

  test("?pageSize=N (fleetd extension): pages of N items on all three lists, tokens that carry N; without it fleet's pages and errors", async () => {
    const big = await startApi();
    try {
      for (let i = 0; i < 250; i++) {
        const name = `u${String(i).padStart(3, '0')}.service`;
        await big.registry.putUnit({ name, options: HELLO_OPTIONS, desiredState: 'inactive' });
        if (i < 120)
          await saveUnitState(
            big.registry,
            { name, machineId: 'm1', hash: 'e'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
            60_000,
          );
      }
      const walk = async (path: string, key: string, query: string) => {
        const sizes: number[] = [];
        const tokens: string[] = [];
        let token: string | undefined;
        do {
          const r = await big.api.get(`${path}?${query}${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`);
          assert.equal(r.status, 200, `${path}?${query} ${token ?? ''}: ${r.text}`);
          const page = r.json as Record<string, unknown[] | string | undefined>;
          sizes.push((page[key] as unknown[] | undefined)?.length ?? 0);
          token = page['nextPageToken'] as string | undefined;
          if (token) tokens.push(token);
        } while (token);
        return { sizes, tokens };
      };
      assert.deepEqual(await walk(U, 'units', 'pageSize=1000'), { sizes: [250], tokens: [] });
      assert.deepEqual(await walk(U, 'units', 'pageSize=200&alt=json'), { sizes: [200, 50], tokens: [encodePageToken({ limit: 200, page: 2 })] });
      assert.deepEqual(await walk('/fleet/v1/state', 'states', 'pageSize=1000'), { sizes: [120], tokens: [] });
      assert.deepEqual(await walk('/fleet/v1/state', 'states', 'pageSize=100&machineID=m1'), { sizes: [100, 20], tokens: ['ZAACAA=='] });
      assert.equal(((await big.api.get('/fleet/v1/machines?pageSize=5000')).json as { nextPageToken?: string }).nextPageToken, undefined);
      // What fleetctl sends: fleet's pages of 100, and a token of another size is refused as fleet refuses it.
      assert.deepEqual(await walk(U, 'units', 'alt=json'), { sizes: [100, 100, 50], tokens: ['ZAACAA==', 'ZAADAA=='] });
      const foreign = encodePageToken({ limit: 200, page: 2 });
      assert.deepEqual((await big.api.get(`${U}?nextPageToken=${foreign}`)).json, errorBody(400, 'token limit must be 100'));
      assert.deepEqual((await big.api.get(`${U}?pageSize=300&nextPageToken=${foreign}`)).json, errorBody(400, 'token limit must be 300'));
      for (const [query, message] of [
        ['pageSize=0', 'pageSize must be an integer from 1 to 65535, got "0"'],
        ['pageSize=65536', 'pageSize must be an integer from 1 to 65535, got "65536"'],
        ['pageSize=-1', 'pageSize must be an integer from 1 to 65535, got "-1"'],
        ['pageSize=1e3', 'pageSize must be an integer from 1 to 65535, got "1e3"'],
        ['pageSize=', 'pageSize must be an integer from 1 to 65535, got ""'],
        ['pageSize=10&pageSize=10', 'too many values for pageSize'],
      ]) {
        for (const p of [U, '/fleet/v1/state', '/fleet/v1/machines']) {
          const r = await big.api.get(`${p}?${query}`);
          assert.deepEqual([r.status, r.json], [400, errorBody(400, message!)], `${p}?${query}`);
        }
      }
    } finally {
      await big.close();
    }
  });

  test("token vectors from fleet's tests", () => {
    assert.equal(encodePageToken({ limit: 100, page: 2 }), 'ZAACAA==');
    assert.equal(encodePageToken({ limit: 100, page: 3 }), 'ZAADAA==');
    assert.equal(encodePageToken({ limit: 12482, page: 0 }), 'wjAAAA==');
    assert.equal(encodePageToken({ limit: 19, page: 11852 }), 'EwBMLg==');
  });

  test('states: filters apply before pagination; GET /state/{name} is the first state or 404', async () => {
    const st = (name: string, machineId: string) => ({
      name,
      machineId,
      hash: 'f'.repeat(40),
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
    });
    for (const [n, m] of [
      ['x.service', 'm1'],
      ['x.service', 'm2'],
      ['x.service', 'm3'],
      ['y.service', 'm1'],
    ] as const)
      await saveUnitState(f.registry, st(n, m), 60_000);
    const all = (await f.api.get('/fleet/v1/state')).json as { states: { name: string; machineID: string }[]; nextPageToken: string };
    assert.deepEqual(
      all.states.map(s => `${s.name}/${s.machineID}`),
      ['x.service/m1', 'x.service/m2'],
    );
    assert.equal(all.nextPageToken, 'AgACAA==');
    const m1 = (await f.api.get('/fleet/v1/state?machineID=m1&machineID=m2')).json as { states: { name: string }[]; nextPageToken?: string };
    assert.deepEqual(
      m1.states.map(s => s.name),
      ['x.service', 'y.service'],
    );
    assert.equal(m1.nextPageToken, 'AgACAA==');
    const y = (await f.api.get('/fleet/v1/state?unitName=y.service')).json as { states: { machineID: string }[]; nextPageToken?: string };
    assert.deepEqual([y.states.map(s => s.machineID), y.nextPageToken], [['m1'], undefined]);
    assert.equal(
      (await f.api.get('/fleet/v1/state?unitName=x.service&machineID=m3')).text,
      JSON.stringify({
        states: [
          { name: 'x.service', hash: 'f'.repeat(40), machineID: 'm3', systemdLoadState: 'loaded', systemdActiveState: 'active', systemdSubState: 'running' },
        ],
      }),
    );
    assert.equal(((await f.api.get('/fleet/v1/state/x.service')).json as { machineID: string }).machineID, 'm1');
    assert.deepEqual((await f.api.get('/fleet/v1/state/none.service')).json, errorBody(404, 'unit state does not exist'));
  });
});

describe('machines (case 60)', () => {
  let f: ApiFixture;
  before(async () => (f = await startApi()));
  after(async () => f.close());

  test('list: sorted, primaryIP and metadata omitted when empty', async () => {
    await f.registry.registerMachine({ id: 'bbb', publicIP: '', metadata: {}, version: 'x' }, 60_000);
    await f.registry.registerMachine({ id: 'aaa', publicIP: '10.0.0.1', metadata: { region: 'us' }, version: 'x' }, 60_000);
    assert.equal(
      (await f.api.get('/fleet/v1/machines?alt=json')).text,
      '{"machines":[{"id":"aaa","primaryIP":"10.0.0.1","metadata":{"region":"us"}},{"id":"bbb"}]}',
    );
  });

  test('PATCH: nested values, validation of all ops first, tombstones', async () => {
    const patch = (body: unknown) => f.api.patch('/fleet/v1/machines', body);
    const ok = await patch([
      { op: 'add', path: '/aaa/metadata/role', value: { value: 'db' } },
      { op: 'replace', path: '/bbb/metadata/disk', value: { value: 'ssd' } },
    ]);
    assert.deepEqual([ok.status, ok.text], [204, '']);
    const meta = async () => Object.fromEntries((await f.registry.listMachines()).map(m => [m.id, m.metadata]));
    assert.deepEqual(await meta(), { aaa: { region: 'us', role: 'db' }, bbb: { disk: 'ssd' } });

    const failures: [unknown, string][] = [
      [
        [{ op: 'add', path: '/aaa/metadata/x', value: 'db' }],
        'json: cannot unmarshal string into Go struct field machineMetadataOp.Value of type struct { Value string "json:\\"value\\"" }',
      ],
      [[{ op: 'test', path: '/aaa/metadata/x', value: { value: 'v' } }], 'invalid op: expect add, remove, or replace'],
      [[{ op: 'add', path: '/aaa/metadata/a key', value: { value: 'v' } }], 'machine metadata path invalid'],
      [[{ op: 'add', path: 'aaa/metadata/k', value: { value: 'v' } }], 'machine metadata path invalid'],
      [[{ op: 'add', path: '/aaa/metadata/k' }], 'invalid value: add and replace require a value'],
      [[{ op: 'replace', path: '/aaa/metadata/k', value: { value: '' } }], 'invalid value: add and replace require a value'],
      [{ op: 'add' }, 'json: cannot unmarshal object into Go value of type []api.machineMetadataOp'],
      ['[{"op":"add",', 'unexpected EOF'],
      [[{ op: 'add', path: '/aaa/metadata/x', value: { value: 5 } }], 'json: cannot unmarshal number into Go struct field .Value.value of type string'],
      // Nothing applies when a later op is invalid.
      [
        [
          { op: 'add', path: '/aaa/metadata/role', value: { value: 'web' } },
          { op: 'bogus', path: '/aaa/metadata/k' },
        ],
        'invalid op: expect add, remove, or replace',
      ],
    ];
    for (const [body, message] of failures) {
      const r = await patch(body);
      assert.deepEqual([r.status, r.json], [400, errorBody(400, message)], JSON.stringify(body));
    }
    assert.deepEqual(await meta(), { aaa: { region: 'us', role: 'db' }, bbb: { disk: 'ssd' } });

    assert.equal(
      (
        await patch([
          { op: 'remove', path: '/aaa/metadata/region' },
          { op: 'remove', path: '/aaa/metadata/role' },
        ])
      ).status,
      204,
    );
    assert.deepEqual(await meta(), { aaa: {}, bbb: { disk: 'ssd' } });
    // The machine need not exist; no Content-Type check; [] and null are no-ops.
    assert.equal(
      (await f.api.request('PATCH', '/fleet/v1/machines', { body: '[{"op":"add","path":"/zzz/metadata/k","value":{"value":"v"}}]', headers: [] })).status,
      204,
    );
    assert.equal((await patch([])).status, 204);
    assert.equal((await patch('null')).status, 204);
  });
});

/** A Registry whose every call can be made to fail, wrapping a MemoryRegistry. */
function flakyRegistry(inner: Registry): { registry: Registry; mode: { fail: 'no' | 'unavailable' | 'crash' } } {
  const mode = { fail: 'no' as 'no' | 'unavailable' | 'crash' };
  const registry = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (mode.fail === 'unavailable') return Promise.reject(new RegistryUnavailableError());
        if (mode.fail === 'crash' && prop !== 'ping') return Promise.reject(new Error('disk on fire'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { registry, mode };
}

describe('registry failures, limits and transports', () => {
  test("503 with fleet's message while unreachable, for every path; back once it answers", async () => {
    const inner = new MemoryRegistry();
    const { registry, mode } = flakyRegistry(inner);
    const f = await startApi({ registry });
    try {
      await inner.putUnit({ name: 'a.service', options: HELLO_OPTIONS, desiredState: 'inactive' });
      mode.fail = 'unavailable';
      assert.deepEqual((await f.api.get(U)).json, errorBody(503, 'fleet server unable to communicate with etcd'));
      for (const p of ['/fleet/v1/discovery', '/nope', `${U}/a.service`, '/fleet/v1/machines']) {
        const r = await f.api.get(p);
        assert.deepEqual([r.status, r.json], [503, errorBody(503, 'fleet server unable to communicate with etcd')], p);
      }
      mode.fail = 'no';
      assert.equal((await f.api.get(`${U}/a.service`)).status, 200);
      assert.equal((await f.api.get('/nope')).status, 404);
    } finally {
      await f.close();
      await inner.close();
    }
  });

  test('500 with an empty message for unexpected registry errors', async () => {
    const inner = new MemoryRegistry();
    const { registry, mode } = flakyRegistry(inner);
    const f = await startApi({ registry });
    try {
      mode.fail = 'crash';
      assert.deepEqual((await f.api.get(U)).json, errorBody(500));
      assert.deepEqual((await f.api.put(`${U}/a.service`, { options: HELLO_OPTIONS })).json, errorBody(500));
      mode.fail = 'no';
      assert.equal((await f.api.get(U)).status, 200);
    } finally {
      await f.close();
      await inner.close();
    }
  });

  test('a body over the limit is a 413; the server keeps serving; nothing is written', async () => {
    const f = await startApi({ maxBodyBytes: 64 * 1024 });
    try {
      const options = Array.from({ length: 2000 }, (_, i) => ({ section: 'Service', name: 'Environment', value: `K${i}=${'v'.repeat(40)}` }));
      const r = await f.api.put(`${U}/big.service`, { options });
      assert.deepEqual([r.status, r.json], [413, errorBody(413, 'request body exceeds the limit of 65536 bytes')]);
      const wrongType = await f.api.request('PUT', `${U}/big.service`, { body: JSON.stringify({ options }), headers: [['Content-Type', 'text/plain']] });
      assert.equal(wrongType.status, 415, 'the media type is checked before the body is read');
      // Without a Content-Length (chunked), the limit applies as the body streams in.
      const chunked = await new Promise<number>((resolve, reject) => {
        const url = new URL(f.server.urls[0]!);
        const req = http.request(
          { host: url.hostname, port: url.port, method: 'PUT', path: `${U}/big.service`, headers: { 'Content-Type': 'application/json' } },
          res => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write('{"options":[');
        req.end('"x",'.repeat(40_000) + '1]}');
      });
      assert.equal(chunked, 413);
      assert.equal(await f.registry.getUnit('big.service'), undefined);
      assert.equal((await f.api.put(`${U}/small.service`, { options: HELLO_OPTIONS })).status, 201);
    } finally {
      await f.close();
    }
  });

  test('unix socket and TCP together; close() frees both', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-api-'));
    const socketPath = path.join(dir, 'fleet.sock');
    const registry = new MemoryRegistry();
    const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }, { socketPath }] });
    try {
      assert.equal(server.urls.length, 2);
      assert.match(server.urls[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.urls[1], `unix://${socketPath}`);
      const tcp = new ApiClient(server.urls[0]!);
      assert.equal((await tcp.put(`${U}/sock.service`, { options: HELLO_OPTIONS })).status, 201);
      const viaSocket = await tcp.request('GET', `${U}/sock.service`, { socketPath });
      assert.equal((viaSocket.json as { name: string }).name, 'sock.service');
      // A second server cannot steal a live socket.
      await assert.rejects(createApiServer({ registry, listen: [{ socketPath }] }), /another server is listening there/);
    } finally {
      await server.close();
      await server.close();
    }
    assert.equal(fs.existsSync(socketPath), false);
    await assert.rejects(new ApiClient(server.urls[0]!).get(U), /ECONNREFUSED/);
    // A stale socket file (its server was killed) is replaced.
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", socketPath], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', code => reject(new Error(`socket child exited ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise(r => child.once('exit', r));
    assert.equal(fs.existsSync(socketPath), true, 'the killed server left its socket file');
    const again = await createApiServer({ registry, listen: [{ socketPath }] });
    assert.equal((await new ApiClient('http://localhost').request('GET', U, { socketPath })).status, 200);
    await again.close();
    await registry.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a port in use is a clear error', async () => {
    const f = await startApi();
    try {
      const port = Number(new URL(f.server.urls[0]!).port);
      await assert.rejects(
        createApiServer({ registry: f.registry, listen: [{ host: '127.0.0.1', port }] }),
        new RegExp(`cannot listen on 127.0.0.1:${port}: address already in use`),
      );
      await assert.rejects(createApiServer({ registry: f.registry, listen: [] }), /nothing to listen on/);
    } finally {
      await f.close();
    }
  });
});
