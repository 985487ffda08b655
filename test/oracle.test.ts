// systemd itself as the oracle: for each unit file in test/fixtures/oracle/, `systemd-analyze
// verify` (the local systemd) and our rules must agree on which lines have unknown sections or
// keys and which have values systemd cannot parse; and every configuration item the local
// systemd lists (`systemd --dump-configuration-items`) must be in the catalog for its version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseUnitFile, validateUnitFile, type Problem } from '../unitfile/src/index';
import { knownIn, lookupDirective } from '../unitfile/src/systemd/catalog';
import { findBinary, isCI } from './support/requirements';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, 'fixtures/oracle');
const analyze = findBinary('systemd-analyze');
const systemdBinary = ['/lib/systemd/systemd', '/usr/lib/systemd/systemd'].find(p => fs.existsSync(p));

function requireOr(t: { skip(message: string): void }, what: string | undefined, message: string): what is string {
  if (what) return true;
  if (isCI()) assert.fail(`${message} (as root: apt-get install systemd)`);
  console.warn(`\n*** oracle.test.ts SKIPPED: ${message} ***\n`);
  t.skip(message);
  return false;
}

function localVersion(binary: string): number {
  const out = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  const m = /^systemd (\d+)/.exec(out);
  assert.ok(m, `cannot read the version from: ${out.split('\n')[0]}`);
  return Number(m[1]);
}

type Kind = 'unknown' | 'value' | 'deprecated';

/** systemd's line-level complaints, classified, and whether it refuses the unit. */
function systemdFindings(file: string): { lines: Map<number, Kind>; refuses: boolean; fatal: boolean } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-oracle-'));
  try {
    const target = path.join(dir, path.basename(file));
    fs.copyFileSync(file, target);
    const r = spawnSync(analyze!, ['verify', '--man=no', '--generators=no', target], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.error, undefined, `systemd-analyze failed to run: ${r.error?.message}`);
    const out = new Map<number, Kind>();
    const unitLines = r.stderr.split('\n').filter(l => l.startsWith(`${path.basename(file)}: `));
    for (const line of r.stderr.split('\n')) {
      const m = /^(.+?):(\d+): (.*)$/.exec(line);
      if (!m || m[1] !== target) continue;
      const message = m[3]!;
      const kind: Kind = /^Unknown (key|section)/.test(message) ? 'unknown' : /please use|deprecated|obsolete/i.test(message) ? 'deprecated' : 'value';
      out.set(Number(m[2]), kind);
    }
    return { lines: out, refuses: unitLines.some(l => /Refusing\.$/.test(l)), fatal: unitLines.some(l => /fatal error/.test(l)) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const KIND_OF_CODE: Record<string, Kind> = {
  'unknown-section': 'unknown',
  'xfleet-section-name': 'unknown',
  'unknown-directive': 'unknown',
  'directive-wrong-section': 'unknown',
  'removed-directive': 'unknown',
  'directive-too-new': 'unknown',
  'invalid-value': 'value',
  'deprecated-directive': 'deprecated',
};

function ourFindings(text: string, unitName: string, version: number): { lines: Map<number, Kind>; refuses: boolean } {
  const lineOf = (p: Problem) => text.slice(0, p.start).split('\n').length;
  const out = new Map<number, Kind>();
  const problems = validateUnitFile(parseUnitFile(text), { unitName, systemdVersion: version });
  for (const p of problems) {
    const kind = KIND_OF_CODE[p.code];
    if (kind) out.set(lineOf(p), kind);
  }
  return { lines: out, refuses: problems.some(p => p.code === 'missing-required') };
}

const render = (m: Map<number, Kind>, only: Kind[]) =>
  [...m]
    .filter(([, k]) => only.includes(k))
    .sort((a, b) => a[0] - b[0])
    .map(([l, k]) => `${l}:${k}`);

test('the oracle fixtures cover good units, unknown keys, bad values and wrong sections', () => {
  const files = fs.readdirSync(fixtures);
  assert.ok(files.length >= 20, `${files.length} fixtures`);
});

for (const name of fs.readdirSync(fixtures).sort()) {
  test(`systemd-analyze and our rules agree on ${name}`, t => {
    if (!requireOr(t, analyze, 'systemd-analyze is not installed')) return;
    const version = localVersion(analyze);
    const file = path.join(fixtures, name);
    const theirs = systemdFindings(file);
    const ours = ourFindings(fs.readFileSync(file, 'utf8'), name, version);
    // Unknown sections/keys and unparsable values: the same lines, the same class.
    assert.deepEqual(render(ours.lines, ['unknown', 'value']), render(theirs.lines, ['unknown', 'value']));
    // Every deprecation systemd warns about is one of ours (we also flag quiet aliases).
    for (const line of render(theirs.lines, ['deprecated']))
      assert.ok(render(ours.lines, ['deprecated']).includes(line), `systemd warns about a deprecation at ${line}`);
    // A unit systemd refuses ("… Refusing.") gets missing-required; ours only where systemd refuses or hits a fatal error.
    if (theirs.refuses) assert.ok(ours.refuses, 'systemd refuses the unit, we report no missing-required');
    if (ours.refuses) assert.ok(theirs.refuses || theirs.fatal, 'we report missing-required, systemd loads the unit');
  });
}

test('every configuration item the local systemd knows is in the catalog for its version', t => {
  if (!requireOr(t, systemdBinary, 'systemd (/lib/systemd/systemd) is not installed')) return;
  const version = localVersion(systemdBinary);
  const r = spawnSync(systemdBinary, ['--dump-configuration-items'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  /** Items a distribution point release added after the catalogued tag (Debian 252.x backports). */
  const BACKPORTED = new Set(['Scope.OOMPolicy']);
  let section = '';
  let count = 0;
  const missing: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const m = /^([A-Za-z0-9]+)=/.exec(line);
    if (!m || !section) continue;
    count++;
    const key = `${section}.${m[1]}`;
    const d = lookupDirective(section, m[1]!);
    if (!d || !knownIn(d, version)) {
      if (d && d.since > version && BACKPORTED.has(key)) continue;
      missing.push(`${key}${d ? ` (catalogued since ${d.since}${d.removed ? `, removed ${d.removed}` : ''})` : ''}`);
    }
  }
  assert.ok(count > 500, `only ${count} items listed`);
  assert.deepEqual(missing, []);
});
