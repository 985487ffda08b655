// OptionTextMemo: findings remembered per option text, placed where the option now is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLEET_RULES, parseUnitFile, validateUnitFile } from '../src/index';
import { OptionTextMemo, type Finding } from '../src/rules';

test('OptionTextMemo computes once per text and shifts findings and their fixes to the option', () => {
  const memo = new OptionTextMemo(2);
  let computed = 0;
  const compute = (base: number) => (): Finding[] => {
    computed++;
    return [{ start: base + 1, end: base + 3, message: 'm', fixes: [{ title: 't', edits: [{ start: base + 1, end: base + 3, newText: 'x' }] }] }];
  };
  const at = (key: string, base: number) => {
    const out: Finding[] = [];
    memo.report(key, base, compute(base), f => out.push(f));
    return out;
  };
  assert.deepEqual(at('a', 10), [{ start: 11, end: 13, message: 'm', fixes: [{ title: 't', edits: [{ start: 11, end: 13, newText: 'x' }] }] }]);
  assert.deepEqual(at('a', 100), [{ start: 101, end: 103, message: 'm', fixes: [{ title: 't', edits: [{ start: 101, end: 103, newText: 'x' }] }] }]);
  assert.equal(computed, 1);
  at('b', 0);
  at('c', 0); // over the limit: the memo starts again
  at('a', 0);
  assert.equal(computed, 4);
});

test('memoised [X-Fleet] checks report at the option, wherever the option moves', () => {
  const xfleet = '[X-Fleet]\nConflicts=web[.service\nMachineMetadata=a!=b\nMachineOf=x%Z.service\nEnvironment=A=1 # two\n';
  const problems = (text: string) =>
    validateUnitFile(parseUnitFile(text), { unitName: 'web.service', rules: FLEET_RULES }).map(p => [p.code, text.slice(p.start, p.end)]);
  const first = problems(`[Service]\nExecStart=/bin/true\n${xfleet}`);
  assert.deepEqual([...first].sort(), [
    ['fleet-hash-in-value', '# two'],
    ['xfleet-bad-glob', 'web[.service'],
    ['xfleet-metadata', 'a!=b'],
    ['xfleet-specifier', '%Z'],
    ['xfleet-unknown-key', 'Environment'],
  ]);
  // The same options further down (and up again): the same findings, on the moved text.
  assert.deepEqual(problems(`[Service]\nExecStart=/bin/true\n# a comment\n\n${xfleet}`), first);
  assert.deepEqual(problems(`[Service]\nExecStart=/bin/true\n${xfleet}`), first);
});

test('one unit type for a file: from the name when it is a unit type (a trailing .in dropped), else from the sections', async () => {
  const { guessUnitType, parseUnitFile } = await import('../src');
  const { systemdUnitType } = await import('../src/systemd/rules');
  const { ruleContext } = await import('../src/validate');
  const timer = parseUnitFile('[Timer]\nOnCalendar=daily\n');
  const cases: [string | undefined, string][] = [
    ['foo.socket', 'socket'],
    ['foo.service.in', 'service'],
    ['x.conf', 'timer'],
    [undefined, 'timer'],
    ['foo.in', 'timer'],
  ];
  for (const [name, type] of cases) {
    assert.equal(guessUnitType(timer, name), type, String(name));
    // The rules see the same type (systemdUnitType once fell back differently for foo.service.in).
    assert.equal(systemdUnitType(ruleContext(timer, { unitName: name })), type, String(name));
  }
});
