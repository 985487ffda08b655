// The systemd directive catalog: versions, sections per type, lookups, and value checks by kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOLEAN_VALUES,
  CATALOG_VERSIONS,
  SECTIONS,
  SYSTEMD_SPECIFIERS,
  directivesFor,
  findDirective,
  lookupDirective,
  sectionInfo,
  sectionsFor,
  validateValue,
} from '../src/systemd/catalog';
import type { Directive } from '../src/systemd/types';

const d = (section: string, name: string): Directive => {
  const found = lookupDirective(section, name);
  assert.ok(found, `${section}.${name} is catalogued`);
  return found;
};
/** undefined when valid, else the message. */
const check = (section: string, name: string, value: string, version?: number) => validateValue(d(section, name), value, version)?.message;

test('the catalogued versions cover v219 to v257 at least, ascending', () => {
  for (const v of [219, 225, 230, 232, 235, 239, 241, 245, 247, 249, 250, 252, 254, 255, 256, 257]) assert.ok(CATALOG_VERSIONS.includes(v), `v${v}`);
  assert.deepEqual(
    [...CATALOG_VERSIONS].sort((a, b) => a - b),
    CATALOG_VERSIONS,
  );
});

test('sections per unit type', () => {
  assert.deepEqual(
    sectionsFor('service').map(s => s.name),
    ['Unit', 'Install', 'Service'],
  );
  assert.deepEqual(
    sectionsFor('timer').map(s => s.name),
    ['Unit', 'Install', 'Timer'],
  );
  assert.deepEqual(
    sectionsFor('target').map(s => s.name),
    ['Unit', 'Install'],
  );
  assert.equal(sectionInfo('Service')?.docUrl, 'https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html');
  assert.equal(sectionInfo('Bogus'), undefined);
  assert.ok(sectionInfo('BusName')?.removed, '[BusName] went away with kdbus');
  assert.ok(SECTIONS.every(s => s.description.length > 10));
});

test('directives: kinds, enums, multiple, docs, since and removed', () => {
  const type = d('Service', 'Type');
  assert.equal(type.kind, 'enum');
  assert.deepEqual(type.values?.slice(0, 6), ['simple', 'forking', 'oneshot', 'dbus', 'notify', 'idle']);
  assert.deepEqual(type.valueSince, { exec: 241, 'notify-reload': 254 });
  assert.equal(type.multiple, false);
  assert.equal(d('Service', 'ExecStart').kind, 'command');
  assert.equal(d('Service', 'ExecStart').multiple, true);
  assert.equal(d('Unit', 'After').kind, 'units');
  assert.equal(d('Unit', 'After').multiple, true);
  assert.equal(d('Service', 'RestartSec').kind, 'timespan');
  assert.equal(d('Service', 'KillMode').kind, 'enum');
  assert.deepEqual(d('Service', 'KillMode').values, ['control-group', 'process', 'mixed', 'none']);
  assert.equal(d('Service', 'Environment').kind, 'environment');
  assert.equal(d('Service', 'User').kind, 'user');
  assert.equal(d('Service', 'KillSignal').kind, 'signal');
  assert.equal(d('Service', 'UMask').kind, 'mode');
  assert.equal(d('Service', 'RemainAfterExit').docUrl, 'https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html#RemainAfterExit=');
  assert.equal(d('Service', 'PrivateTmp').docUrl, 'https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#PrivateTmp=');
  assert.equal(d('Service', 'KillMode').docUrl, 'https://www.freedesktop.org/software/systemd/man/latest/systemd.kill.html#KillMode=');
  assert.equal(d('Service', 'CPUQuota').docUrl, 'https://www.freedesktop.org/software/systemd/man/latest/systemd.resource-control.html#CPUQuota=');
  assert.match(d('Service', 'ExecStart').description, /command/);
  assert.equal(d('Service', 'TTYReset').description, 'Boolean setting of the [Service] section (exec settings).');
  assert.equal(d('Service', 'ExecCondition').since, 245, 'added in v243: the first catalogued tag that has it');
  assert.equal(d('Unit', 'OnSuccess').since, 249);
  assert.equal(d('Service', 'ImportCredential').since, 254);
  assert.equal(d('Unit', 'Description').since, 219);
  assert.equal(d('Unit', 'Description').removed, undefined);
  assert.deepEqual(d('Unit', 'RequiresOverridable').deprecated, { since: 230, replacement: 'Requires', warns: true });
  assert.deepEqual(d('Unit', 'BindTo').deprecated, { since: 219, replacement: 'BindsTo' });
  assert.equal(d('Service', 'MemoryLimit').deprecated?.replacement, 'MemoryMax');
  assert.equal(d('Service', 'MemoryLimit').deprecated?.ignoredSince, 258);
  assert.equal(d('Service', 'StartLimitInterval').deprecated?.replacementSection, 'Unit');
});

test('lookups by section, type and version', () => {
  assert.equal(lookupDirective('Service', 'ExecStart', 'timer'), undefined);
  assert.equal(lookupDirective('Service', 'ExecStart', 'service')?.section, 'Service');
  assert.equal(lookupDirective('Service', 'NoSuchThing'), undefined);
  assert.deepEqual(
    findDirective('ExecStartPre')
      .map(x => x.section)
      .sort(),
    ['Service', 'Socket'],
  );
  assert.deepEqual(
    findDirective('PrivateTmp')
      .map(x => x.section)
      .sort(),
    ['Mount', 'Service', 'Socket', 'Swap'],
  );
  const at252 = directivesFor('Service', 'service', 252).map(x => x.name);
  assert.ok(at252.includes('ExecStart') && at252.includes('ExitType'));
  assert.ok(!at252.includes('ImportCredential'), 'ImportCredential= is from v254');
  assert.ok(directivesFor('Service', 'service').some(x => x.name === 'ImportCredential'));
  assert.deepEqual(directivesFor('Service', 'timer'), []);
});

test('booleans: every systemd spelling, any case', () => {
  assert.deepEqual([...BOOLEAN_VALUES], ['1', 'yes', 'y', 'true', 't', 'on', '0', 'no', 'n', 'false', 'f', 'off']);
  for (const v of [...BOOLEAN_VALUES, 'YES', 'True', 'oN', 'OFF']) assert.equal(check('Service', 'RemainAfterExit', v), undefined, v);
  assert.equal(check('Service', 'RemainAfterExit', 'maybe'), 'is not a boolean: use one of yes/no, true/false, on/off, 1/0');
  assert.ok(check('Service', 'RemainAfterExit', 'yess'));
  assert.equal(check('Service', 'RemainAfterExit', ''), 'is empty, which systemd cannot parse for this setting (it has no reset form); remove the line');
  assert.equal(check('Service', 'MemoryMax', ''), undefined, 'an empty assignment resets MemoryMax=');
  assert.equal(check('Service', 'Environment', ''), undefined, 'an empty assignment resets a list');
});

test('time spans as parse_sec reads them', () => {
  for (const v of [
    '5',
    '5s',
    '5 s',
    '1min 30s',
    '1min30s',
    '2h',
    '1.5h',
    '100ms',
    '10us',
    '3d',
    '1w',
    '1M',
    '1y',
    'infinity',
    '0',
    '2 hours',
    '1month',
    '90sec',
    '5µs',
  ]) {
    assert.equal(check('Service', 'RestartSec', v), undefined, v);
  }
  for (const v of ['5 parsecs', 'forever', '-5s', '5x', 'min', '1h-']) assert.ok(check('Service', 'RestartSec', v), v);
  assert.equal(check('Service', 'TimerSlackNSec', '50ns'), undefined);
  assert.ok(check('Service', 'RestartSec', '50ns'));
});

test('sizes, integers, percentages, limits', () => {
  for (const v of ['1024', '1K', '512M', '1.5G', '2T', '1P', '1E']) assert.equal(check('Service', 'MemoryMax', v), undefined, v);
  for (const v of ['infinity', '50%']) assert.equal(check('Service', 'MemoryMax', v), undefined, v);
  for (const v of ['1Q', 'lots', '-1G']) assert.ok(check('Service', 'MemoryMax', v), v);
  assert.equal(check('Service', 'Nice', '-20'), undefined);
  assert.equal(check('Service', 'Nice', '20'), 'is out of range (-20 to 19)');
  assert.equal(check('Service', 'Nice', 'low'), 'is not a number');
  assert.equal(check('Service', 'CPUWeight', 'idle'), undefined);
  assert.ok(check('Service', 'CPUWeight', '0'));
  assert.equal(check('Service', 'CPUQuota', '20%'), undefined);
  assert.ok(check('Service', 'CPUQuota', '20'));
  for (const v of ['100', '50%', 'infinity']) assert.equal(check('Service', 'TasksMax', v), undefined, v);
  for (const v of ['4096', 'infinity', '1024:4096', '1G', '8M:infinity']) assert.equal(check('Service', 'LimitNOFILE', v), undefined, v);
  assert.ok(check('Service', 'LimitNOFILE', 'abc'));
  assert.ok(check('Service', 'LimitNOFILE', '1:2:3'));
});

test('enums, including boolean-or-enum, numbers and prefixes, with versions', () => {
  assert.equal(check('Service', 'Type', 'notify'), undefined);
  assert.match(check('Service', 'Type', 'sometimes')!, /^is not one of simple, forking, oneshot/);
  assert.equal(check('Service', 'Type', 'exec', 239), 'Type=exec needs systemd 241 or later (the target is 239)');
  assert.equal(validateValue(d('Service', 'Type'), 'exec', 239)?.since, 241);
  assert.equal(check('Service', 'Type', 'exec', 252), undefined);
  assert.equal(check('Service', 'Restart', 'on-failure'), undefined);
  assert.ok(check('Service', 'Restart', 'sometimes'));
  for (const v of ['yes', 'no', 'full', 'strict', 'true']) assert.equal(check('Service', 'ProtectSystem', v), undefined, v);
  assert.match(check('Service', 'ProtectSystem', 'everything')!, /\(or a boolean\)$/);
  for (const v of ['journal', 'null', 'file:/var/log/x.log', 'append:/var/log/x', 'truncate:/x', 'fd:foo', 'journal+console', 'syslog']) {
    assert.equal(check('Service', 'StandardOutput', v), undefined, v);
  }
  assert.ok(check('Service', 'StandardOutput', 'file:'));
  assert.ok(check('Service', 'StandardOutput', 'printer'));
  assert.equal(check('Service', 'IOSchedulingClass', 'best-effort'), undefined);
  assert.equal(check('Service', 'IOSchedulingClass', '2'), undefined);
  assert.equal(check('Service', 'SyslogLevel', 'debug'), undefined);
  assert.equal(check('Service', 'KillMode', 'none'), undefined);
});

test('paths, path lists, conditions', () => {
  assert.equal(check('Service', 'RootDirectory', '/srv/root'), undefined);
  assert.equal(check('Service', 'RootDirectory', 'srv/root'), 'is not an absolute path (it must start with /)');
  assert.equal(check('Service', 'WorkingDirectory', '~'), undefined);
  assert.equal(check('Service', 'WorkingDirectory', '-/srv/app'), undefined);
  assert.equal(check('Service', 'EnvironmentFile', '-/etc/default/app'), undefined);
  assert.ok(check('Service', 'EnvironmentFile', 'etc/default/app'));
  assert.equal(check('Service', 'PIDFile', 'app.pid'), undefined, 'systemd puts a relative PIDFile= under /run');
  assert.equal(check('Unit', 'ConditionPathExists', '!/etc/foo'), undefined);
  assert.equal(check('Unit', 'ConditionPathExists', '|!/etc/foo'), undefined);
  assert.ok(check('Unit', 'ConditionPathExists', '!etc/foo'));
  assert.equal(check('Service', 'ReadWritePaths', '/var/lib/a -/var/lib/b "/var/lib/c d"'), undefined);
  assert.equal(check('Service', 'ReadWritePaths', '/var/lib/a relative'), '"relative" is not an absolute path');
  assert.deepEqual(validateValue(d('Service', 'ReadWritePaths'), '/a relative'), { message: '"relative" is not an absolute path', start: 3, end: 11 });
});

test('Exec lines: prefixes, absolute or plain names (systemd 239+), quoting', () => {
  for (const v of [
    '/bin/true',
    '-/bin/true',
    '@/bin/sh sh -c x',
    '+/bin/true',
    '!/bin/true',
    '!!/bin/true',
    ':/bin/echo $X',
    '-+/bin/x',
    'sleep 1',
    '/bin/sh -c "echo a; echo b"',
    '/usr/bin/docker run --name %p',
    '%h/bin/x',
    '/bin/a ; /bin/b',
  ]) {
    assert.equal(check('Service', 'ExecStart', v, 252), undefined, v);
  }
  assert.match(check('Service', 'ExecStart', 'sleep 1', 235)!, /systemd before 239 needs an absolute path/);
  assert.match(check('Service', 'ExecStart', 'bin/true')!, /absolute path or a plain command name/);
  assert.match(check('Service', 'ExecStart', '+!/bin/true')!, /conflicting or repeated prefixes/);
  assert.match(check('Service', 'ExecStart', '--/bin/true')!, /conflicting or repeated prefixes/);
  assert.equal(check('Service', 'ExecStart', '/bin/sh -c "echo'), 'has an unbalanced quote, so systemd refuses the whole command line');
  assert.equal(check('Service', 'ExecStart', '-'), 'has prefixes but no command');
  assert.deepEqual(validateValue(d('Service', 'ExecStart'), '+/bin/true', 230), {
    message: 'The + prefix needs systemd 232 or later (the target is 230)',
    start: 0,
    end: 1,
    since: 232,
  });
  assert.deepEqual(validateValue(d('Service', 'ExecStart'), '-:/bin/echo $X', 241), {
    message: 'The : prefix needs systemd 245 or later (the target is 241)',
    start: 1,
    end: 2,
    since: 245,
  });
  assert.equal(check('Service', 'ExecStart', '|/bin/true', 257), 'The | prefix needs systemd 258 or later (the target is 257)');
  assert.equal(check('Service', 'ExecStart', '!!/bin/true', 239), undefined);
  assert.equal(check('Service', 'ExecStart', '-/bin/true', 219), undefined);
});

test('units, signals, modes, users, environment, URLs', () => {
  assert.equal(check('Unit', 'After', 'network.target docker.service web@1.service'), undefined);
  assert.equal(check('Unit', 'After', 'network'), '"network" is not a unit name (name.service, name.target, name@instance.service, …)');
  assert.equal(check('Unit', 'After', '%i.service'), undefined);
  for (const v of ['SIGTERM', 'TERM', '15', 'SIGRTMIN+3', 'KILL']) assert.equal(check('Service', 'KillSignal', v), undefined, v);
  assert.ok(check('Service', 'KillSignal', 'SIGFOO'));
  assert.equal(check('Service', 'UMask', '0022'), undefined);
  assert.ok(check('Service', 'UMask', '0999'));
  assert.equal(check('Service', 'User', 'www-data'), undefined);
  assert.equal(check('Service', 'User', '1000'), undefined);
  assert.ok(check('Service', 'User', 'bad user'));
  assert.equal(check('Service', 'Environment', 'A=1 "B=two words" C='), undefined);
  assert.match(check('Service', 'Environment', 'A=1 B')!, /"B" is not a KEY=VALUE assignment/);
  assert.equal(check('Unit', 'Documentation', 'man:systemd(1) https://example.com/x file:/usr/share/doc info:x'), undefined);
  assert.equal(check('Unit', 'Documentation', 'systemd.time(7)'), '"systemd.time(7)" is not a URL systemd accepts (http://, https://, file:, info:, man:)');
});

test('calendar expressions: shorthands and forms pass, misspellings fail', () => {
  for (const v of ['daily', 'Weekly', 'hourly', 'Mon *-*-* 09:00', '*-*-01 00:00:00', 'Sat,Sun 10:00', '2026-01-01', '*:0/15', 'quarterly']) {
    assert.equal(check('Timer', 'OnCalendar', v), undefined, v);
  }
  assert.match(check('Timer', 'OnCalendar', 'dayly')!, /^is not a calendar expression/);
  assert.equal(d('Timer', 'OnBootSec').kind, 'timespan');
  assert.ok(check('Timer', 'OnBootSec', 'soon'));
});

test('specifiers and template placeholders never make a value invalid', () => {
  assert.equal(check('Service', 'RemainAfterExit', '%i'), undefined);
  assert.equal(check('Service', 'RestartSec', '%i'), undefined);
  assert.equal(check('Service', 'RootDirectory', '%h/root'), undefined);
  assert.equal(check('Service', 'Type', '@TYPE@'), undefined);
  assert.equal(check('Service', 'ExecStart', '{{LIBEXECDIR}}/x'), undefined);
  assert.equal(SYSTEMD_SPECIFIERS.find(s => s.specifier === '%i')?.meaning, 'instance name (the part after @, escaped)');
  assert.ok(SYSTEMD_SPECIFIERS.some(s => s.specifier === '%%'));
});
