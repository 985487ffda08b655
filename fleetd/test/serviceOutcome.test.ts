/**
 * systemd's outcome rules as tables: what an exit means (service.c's sigchld handling and
 * SuccessExitStatus=), which results Restart= restarts on (systemd.service(5)'s table), and the
 * start refusals and start limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, shallRestart, startLimit, startRefusal, succeeded, type ServiceResult } from '../src/agent/serviceOutcome';
import type { ExitInfo } from '../src/agent/processes';
import type { RestartPolicy } from '../src/agent/serviceConfig';

const exit = (code: number): ExitInfo => ({ code, signal: null });
const killed = (signal: NodeJS.Signals): ExitInfo => ({ code: null, signal });
const execFailed: ExitInfo = { code: 203, signal: null, spawnError: 'Failed to execute /nope: No such file or directory' };

test('succeeded: status 0, or SuccessExitStatus= for the main process only; never a signal or a failed exec', () => {
  const rows: [ExitInfo, boolean, number[], boolean][] = [
    [exit(0), false, [], true],
    [exit(0), true, [], true],
    [exit(1), true, [], false],
    [exit(42), true, [42], true],
    [exit(42), false, [42], false],
    [killed('SIGTERM'), true, [], false],
    [killed('SIGKILL'), false, [], false],
    [execFailed, true, [203], false],
  ];
  for (const [info, main, statuses, want] of rows) {
    assert.equal(succeeded(info, main, statuses), want, `${JSON.stringify(info)} main=${main} SuccessExitStatus=${statuses}`);
  }
});

test('classify: the service result of a main process exit', () => {
  const rows: [ExitInfo, boolean, number[], ServiceResult][] = [
    [exit(0), false, [], 'success'],
    [exit(1), false, [], 'exit-code'],
    [exit(1), true, [], 'success'], // ExecStart=-/bin/false
    [exit(3), false, [3], 'success'],
    [killed('SIGTERM'), false, [], 'success'],
    [killed('SIGINT'), false, [], 'success'],
    [killed('SIGHUP'), false, [], 'success'],
    [killed('SIGPIPE'), false, [], 'success'],
    [killed('SIGKILL'), false, [], 'signal'],
    [killed('SIGSEGV'), false, [], 'signal'],
    [killed('SIGKILL'), true, [], 'success'],
    [execFailed, false, [], 'exit-code'],
  ];
  for (const [info, ignoresFailure, successExitStatus, want] of rows) {
    assert.equal(classify(info, { ignoresFailure, successExitStatus }), want, `${JSON.stringify(info)} ignoresFailure=${ignoresFailure}`);
  }
});

test("shallRestart: systemd.service(5)'s Restart= table", () => {
  const results: ServiceResult[] = ['success', 'exit-code', 'signal', 'timeout', 'start-limit-hit', 'resources'];
  // Columns in the order of `results`; 'resources' is how systemd reports a start that could not be set up.
  const table: Record<RestartPolicy, boolean[]> = {
    no: [false, false, false, false, false, false],
    always: [true, true, true, true, false, true],
    'on-success': [true, false, false, false, false, false],
    'on-failure': [false, true, true, true, false, true],
    'on-abnormal': [false, false, true, true, false, false],
    'on-abort': [false, false, true, false, false, false],
    'on-watchdog': [false, false, false, false, false, false],
  };
  for (const [policy, row] of Object.entries(table) as [RestartPolicy, boolean[]][]) {
    results.forEach((result, i) => assert.equal(shallRestart(policy, result), row[i], `Restart=${policy} after ${result}`));
  }
});

test('startRefusal: masked, a kind the manager cannot run, bad settings; none for a good unit', () => {
  assert.match(startRefusal('a.service', { masked: true, kind: 'service', errors: [] })!.message, /^Unit a\.service is masked/);
  const socket = startRefusal('a.socket', { masked: false, kind: 'other', errors: [] })!;
  assert.match(socket.message, /cannot run \.socket units/);
  assert.equal(socket.result, 'resources');
  assert.equal(startRefusal('a.service', { masked: false, kind: 'service', errors: ['x', 'y'] })!.message, 'Unit a.service has a bad unit file setting: x; y');
  assert.equal(startRefusal('a.service', { masked: false, kind: 'service', errors: [] }), undefined);
  assert.equal(startRefusal('a.target', { masked: false, kind: 'target', errors: [] }), undefined);
});

test('startLimit: the burst within the interval, older starts forgotten, off when either is 0', () => {
  const config = { startLimitIntervalMs: 10_000, startLimitBurst: 3 };
  let times: number[] = [];
  for (const now of [0, 1_000, 2_000]) {
    const r = startLimit(config, times, now);
    assert.equal(r.refusal, undefined, `start at ${now}`);
    times = r.startTimes;
  }
  assert.deepEqual(times, [0, 1_000, 2_000]);
  const refused = startLimit(config, times, 3_000);
  assert.equal(refused.refusal?.result, 'start-limit-hit');
  assert.equal(refused.refusal?.message, 'Start request repeated too quickly (3 starts within 10s; StartLimitBurst=/StartLimitIntervalSec=)');
  assert.deepEqual(refused.startTimes, [0, 1_000, 2_000]);
  // The first start leaves the window at 10 s: one more may go.
  const later = startLimit(config, times, 10_000);
  assert.equal(later.refusal, undefined);
  assert.deepEqual(later.startTimes, [1_000, 2_000, 10_000]);
  assert.deepEqual(startLimit({ startLimitIntervalMs: 0, startLimitBurst: 3 }, [1, 2, 3], 4), { startTimes: [1, 2, 3] });
  assert.deepEqual(startLimit({ startLimitIntervalMs: 10_000, startLimitBurst: 0 }, [], 4), { startTimes: [] });
});
