// Golden vectors from fleet-reference §1, §2 and §7.2 (cases 1–38): parsing, hashing, names,
// requirements and ValidateOptions messages, each checked against fleet's observed behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseUnitFile,
  serializeOptions,
  unitHash,
  shortHash,
  toOptions,
  validateUnitName,
  UnitNameInfo,
  parseMultivalueLine,
  requirements,
  xfleetContents,
  isTruthy,
  specifierValue,
  validateOptions,
  globMatch,
  isBadGlob,
  mangleUnitName,
  machineIdMatches,
  type UnitOption,
} from '../src/index';

const opts = (text: string) => {
  const f = parseUnitFile(text);
  return { options: toOptions(f), error: f.problems[0]?.message };
};
const o = (section: string, name: string, value: string): UnitOption => ({ section, name, value });

test('parsing: cases 1–15', () => {
  assert.deepEqual(opts('[Unit]\nDescription=Foo\nDescription=Bar\n'), {
    options: [o('Unit', 'Description', 'Foo'), o('Unit', 'Description', 'Bar')],
    error: undefined,
  });
  assert.deepEqual(opts('Description=Foo\n[Unit]\nDescription=Bar\n').options, [o('Unit', 'Description', 'Bar')]);
  assert.deepEqual(opts('[Unit]\n Description   =words here\n').options, [o('Unit', 'Description', 'words here')]);
  assert.deepEqual(opts('[Unit]\nDescription= Unnecessarily wrapped \\\n    words here\n').options, [
    o('Unit', 'Description', 'Unnecessarily wrapped \\\n    words here'),
  ]);
  assert.deepEqual(opts('[Unit]\nDescription=Bar \\').options, [o('Unit', 'Description', 'Bar \\')]);
  assert.deepEqual(opts('[Unit]\nA=foo \\\n\nB=1\n').options, [o('Unit', 'A', 'foo \\\n'), o('Unit', 'B', '1')]);
  assert.deepEqual(opts('[Service]\nExecStart=/bin/bash echo poof \\  ').options, [o('Service', 'ExecStart', '/bin/bash echo poof \\')]);
  assert.deepEqual(opts('[Unit]\nDescription=Bar\\\n# comment bravo \\\nBaz\n').options, [o('Unit', 'Description', 'Bar\\\n# comment bravo \\\nBaz')]);
  assert.deepEqual(opts('[Unit]\n# c \\\nA=1\nB=2\n').options, [o('Unit', 'B', '2')]);
  assert.deepEqual(opts('[Unit]\nSome Thing = Bar\n').options, [o('Unit', 'Some Thing', 'Bar')]);
  assert.deepEqual(opts('[Unit]\n<<<<<<<<=Bar\n').options, [o('Unit', '<<<<<<<<', 'Bar')]);
  assert.deepEqual(opts('[Unit]\nA=1 # not comment\n').options, [o('Unit', 'A', '1 # not comment')]);
  assert.deepEqual(opts('[Unit]\r\nA=1\r\nB=2\r\n'), { options: [o('Unit', 'A', '1'), o('Unit', 'B', '2')], error: undefined });
  assert.deepEqual(opts('[Unit]\nA=\nB= \n').options, [o('Unit', 'A', ''), o('Unit', 'B', '')]);
  assert.deepEqual(opts('[ Unit ]\nA=1').options, [o(' Unit ', 'A', '1')]);
});

test('parsing: errors, cases 16–21 and §1.3', () => {
  assert.equal(opts('[Unit\nDescription=Foo').error, 'unable to find end of section');
  assert.equal(opts('[Unit] pants\nA=1\n').error, 'found garbage after section name : [112 97 110 116 115]');
  assert.equal(opts('[Unit]\nDescription\n').error, 'unexpected newline encountered while parsing option name');
  assert.equal(opts('[Unit]\nA').error, 'EOF');
  assert.equal(opts('[Service]\nOption=' + 'a'.repeat(2040) + '\n').error, undefined);
  assert.equal(opts('[Service]\nOption=' + 'a'.repeat(2041) + '\n').error, 'line too long (max 2048 bytes)');
  assert.equal(opts('[Unit]\n#' + 'c'.repeat(2047)).error, 'line too long (max 2048 bytes)');
  assert.equal(opts('[Unit]\n<<<<<<\nDescription=Foo\n').error, 'unexpected newline encountered while parsing option name');
  assert.equal(opts('[Unit]\rA=1\r').error, 'found garbage after section name : [65 61 49]');
  assert.equal(opts('[Unit] # comment\n').error, 'found garbage after section name : [35 32 99 111 109 109 101 110 116]');
});

test('parsing: quirks of the preamble and comments', () => {
  assert.deepEqual(opts('Foo=[bar]\nA=1\n').options, [o('bar', 'A', '1')]);
  assert.deepEqual(opts('[]\nA=1\n').options, [o('', 'A', '1')]);
  assert.deepEqual(opts('[Unit]\n# c \\   \nA=1\n').options, [o('Unit', 'A', '1')]);
  assert.deepEqual(opts('[Unit]\n# c \\ \nA=1\nB=2\n').options, [o('Unit', 'B', '2')], 'TrimSuffix drops exactly one space');
  assert.deepEqual(opts('[Unit]\nA=b=c=d\n=val\n').options, [o('Unit', 'A', 'b=c=d'), o('Unit', '', 'val')]);
  assert.deepEqual(opts('[Unit]\nA=1\n[Unit]\nB=2\n').options, [o('Unit', 'A', '1'), o('Unit', 'B', '2')]);
});

test('parsing: ranges of sections, keys and values', () => {
  const text = '# head\n[Unit]\n  Description = Hello world  \nA=x \\\n  y\n';
  const f = parseUnitFile(text);
  const [d, a] = f.options;
  assert.equal(text.slice(f.sections[0]!.nameStart, f.sections[0]!.nameEnd), 'Unit');
  assert.equal(text.slice(d!.nameStart, d!.nameEnd), 'Description');
  assert.equal(text.slice(d!.valueStart, d!.valueEnd), 'Hello world');
  assert.equal(text.slice(a!.valueStart, a!.valueEnd), a!.value);
  assert.equal(a!.lineCount, 2);
  assert.equal(f.comments.length, 1);
});

test('serialization and hash: §1.4 and case 23', () => {
  assert.equal(unitHash([o('Service', 'ExecStart', '/bin/sleep 100')]), '1c6fb6f3684bafb0c173d8b8b957ceff031180c1');
  assert.equal(shortHash(unitHash([o('Service', 'ExecStart', '/bin/sleep 100')])), '1c6fb6f');
  assert.equal(unitHash([]), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  const f = parseUnitFile('[Unit]\nDescription = Foo\n\n\n[Service]\nExecStart=/bin/true\n[Unit]\nAfter=x\n');
  assert.equal(serializeOptions(toOptions(f)), '[Unit]\nDescription=Foo\nAfter=x\n\n[Service]\nExecStart=/bin/true\n');
  assert.equal(unitHash(toOptions(f)), 'd6e944c659b4291f8ae2dbde97d1a176fe55e3ef');
});

test('X-Fleet mapping: case 22 and multi-value vectors', () => {
  assert.deepEqual(xfleetContents(toOptions(parseUnitFile('[X-Fleet]\nMachineMetadata="a=b" "c=d"'))).get('MachineMetadata'), ['a=b', 'c=d']);
  assert.deepEqual(
    toOptions(parseUnitFile('[Service]\nEnvironment="A=1" "B=2"')).map(x => x.value),
    ['"A=1" "B=2"'],
  );
  const vectors: [string, string[]][] = [
    ['"bar" "ping" "pong"', ['bar', 'ping', 'pong']],
    ['"bar"', ['bar']],
    ['""', ['']],
    ['"bar', ['"bar']],
    ['"bar" "', ['bar', '']],
    ['"foo\\"bar"', ['foo\\bar']],
    ['"a=b"  "c=d"', ['a=b', '', 'c=d']],
    ['"a=b"\t"c=d"', ['a=b\tc=d']],
    ['"a=b"x"c=d"', ['a=bxc=d']],
  ];
  for (const [input, output] of vectors) assert.deepEqual(parseMultivalueLine(input), output, input);
});

test('names: case 24, specifiers case 30, ValidateName vectors', () => {
  assert.deepEqual(UnitNameInfo.parse('foo@bar@baz.service'), {
    fullName: 'foo@bar@baz.service',
    name: 'foo@bar@baz',
    prefix: 'foo',
    suffix: '.service',
    template: 'foo@.service',
    instance: 'bar@baz',
  });
  assert.equal(UnitNameInfo.isTemplate(UnitNameInfo.parse('foo.1@.service')), true);
  assert.equal(UnitNameInfo.parse('bar@baz'), undefined);
  const spec = (s: string, n: string) => specifierValue(s, n);
  assert.deepEqual(
    ['%n', '%N', '%p', '%i'].map(s => spec(s, 'ssh@2.service')),
    ['ssh@2.service', 'ssh@2', 'ssh', '2'],
  );
  assert.equal(spec('%i', 'test.service'), '');
  assert.deepEqual(
    ['%n', '%N', '%p', '%i'].map(s => spec(s, 'a.b@c.d.service')),
    ['a.b@c.d.service', 'a.b@c.d', 'a.b', 'c.d'],
  );
  for (const valid of [
    'foo.service',
    'foo@.service',
    'foo@bar@baz.service',
    'a.b.c.service',
    'yes@no\\.service',
    'foo\\x2d.service',
    '.service',
    'foo@1.mount.service',
    'a'.repeat(248) + '.service',
  ]) {
    assert.equal(validateUnitName(valid), undefined, valid);
  }
  assert.equal(validateUnitName(''), 'unit name cannot be empty');
  assert.equal(validateUnitName('a'.repeat(249) + '.service'), 'unit name exceeds maximum length (256)');
  assert.equal(validateUnitName('foo'), 'unit name must contain "."');
  assert.equal(validateUnitName('foo.'), 'unit name cannot end in "."');
  assert.equal(validateUnitName('foo.servICE'), 'invalid unit type: "servICE"');
  assert.equal(validateUnitName('new.bogus'), 'invalid unit type: "bogus"');
  assert.equal(validateUnitName('foo@1.mount'), 'invalid unit type for template: "mount"');
  assert.equal(validateUnitName('dog=woof@.mount'), 'invalid unit type for template: "mount"');
  assert.equal(validateUnitName('föo.service'), "invalid character 'ö' in unit name");
  assert.equal(validateUnitName('a%b.service'), "invalid character '%' in unit name");
  assert.equal(validateUnitName('@.service'), 'unit name cannot start in "@"');
  assert.equal(mangleUnitName('hello'), 'hello.service');
  assert.equal(mangleUnitName('dir/foo.target'), 'foo.target.service');
  assert.equal(mangleUnitName('./units/web.socket'), 'web.socket');
});

test('requirements: cases 25–29', () => {
  const req = (text: string, name?: string) => requirements(toOptions(parseUnitFile(text)), name);
  assert.deepEqual(req('[X-Fleet]\nConflicts=*bar* *foo*').conflicts, ['*bar*', '*foo*']);
  assert.deepEqual(req('[X-Fleet]\nConflicts=*bar*\nConflicts=*foo*').conflicts, ['*bar*', '*foo*']);
  assert.deepEqual(req('[X-Fleet]\nX-Conflicts=a\nConflicts=b\nX-Conflicts=c').conflicts, ['a', 'c', 'b']);
  assert.deepEqual(req('[X-Fleet]\nMachineOf="foo.service" "bar.service"').peers, ['foo.service', 'bar.service']);
  assert.deepEqual(req('[X-Fleet]\nMachineOf=a.service b.service').peers, ['a.service b.service']);
  assert.equal(req('[X-Fleet]\nMachineID="123" "456"').machineId, '123');
  assert.equal(req('[X-Fleet]\nX-ConditionMachineID=456\nMachineID=123').machineId, '123');
  assert.equal(req('[X-Fleet]\nX-ConditionMachineBootID=123\nX-ConditionMachineID=456').machineId, '456');
  assert.equal(req('[X-Fleet]\nMachineID=').machineId, '');
  assert.equal(req('[Unit]\nMachineID=abc').machineId, undefined);
  const md = req(
    '[X-Fleet]\nMachineMetadata=ignored=\nMachineMetadata=oh=yeah\nMachineMetadata=whynot=zoidberg\nX-ConditionMachineMetadata=oh=no\nX-ConditionMachineMetadata="one=abc" "two=def"',
  ).metadata;
  assert.deepEqual(Object.fromEntries([...md].map(([k, v]) => [k, [...v].sort()])), { oh: ['no', 'yeah'], whynot: ['zoidberg'], one: ['abc'], two: ['def'] });
  for (const t of ['True', 'Yes', 'On', '1', 't']) assert.equal(req(`[X-Fleet]\nGlobal=${t}`).global, true, t);
  for (const f of ['what', '12', 'false', 'y']) assert.equal(req(`[X-Fleet]\nGlobal=${f}`).global, false, f);
  assert.equal(req('[X-Fleet]\nX-Global=true').global, false);
  assert.equal(req('[X-Fleet]\nGlobal=true\nGlobal=false').global, false);
  assert.equal(req('[X-Fleet]\nGlobal=false\nGlobal=true').global, true);
  assert.equal(isTruthy('TRUE'), true);
  assert.deepEqual(req('[X-Fleet]\nMachineMetadata=hostname=%i\nMachineOf=%p.socket', 'metadata@host1.service').peers, ['metadata.socket']);
  assert.deepEqual([...req('[X-Fleet]\nMachineMetadata=hostname=%i', 'metadata@host1.service').metadata], [['hostname', ['host1']]]);
  assert.deepEqual(req('[X-Fleet]\nMachineOf=%%i', 'a@bar.service').peers, ['%bar']);
  assert.deepEqual(req('[X-Fleet]\nBogus=1\nMachineOf=x').unknownKeys, ['Bogus']);
});

test('ValidateOptions: cases 31–38 and the round trip', () => {
  const v = (...options: UnitOption[]) => validateOptions(options);
  const x = (name: string, value: string) => o('X-Fleet', name, value);
  assert.equal(v(x('Conflicts', 'foo.service'), x('MachineOf', 'foo.service')), 'unresolvable requirements: peer "foo.service" matches conflict "foo.service"');
  assert.equal(v(x('Conflicts', 'b*e'), x('MachineOf', 'baz.service')), 'unresolvable requirements: peer "baz.service" matches conflict "b*e"');
  assert.equal(v(x('Conflicts', 'b*e'), x('MachineOf', 'foo.service')), undefined);
  assert.equal(
    v(x('Replaces', 'foo.service'), x('Replaces', 'bar.service'), x('MachineOf', 'bar.service')),
    'unresolvable requirements: peer "bar.service" matches replace "bar.service"',
  );
  assert.equal(v(x('MachineID', 'abc'), x('MachineOf', 'x')), 'MachineID cannot be used with Peers');
  assert.equal(v(x('X-ConditionMachineBootID', 'abc'), x('MachineOf', 'x')), 'MachineID cannot be used with Peers');
  assert.equal(v(x('Global', 'true'), x('MachineID', 'abc')), 'MachineID cannot be used with Global');
  assert.equal(v(x('MachineID', 'abc'), x('Global', 'true')), 'MachineID cannot be used with Global');
  assert.equal(v(x('Global', 'true'), x('Replaces', 'foo.service')), 'Global cannot be used with Replaces');
  assert.equal(v(x('Conflicts', 'a.service'), x('Replaces', 'foo.service')), 'Conflicts cannot be used with Replaces');
  assert.equal(v(x('Global', 'true'), x('Conflicts', 'foo.service'), x('MachineMetadata', 'a=b')), undefined);
  assert.equal(v(x('Global', 'false'), x('MachineOf', 'foo.service')), undefined);
  assert.equal(v(x('MachineID', ''), x('Conflicts', 'x')), 'MachineID cannot be used with Conflicts');
  assert.equal(v(x('MachineOf', '%p.socket'), x('Conflicts', '*.socket')), 'unresolvable requirements: peer "%p.socket" matches conflict "*.socket"');
  assert.equal(v(o('Service', 'ExecStart', 'a\nb')), 'unexpected newline encountered while parsing option name');
  assert.equal(v(o('Service', 'ExecStart', 'a\nb=c')), undefined, 'a value with a newline and = becomes two options');
  assert.equal(v(o('Service', 'ExecStart', 'x'.repeat(3000))), 'line too long (max 2048 bytes)');
});

test('globs: Go path.Match semantics', () => {
  assert.equal(globMatch('web*', 'web1.service'), true);
  assert.equal(globMatch('*', 'a/b'), false);
  assert.equal(globMatch('web?.service', 'web1.service'), true);
  assert.equal(globMatch('web[0-9].service', 'web7.service'), true);
  assert.equal(globMatch('web[^0-9].service', 'web7.service'), false);
  assert.equal(globMatch('\\*', '*'), true);
  assert.equal(globMatch('[', '['), false);
  assert.equal(isBadGlob('['), true);
  assert.equal(isBadGlob('a[b'), true);
  assert.equal(isBadGlob('web*'), false);
  assert.equal(isBadGlob('x*[z'), true);
});

test('machine IDs: full or exactly the first 8 characters (case 44)', () => {
  assert.equal(machineIdMatches('BBBBBBBB', 'BBBBBBBBBBBB'), true);
  assert.equal(machineIdMatches('BBBBBBB', 'BBBBBBBBBBBB'), false);
  assert.equal(machineIdMatches('BBBBBBBBBBBB', 'BBBBBBBBBBBB'), true);
});
