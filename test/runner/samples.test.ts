/**
 * samples/ (the workspace `npm start` opens, and the demo in the README): the clean units stay
 * clean under the editor's rules, broken.service shows what it promises, and the scenario's
 * [X-Fleet] wiring is what samples/README.md describes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseUnitFile, validateUnitFile, type Problem } from '../../unitfile/src';

const SAMPLES = path.resolve(__dirname, '..', '..', 'samples');
const read = (name: string) => fs.readFileSync(path.join(SAMPLES, name), 'utf8');

function problems(name: string): Problem[] {
  return validateUnitFile(parseUnitFile(read(name)), { unitName: path.basename(name) });
}

/** The values of `key` in [X-Fleet]. */
function xfleet(name: string, key: string): string[] {
  const file = parseUnitFile(read(name));
  return file.sections.filter(s => s.name === 'X-Fleet').flatMap(s => s.options.filter(o => o.name === key).map(o => o.value));
}

const CLEAN = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-discovery.1.service', 'monitor.service', 'web@.service'];

describe('samples/', () => {
  test('holds exactly the documented units', () => {
    const units = fs
      .readdirSync(SAMPLES)
      .filter(f => f.endsWith('.service'))
      .sort();
    assert.deepEqual(units, [...CLEAN, 'broken.service'].sort());
    const readme = read('README.md');
    for (const unit of units) assert.ok(readme.includes(`\`${unit}\``), `samples/README.md describes ${unit}`);
  });

  for (const name of CLEAN) {
    test(`${name} has no errors or warnings`, () => {
      const serious = problems(name).filter(p => p.severity === 'error' || p.severity === 'warning');
      assert.deepEqual(
        serious.map(p => `${p.code}: ${p.message}`),
        [],
      );
    });
  }

  test('the scenario: three conflicting web servers, a sidekick, a global unit, a template', () => {
    for (const n of [1, 2, 3]) assert.deepEqual(xfleet(`nginx.${n}.service`, 'Conflicts'), ['nginx.*.service']);
    assert.deepEqual(xfleet('nginx-discovery.1.service', 'MachineOf'), ['nginx.1.service']);
    assert.deepEqual(xfleet('monitor.service', 'Global'), ['true']);
    assert.deepEqual(xfleet('web@.service', 'Conflicts'), ['web@*.service']);
    // Each web server listens on its own port, so all three can run on one computer.
    const ports = [1, 2, 3].map(n => /http\.server (\d+)/.exec(read(`nginx.${n}.service`))?.[1]);
    assert.deepEqual(ports, ['8081', '8082', '8083']);
  });

  test('no sample needs docker', () => {
    for (const name of [...CLEAN, 'broken.service']) assert.doesNotMatch(read(name), /docker/i, name);
  });

  test("docker/ holds the article's four units, documented, clean under the editor's rules, wired as on CoreOS", () => {
    const units = fs.readdirSync(path.join(SAMPLES, 'docker')).sort();
    assert.deepEqual(units, ['nginx-discovery.1.service', 'nginx.1.service', 'nginx.2.service', 'nginx.3.service']);
    const readme = read('README.md');
    for (const unit of units) {
      assert.ok(readme.includes(`\`docker/${unit}\``), `samples/README.md describes docker/${unit}`);
      const serious = problems(`docker/${unit}`).filter(p => p.severity === 'error' || p.severity === 'warning');
      assert.deepEqual(
        serious.map(p => `${p.code}: ${p.message}`),
        [],
        unit,
      );
    }
    for (const n of [1, 2, 3]) {
      assert.deepEqual(xfleet(`docker/nginx.${n}.service`, 'Conflicts'), ['nginx.*.service']);
      assert.match(read(`docker/nginx.${n}.service`), new RegExp(`ExecStart=/usr/bin/docker run --name nginx-0${n} -p \\$\\{COREOS_PUBLIC_IPV4\\}:80:80 `));
      assert.match(read(`docker/nginx.${n}.service`), new RegExp(`ExecStop=/usr/bin/docker stop nginx-0${n}\\n`));
    }
    const sidekick = read('docker/nginx-discovery.1.service');
    assert.deepEqual(xfleet('docker/nginx-discovery.1.service', 'MachineOf'), ['nginx.1.service']);
    assert.match(sidekick, /^BindsTo=nginx\.1\.service$/m);
    assert.match(sidekick, /^After=nginx\.1\.service$/m);
    assert.match(sidekick, /etcdctl set \/announce\/services\/nginx1 \$\{COREOS_PUBLIC_IPV4\}:80 --ttl 60/);
  });

  test('broken.service shows the mistakes samples/README.md promises, with quick fixes', () => {
    const found = problems('broken.service');
    const codes = found.map(p => p.code);
    assert.ok(codes.includes('xfleet-unknown-key'), codes.join(', '));
    assert.ok(codes.includes('fleet-options'), codes.join(', '));
    assert.ok(codes.includes('xfleet-global-value'), codes.join(', '));
    assert.ok(
      found.some(p => p.severity === 'error'),
      'at least one error: fleet would refuse the unit',
    );
    const misspelt = found.find(p => p.code === 'xfleet-unknown-key')!;
    assert.match(misspelt.message, /"MachineMetaData"; did you mean MachineMetadata\?/);
    assert.ok(
      misspelt.fixes?.some(f => f.title === 'Change to MachineMetadata='),
      'the rename quick fix',
    );
  });
});
