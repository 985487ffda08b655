// The fleet half of the rule table: whole problem lists for inline unit files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLEET_RULES, parseUnitFile, validateUnitFile, type Problem, type UnitIndex, type UnitFile } from '../src/index';

/** Problems from the fleet rules only (plus parser errors), as [code, severity, covered text, message]. */
function fleet(text: string, unitName?: string, index?: UnitIndex) {
  const file = parseUnitFile(text);
  return validateUnitFile(file, { unitName, index, rules: FLEET_RULES }).map(p => [p.code, p.severity, text.slice(p.start, p.end), p.message]);
}

function apply(text: string, p: Problem, fix = 0): string {
  const edits = [...p.fixes![fix]!.edits].sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}

function indexOf(files: Record<string, string>): UnitIndex {
  const units = new Map<string, { name: string; file: UnitFile }>();
  for (const [name, text] of Object.entries(files)) units.set(name, { name, file: parseUnitFile(text) });
  return { units: () => units.values(), get: n => units.get(n) };
}

test('a clean fleet unit has no problems', () => {
  assert.deepEqual(fleet('[Unit]\nDescription=web\n[Service]\nExecStart=/bin/true\n[X-Fleet]\nConflicts=web.*.service\n', 'web.1.service'), []);
});

test("parser errors carry fleet's text and an exact range", () => {
  assert.deepEqual(fleet('[Unit]\nDescription\nA=1\n'), [['fleet-parse', 'error', 'Description', 'unexpected newline encountered while parsing option name']]);
  assert.deepEqual(fleet('[Unit] x\n'), [['fleet-parse', 'error', 'x', 'found garbage after section name : [120]']]);
});

test("file names are checked with fleet's ValidateName", () => {
  assert.deepEqual(fleet('[Service]\nExecStart=/bin/true\n', 'web@1.mount'), [
    ['fleet-unit-name', 'error', '[Service]', 'invalid unit type for template: "mount" (file name "web@1.mount")'],
  ]);
});

test("option combinations: fleet's message on every option involved, with a removal fix", () => {
  const text = '[X-Fleet]\nMachineID=4d389537d9d14bdabe8be54a9c29f68d\nMachineOf=db.service\n';
  assert.deepEqual(fleet(text, 'web.service'), [
    ['fleet-options', 'error', 'MachineID=4d389537d9d14bdabe8be54a9c29f68d', 'MachineID cannot be used with Peers'],
    ['fleet-options', 'error', 'MachineOf=db.service', 'MachineID cannot be used with Peers'],
  ]);
  const file = parseUnitFile(text);
  const p = validateUnitFile(file, { rules: FLEET_RULES })[1]!;
  assert.equal(apply(text, p), '[X-Fleet]\nMachineID=4d389537d9d14bdabe8be54a9c29f68d\n');
  assert.deepEqual(fleet('[X-Fleet]\nMachineOf=db.service\nConflicts=web*\nConflicts=d*\n'), [
    ['fleet-options', 'error', 'MachineOf=db.service', 'unresolvable requirements: peer "db.service" matches conflict "d*"'],
    ['fleet-options', 'error', 'Conflicts=d*', 'unresolvable requirements: peer "db.service" matches conflict "d*"'],
  ]);
  assert.deepEqual(fleet('[X-Fleet]\nGlobal=false\nMachineOf=db.service\n'), []);
});

test('unknown and legacy [X-Fleet] keys', () => {
  const text = '[X-Fleet]\nMachineMetaData=region=us\nX-Conflicts=web*\nBogusThing=1\n';
  assert.deepEqual(fleet(text), [
    ['xfleet-unknown-key', 'warning', 'MachineMetaData', 'unrecognized requirement in [X-Fleet] section: "MachineMetaData"; did you mean MachineMetadata?'],
    ['xfleet-deprecated-key', 'information', 'X-Conflicts', 'X-Conflicts is a legacy spelling of Conflicts; use Conflicts='],
    ['xfleet-unknown-key', 'warning', 'BogusThing', 'unrecognized requirement in [X-Fleet] section: "BogusThing"'],
  ]);
  const problems = validateUnitFile(parseUnitFile(text), { rules: FLEET_RULES });
  assert.equal(apply(text, problems[0]!), text.replace('MachineMetaData', 'MachineMetadata'));
  assert.equal(apply(text, problems[1]!), text.replace('X-Conflicts', 'Conflicts'));
  assert.equal(problems[1]!.tags?.[0], 'deprecated');
  assert.deepEqual(fleet('[Unit]\nMachineMetaData=x\n'), [], "keys outside [X-Fleet] are not fleet's");
});

test('metadata, lists, globs, Global and MachineID values', () => {
  assert.deepEqual(fleet('[X-Fleet]\nMachineMetadata="region=us" "ram>=2048" "disk="\nMachineMetadata=a=b c=d\n'), [
    ['xfleet-metadata', 'warning', '"ram>=2048"', 'fleet has no metadata operators: "ram>=2048" is not a comparison (only key=value equality exists)'],
    ['xfleet-metadata', 'warning', '"disk="', 'fleet ignores "disk=": a metadata requirement must be exactly key=value'],
    ['xfleet-metadata', 'warning', 'a=b c=d', 'fleet ignores "a=b c=d": a metadata requirement must be exactly key=value; quote each pair: "a=b" "c=d"'],
  ]);
  const list = '[X-Fleet]\nMachineOf=a.service b.service\n';
  assert.deepEqual(fleet(list), [
    [
      'xfleet-unquoted-list',
      'warning',
      'a.service b.service',
      'fleet reads MachineOf=a.service b.service as one unit name containing spaces; quote each name for a list: "a.service" "b.service"',
    ],
  ]);
  assert.equal(apply(list, validateUnitFile(parseUnitFile(list), { rules: FLEET_RULES })[0]!), '[X-Fleet]\nMachineOf="a.service" "b.service"\n');
  assert.deepEqual(fleet('[X-Fleet]\nConflicts=web* [db\n'), [
    ['xfleet-bad-glob', 'warning', '[db', 'Malformed glob "[db" never matches (Go path.Match syntax: * ? [a-z] \\x)'],
  ]);
  assert.deepEqual(fleet('[X-Fleet]\nGlobal=y\n'), [
    ['xfleet-global-value', 'warning', 'y', 'fleet reads Global=y as false: only true, yes, 1, on and t (any case) mean true'],
  ]);
  assert.deepEqual(fleet('[X-Fleet]\nMachineID=node-1\n'), [
    ['xfleet-machine-id', 'warning', 'node-1', '"node-1" is not a machine ID: fleet matches the full 32-character ID or exactly its first 8 characters'],
  ]);
  assert.deepEqual(fleet('[X-Fleet]\nMachineID=4d389537\n'), []);
  assert.deepEqual(fleet('[X-Fleet]\nMachineID=%i\n', 'pin@4d389537.service'), []);
  assert.deepEqual(fleet('[X-Fleet]\nMachineID=\n'), [
    ['xfleet-machine-id', 'warning', 'MachineID=', 'MachineID= is empty: fleet then requires the empty machine ID, so the unit can never be scheduled'],
  ]);
});

test('section names, [Install], unit types and specifiers', () => {
  assert.deepEqual(fleet('[X-fleet]\nGlobal=true\n'), [
    [
      'xfleet-section-name',
      'warning',
      'X-fleet',
      "[X-fleet] is not fleet's [X-Fleet] section (the name is case-sensitive and exact); fleet ignores its options",
    ],
  ]);
  assert.deepEqual(fleet('[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n'), [], 'plain systemd units keep [Install]');
  assert.deepEqual(
    fleet('[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n[X-Fleet]\nGlobal=true\n').map(p => p[0]),
    ['fleet-install-section'],
  );
  assert.deepEqual(
    fleet('[Unit]\nDescription=x\n', 'app.target').map(p => p.slice(0, 3)),
    [['fleet-unit-type', 'warning', '[Unit]']],
  );
  assert.deepEqual(fleet('[X-Fleet]\nMachineOf=%p-%H.service\n', 'a@1.service'), [
    ['xfleet-specifier', 'warning', '%H', 'fleet expands only %n %N %p %i in [X-Fleet]; %H stays literal'],
  ]);
});

test('MachineOf cycles across workspace files', () => {
  const files = {
    'a.service': '[X-Fleet]\nMachineOf=b.service\n',
    'b.service': '[X-Fleet]\nMachineOf=c.service\n',
    'c.service': '[X-Fleet]\nMachineOf=a.service\n',
    'd.service': '[X-Fleet]\nMachineOf=a.service\n',
  };
  assert.deepEqual(fleet(files['a.service'], 'a.service', indexOf(files)), [
    [
      'xfleet-machineof-cycle',
      'warning',
      'MachineOf=b.service',
      'MachineOf cycle: a.service → b.service → c.service → a.service; fleet can never schedule these units',
    ],
  ]);
  assert.deepEqual(fleet(files['d.service'], 'd.service', indexOf(files)), [], 'a unit that only points into a cycle is not itself in one');
});

test('ignored text and swallowed lines are warnings (fleet ignores them); # in values is advice', () => {
  assert.deepEqual(fleet('Description=x\n[Unit]\nA=1 # not a comment\n# note \\\nB=2\n'), [
    ['fleet-ignored-text', 'warning', 'Description=x', 'fleet ignores text before the first [Section] header'],
    ['fleet-hash-in-value', 'information', '# not a comment', '"# not a comment" is part of the A= value: comments must start a line'],
    ['fleet-comment-continuation', 'warning', 'B=2', 'fleet ignores this line: the comment above ends in "\\", which continues the comment'],
  ]);
});

test('suppression comments', () => {
  assert.deepEqual(
    fleet('[X-Fleet]\n# fleet-disable-next-line xfleet-unknown-key\nBogus=1\nOther=2\n').map(p => p[2]),
    ['Other'],
  );
  assert.deepEqual(
    fleet('# fleet-disable xfleet-unknown-key\n[X-Fleet]\nBogus=1\nGlobal=y\n').map(p => p[0]),
    ['xfleet-global-value'],
  );
  assert.deepEqual(fleet('# fleet-disable\n[X-Fleet]\nBogus=1\n'), []);
});
