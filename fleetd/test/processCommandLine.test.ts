/** The pure parts of the process unit manager: command lines, environment, time spans, specifiers, service settings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandEnvArgs, parseEnvironment, parseEnvironmentFile, parseExecLine, splitWords } from '../src/agent/commandLine';
import { parseTimeout, parseTimespan } from '../src/agent/timespan';
import { expandSpecifiers, unescapeUnitName, type SpecifierContext } from '../src/agent/specifiers';
import { parseServiceConfig, SERVICE_DEFAULTS } from '../src/agent/serviceConfig';

test('splitWords: whitespace, both quotes, C escapes, quotes inside a word, errors', () => {
  assert.deepEqual(splitWords(`  a  "b c"  'd "e"' f\\ g "h\\"i" j\\tk \\x41\\101 x"y z"w `), {
    words: ['a', 'b c', 'd "e"', 'f g', 'h"i', 'j\tk', 'AA', 'xy zw'],
  });
  assert.deepEqual(splitWords(''), { words: [] });
  assert.deepEqual(splitWords('a \\q'), { words: ['a', '\\q'] }, 'unknown escapes are kept');
  assert.deepEqual(splitWords('a "b'), { error: 'unbalanced quotes (" is never closed)' });
  assert.deepEqual(splitWords('a \\'), { error: 'a trailing backslash ends the line' });
});

test('parseExecLine: prefixes - @ : and unsupported + ! !!', () => {
  const r = parseExecLine('-@/bin/sh myname -c "echo hi"');
  assert.deepEqual(r.command, {
    line: '-@/bin/sh myname -c "echo hi"',
    path: '/bin/sh',
    argv: ['myname', '-c', 'echo hi'],
    ignoreFailure: true,
    noEnvExpansion: false,
    unsupportedPrefixes: [],
  });
  assert.deepEqual(parseExecLine(':/bin/echo $X').command?.noEnvExpansion, true);
  assert.deepEqual(parseExecLine('+!!/bin/true').command?.unsupportedPrefixes, ['+', '!!']);
  assert.deepEqual(parseExecLine('/usr/bin/docker run --rm "my image"').command?.argv, ['/usr/bin/docker', 'run', '--rm', 'my image']);
  assert.deepEqual(parseExecLine('   '), { error: 'the command line is empty' });
  assert.deepEqual(parseExecLine('-'), { error: 'no program named after the prefixes' });
  assert.deepEqual(parseExecLine('@/bin/sh'), { error: 'the @ prefix needs a second word to use as argv[0]' });
});

test('expandEnvArgs: $VAR alone splits, ${VAR} substitutes in place, $$ is $, unset is empty', () => {
  const env = { A: 'one two', B: 'x', EMPTY: '' };
  assert.deepEqual(expandEnvArgs(['prog', '$A', '${A}', 'pre${B}post', '$UNSET', '${UNSET}', '$$A', 'a$B', '$EMPTY'], env), [
    'prog',
    'one',
    'two',
    'one two',
    'prexpost',
    '',
    '$A',
    'a$B',
  ]);
});

test('parseEnvironment and parseEnvironmentFile', () => {
  assert.deepEqual(parseEnvironment('"A=1 2" B=3 C= bad =x'), {
    vars: [
      ['A', '1 2'],
      ['B', '3'],
      ['C', ''],
    ],
    invalid: ['bad', '=x'],
  });
  assert.deepEqual(parseEnvironmentFile('# c\n; c\n\nA=1\nexport B="two \\"q\\""\nC=\'single $x\'\n  D = spaced  \nE=multi\\\nline\nnot a pair\n'), {
    vars: [
      ['A', '1'],
      ['B', 'two "q"'],
      ['C', 'single $x'],
      ['D', 'spaced'],
      ['E', 'multiline'],
    ],
    invalid: ['not a pair'],
  });
});

test('parseTimespan / parseTimeout: systemd time spans', () => {
  const cases: [string, number | undefined][] = [
    ['90', 90_000],
    ['5s', 5_000],
    ['500ms', 500],
    ['1min 30s', 90_000],
    ['1min30s', 90_000],
    ['2h', 7_200_000],
    ['1.5s', 1_500],
    ['100us', 0.1],
    ['infinity', Infinity],
    ['', undefined],
    ['soon', undefined],
    ['5 parsecs', undefined],
    ['-1s', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseTimespan(text), ms, text);
  assert.equal(parseTimeout('0'), Infinity);
  assert.equal(parseTimeout('10s'), 10_000);
});

const ctx: SpecifierContext = { unitName: 'web@a-b\\x2dc.service', machineId: 'f'.repeat(32), hostname: 'h1', bootId: 'b'.repeat(32), runtimeDir: '/run/x' };

test('specifiers: systemd meanings, %% escape, unknown ones left and reported', () => {
  const unknown = new Set<string>();
  assert.equal(
    expandSpecifiers('%n|%N|%p|%P|%i|%I|%j|%f|%H|%m|%b|%t|%%|%u|%', ctx, unknown),
    `web@a-b\\x2dc.service|web@a-b\\x2dc|web|web|a-b\\x2dc|a/b-c|web|/a/b-c|h1|${'f'.repeat(32)}|${'b'.repeat(32)}|/run/x|%|%u|%`,
  );
  assert.deepEqual([...unknown], ['%u', '%']);
  assert.equal(unescapeUnitName('dev-disk-by\\x2dlabel'), 'dev/disk/by-label');
  const u2 = new Set<string>();
  assert.equal(expandSpecifiers('%j/%J/%f', { ...ctx, unitName: 'foo-bar.service' }, u2), 'bar/bar//foo/bar');
});

test('parseServiceConfig: defaults', () => {
  const c = parseServiceConfig('a.service', [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], ctx);
  assert.equal(c.kind, 'service');
  assert.equal(c.type, 'simple');
  assert.equal(c.description, 'a.service');
  assert.equal(c.restart, 'no');
  assert.equal(c.restartMs, SERVICE_DEFAULTS.restartMs);
  assert.equal(c.timeoutStartMs, 90_000);
  assert.equal(c.timeoutStopMs, 90_000);
  assert.equal(c.startLimitBurst, 5);
  assert.equal(c.startLimitIntervalMs, 10_000);
  assert.equal(c.killSignal, 'SIGTERM');
  assert.deepEqual([c.errors, c.unsupported, c.notes], [[], [], []]);
});

test('parseServiceConfig: settings, empty assignments reset lists, TimeoutSec sets both, KillSignal spellings', () => {
  const o = (name: string, value: string, section = 'Service') => ({ section, name, value });
  const c = parseServiceConfig(
    'a.service',
    [
      o('Description', 'App %i', 'Unit'),
      o('StartLimitIntervalSec', '1min', 'Unit'),
      o('StartLimitBurst', '9', 'Unit'),
      o('Type', 'oneshot'),
      o('ExecStart', '/bin/a'),
      o('ExecStart', ''),
      o('ExecStart', '/bin/b'),
      o('ExecStart', '/bin/c'),
      o('Environment', 'A=1'),
      o('Environment', ''),
      o('Environment', 'B=2'),
      o('TimeoutSec', '5s'),
      o('TimeoutStopSec', 'infinity'),
      o('KillSignal', 'INT'),
      o('Restart', 'on-failure'),
      o('RestartSec', '2'),
      o('RemainAfterExit', 'yes'),
      o('SuccessExitStatus', '3 SIGUSR1'),
      o('WorkingDirectory', '-/srv/%p'),
      o('EnvironmentFile', '-/etc/%N.env'),
    ],
    { ...ctx, unitName: 'a.service' },
  );
  assert.equal(c.description, 'App ');
  assert.equal(c.startLimitIntervalMs, 60_000);
  assert.equal(c.startLimitBurst, 9);
  assert.deepEqual(
    c.execStart.map(e => e.path),
    ['/bin/b', '/bin/c'],
  );
  assert.deepEqual(c.environment, [['B', '2']]);
  assert.equal(c.timeoutStartMs, 5_000);
  assert.equal(c.timeoutStopMs, Infinity);
  assert.equal(c.killSignal, 'SIGINT');
  assert.equal(c.restart, 'on-failure');
  assert.equal(c.restartMs, 2_000);
  assert.equal(c.remainAfterExit, true);
  assert.deepEqual(c.successExitStatus, [3]);
  assert.deepEqual(c.workingDirectory, { path: '/srv/a', optional: true });
  assert.deepEqual(c.environmentFiles, [{ path: '/etc/a.env', optional: true }]);
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.unsupported, ['SuccessExitStatus=SIGUSR1 (only exit codes 0-255 are supported)']);
});

test('parseServiceConfig: systemd refuses these (load state bad-setting), with the fix in the message', () => {
  const o = (name: string, value: string) => ({ section: 'Service', name, value });
  const errors = (...opts: { section: string; name: string; value: string }[]) => parseServiceConfig('a.service', opts, ctx).errors;
  assert.deepEqual(errors(o('Type', 'simple')), [
    'Service has no ExecStart= setting, which is only allowed for Type=oneshot services; add ExecStart=/path/to/program',
  ]);
  assert.equal(parseServiceConfig('a.service', [], ctx).masked, true, 'an empty file is masked, not a bad setting');
  assert.deepEqual(errors(), []);
  assert.deepEqual(errors(o('Type', 'oneshot'), o('RemainAfterExit', 'true')), []);
  assert.deepEqual(errors(o('Type', 'oneshot'), o('ExecStart', '/bin/true'), o('Restart', 'always')), [
    "Service has Restart=always, which isn't allowed for Type=oneshot services; use Restart=on-failure or no",
  ]);
  assert.deepEqual(errors(o('ExecStart', '/bin/echo "unterminated')), [
    'ExecStart=/bin/echo "unterminated: unbalanced quotes (" is never closed)',
    'Service has no ExecStart= setting, which is only allowed for Type=oneshot services; add ExecStart=/path/to/program',
  ]);
  assert.deepEqual(parseServiceConfig('a.service', [o('ExecStart', '/bin/x %u')], ctx).unsupported, ['specifier %u (left as written)']);
  assert.deepEqual(parseServiceConfig('a.service', [o('Type', 'notify'), o('ExecStart', '/bin/x')], ctx).unsupported, [
    'Type=notify (run as Type=simple: ready as soon as it starts)',
  ]);
  assert.equal(parseServiceConfig('a.socket', [{ section: 'Socket', name: 'ListenStream', value: '80' }], ctx).kind, 'other');
  assert.equal(parseServiceConfig('a.target', [], ctx).errors.length, 0);
});
