/** One version: the extension's package.json and every place fleetd reports its version. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FLEET_VERSION } from '../src/version';
import { AGENT_VERSION } from '../../fleetd/src/agent/agent';
import { FLEETD_VERSION } from '../../fleetd/src/api/handler';

const root = path.resolve(__dirname, '..', '..');

test("package.json's version is FLEET_VERSION, and fleetd reports it everywhere", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(pkg.version, FLEET_VERSION, 'bump protocol/src/version.ts together with package.json');
  assert.equal(AGENT_VERSION, FLEET_VERSION);
  assert.equal(FLEETD_VERSION, FLEET_VERSION);
  // What fleetd reports at run time (--version, the Server header, a machine record): fleetd/test/version.test.ts.
});
