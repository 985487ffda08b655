/**
 * scripts/lib/suite.sh, the machinery behind `npm test`: counts from node's test runner, a failing
 * file makes the run fail, timeouts are failures, and the leak check finds and stops processes
 * that carry the run's ID even after they left the process group.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { waitFor } from '../support/process';

const ROOT = path.resolve(__dirname, '..', '..');
const SUITE = path.join(ROOT, 'scripts', 'lib', 'suite.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-suite-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs a bash snippet with suite.sh sourced and results in a temp dir. */
function bash(script: string, env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync('bash', ['-c', `source ${JSON.stringify(SUITE)}\n${script}`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, SUITE_RESULTS_DIR: tmp, NODE_TEST_CONTEXT: undefined, ...env },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function writeTest(name: string, body: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, `import { test } from 'node:test';\nimport assert from 'node:assert/strict';\n${body}\n`);
  return file;
}

describe('scripts/lib/suite.sh', () => {
  test('counts passes, failures and skips across files and fails the run on a failure', () => {
    const good = writeTest('good.test.ts', "test('a', () => {}); test('b', () => {}); test('c', { skip: 'not here' }, () => {});");
    const bad = writeTest('bad.test.ts', "test('d', () => assert.equal(1, 2));");
    const r = bash(`suite_node_tests "demo" demo 60 60 ${good} ${bad}; suite_summary; exit $SUITE_ANY_FAILED`);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /demo\s+FAILED\s+\d+s\s+2 passed, 1 failed, 1 skipped/);
    assert.match(r.out, /FAILED: 2 passed, 1 failed, 1 skipped/);
    assert.match(r.out, /good\.test\.ts: not here/);
    assert.match(r.out, /failing files in demo:\n\s+\S*bad\.test\.ts\n/);
  });

  test('an all-green phase is ok and the run exits 0', () => {
    const good = writeTest('green.test.ts', "test('a', () => {});");
    const r = bash(`suite_node_tests "green" green 60 60 ${good}; suite_summary; exit $SUITE_ANY_FAILED`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /green\s+ok\s+\d+s\s+1 passed, 0 failed, 0 skipped/);
    assert.match(r.out, /OK: 1 passed, 0 failed, 0 skipped/);
  });

  test('a phase that runs past its limit is stopped and fails', () => {
    const slow = writeTest('slow.test.ts', "test('forever', async () => { await new Promise(r => setTimeout(r, 60_000)); });");
    const started = Date.now();
    const r = bash(`suite_node_tests "slow" slow 60 2 ${slow}; suite_summary; exit $SUITE_ANY_FAILED`);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /slow\s+FAILED\s+\d+s\s+0 passed, 1 failed/);
    assert.match(r.out, /slow\.test\.ts \(timed out after 2s\)/);
    assert.ok(Date.now() - started < 40_000);
  });

  test('files left when the time budget is used up are not started, and count as failures', () => {
    const good = writeTest('budget.test.ts', "test('a', () => {});");
    const r = bash(`suite_node_tests "late" late 60 60 ${good}; suite_summary; exit $SUITE_ANY_FAILED`, { FLEET_TEST_BUDGET: '0' });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /late\s+FAILED\s+\d+s\s+0 passed, 1 failed/);
    assert.match(r.out, /budget\.test\.ts \(not run: the time budget was used up\)/);
  });

  test('a failing command step is recorded with its exit code', () => {
    const r = bash('suite_step "broken build" broken 30 bash -c "echo compiling; exit 3"; suite_summary; exit $SUITE_ANY_FAILED');
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /broken build\s+FAILED\s+\d+s\s+exit code 3/);
  });

  test('the leak check finds a process by the run ID, even in its own session, and stops it', async () => {
    const id = `leak-${process.pid}-${Date.now()}`;
    const leaked = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, FLEET_TEST_RUN_ID: id } });
    leaked.unref();
    try {
      await waitFor('the leaked process to show up', () => bash(`suite_run_processes ${id}`).out.trim() !== '');
      const r = bash(`suite_reap ${id} 1; echo "reap=$?"`);
      assert.match(r.out, /1 process\(es\) of this run were still running/);
      assert.match(r.out, /sleep 60/);
      assert.match(r.out, /reap=1/);
      assert.equal(bash(`suite_run_processes ${id}`).out.trim(), '');
      const clean = bash(`suite_reap ${id} 1; echo "reap=$?"`);
      assert.match(clean.out, /reap=0/);
    } finally {
      try {
        process.kill(leaked.pid!, 'SIGKILL');
      } catch {
        // stopped by the leak check
      }
    }
  });
});
