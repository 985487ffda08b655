import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { CACHE_WRITE_DELAY_MS, cacheDirectory, cacheFile, loadWithCodeCache } from '../src/boot';
import { ensureBuilt, SERVER_JS } from './lspHarness';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('server boot: the bundle with a V8 code cache', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-boot-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const bundle = path.join(tmp, 'bundle.js');
  // Enough code for V8 to cache; it reports through a global what it saw.
  const body = Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i}; }`).join('\n');
  fs.writeFileSync(
    bundle,
    `${body}\nglobalThis.__bootProbe = { sum: f199(1), dirname: __dirname, filename: __filename, exportsIsModuleExports: exports === module.exports, req: typeof require('node:path').join };\n`,
  );

  test('where the cache lives', () => {
    assert.equal(cacheDirectory({ FLEET_SERVER_CACHE: '0', FLEET_SERVER_CACHE_DIR: '/x' }), undefined);
    assert.equal(cacheDirectory({ FLEET_SERVER_CACHE_DIR: '/x/y' }), '/x/y');
    assert.equal(cacheDirectory({ XDG_CACHE_HOME: '/c' }), path.join('/c', 'vscode-fleet'));
    // The key changes with the bundle's size or modification time.
    const a = cacheFile('/d', '/b.js', { size: 10, mtimeMs: 1 });
    assert.notEqual(a, cacheFile('/d', '/b.js', { size: 11, mtimeMs: 1 }));
    assert.notEqual(a, cacheFile('/d', '/b.js', { size: 10, mtimeMs: 2 }));
    assert.equal(a, cacheFile('/d', '/b.js', { size: 10, mtimeMs: 1 }));
  });

  // In separate processes: within one, V8's in-memory compilation cache answers the second compile.
  const run = (dir: string | undefined, stayMs: number) => {
    const script = `const boot = require(${JSON.stringify(SERVER_JS)}); const r = boot.loadWithCodeCache(${JSON.stringify(bundle)}, ${JSON.stringify(dir)});
      const file = ${JSON.stringify(dir)} && boot.cacheFile(${JSON.stringify(dir)}, ${JSON.stringify(bundle)}, require('node:fs').statSync(${JSON.stringify(bundle)}));
      console.log(JSON.stringify({ ...r, file, probe: globalThis.__bootProbe })); setTimeout(() => {}, Number(process.env.STAY_MS));`;
    // (The cache key includes node's flags, -e and its script too: the child computes its own file name.)
    return JSON.parse(
      execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, STAY_MS: String(stayMs) } }),
    ) as { cache: string; file: string; probe: unknown };
  };

  test('runs the bundle as CommonJS; writes the cache after a delay, private; uses it next time; replaces a bad one', () => {
    ensureBuilt();
    const dir = path.join(tmp, 'cache');
    const first = run(dir, 0); // ends before the delay: no cache
    const file = first.file;
    assert.deepEqual(first, {
      cache: 'written-later',
      file,
      probe: { sum: 398, dirname: tmp, filename: bundle, exportsIsModuleExports: true, req: 'function' },
    });
    assert.equal(fs.existsSync(file), false, 'not written at once');
    assert.equal(run(dir, CACHE_WRITE_DELAY_MS + 300).cache, 'written-later');
    assert.ok(fs.existsSync(file), 'written after the delay');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(dir), [path.basename(file)], 'no temp file left');

    assert.equal(run(dir, 0).cache, 'used');

    // A corrupt cache is rejected by V8: the bundle still runs, and a good cache replaces it.
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    const afterCorruption = run(dir, CACHE_WRITE_DELAY_MS + 300);
    assert.equal(afterCorruption.cache, 'written-later');
    assert.deepEqual(afterCorruption.probe, first.probe);
    assert.equal(run(dir, 0).cache, 'used');

    // A new bundle (an update): its cache replaces the old one.
    fs.appendFileSync(bundle, '// v2\n');
    const updated = run(dir, CACHE_WRITE_DELAY_MS + 300);
    assert.equal(updated.cache, 'written-later');
    assert.notEqual(updated.file, file);
    assert.deepEqual(fs.readdirSync(dir), [path.basename(updated.file)]);
  });

  test('no cache directory, or one that cannot be written: the bundle runs all the same', async () => {
    assert.deepEqual(loadWithCodeCache(bundle, undefined), { cache: 'off' });
    const blocker = path.join(tmp, 'file-not-dir');
    fs.writeFileSync(blocker, '');
    assert.deepEqual(loadWithCodeCache(bundle, path.join(blocker, 'sub')), { cache: 'written-later' });
    await sleep(CACHE_WRITE_DELAY_MS + 300); // the write fails with a message on stderr, nothing thrown
    assert.equal(fs.existsSync(path.join(blocker, 'sub')), false);
  });
});
