/**
 * How fleetd treats `.` and `..` path segments (API-DIFFERENCES.md, "Path cleaning"): they are
 * resolved as WHATWG URLs resolve them (also percent-encoded), and the resolved path is served at
 * once; fleet's Go ServeMux answers a 301 to the cleaned path instead. `//` is not merged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HELLO_OPTIONS, startApi } from './apiHarness';

test('dot segments are resolved and served without a redirect; empty segments are not merged', async () => {
  const f = await startApi();
  try {
    assert.equal((await f.api.put('/fleet/v1/units/a.service', { options: HELLO_OPTIONS })).status, 201);
    for (const p of [
      '/fleet/v1/units/./a.service',
      '/fleet/v1/units/x/../a.service',
      '/fleet/v1/units/%2e%2e/units/a.service',
      '/../fleet/v1/units/a.service',
    ]) {
      const r = await f.api.get(p);
      assert.equal(r.status, 200, p);
      assert.equal((r.json as { name: string }).name, 'a.service', p);
    }
    for (const p of ['/fleet/v1//units', '/fleet/v1/units/a.service/.', '/fleet/v1/units/..']) assert.equal((await f.api.get(p)).status, 404, p);
    // A name that merely starts with dots is a name, not a segment.
    assert.deepEqual((await f.api.get('/fleet/v1/units/..a.service')).json, { error: { code: 404, message: 'unit does not exist' } });
  } finally {
    await f.close();
  }
});
