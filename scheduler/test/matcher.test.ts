/** Precompiled globs agree with unitfile's port of Go's path.Match, and the requirements cache. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatch } from '../../unitfile/src/glob';
import { MatcherCache } from '../src/matcher';
import { RequirementsCache } from '../src/snapshot';
import { xfleet } from './fixtures';
import { random } from './random';

test('compiled globs match exactly like path.Match on random patterns and names', () => {
  const rnd = random(7);
  const alphabet = ['a', 'b', '.', '-', '@', '/', '*', '?', '+', '(', ')', '$', '^', '|', '{', '}', ']', 'é', '😀', '[', '\\', 'x'];
  const nameAlphabet = ['a', 'b', '.', '-', '@', '/', '+', '(', ')', '$', '^', '|', '{', '}', ']', 'é', '😀', '[', '\\', 'x', '*', '?'];
  const draw = (chars: string[], max: number) => Array.from({ length: Math.floor(rnd() * max) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
  const cache = new MatcherCache();
  let matches = 0;
  for (let i = 0; i < 20_000; i++) {
    const pattern = draw(alphabet, 7);
    const names = [draw(nameAlphabet, 8), pattern.replace(/[*?\\[]/g, 'a'), ''];
    for (const name of names) {
      const expected = globMatch(pattern, name);
      if (expected) matches++;
      assert.equal(cache.get(pattern).matches(name), expected, `pattern ${JSON.stringify(pattern)} name ${JSON.stringify(name)}`);
    }
  }
  assert.ok(matches > 1000, `the generator should produce matches too (got ${matches})`);
});

test('typical unit globs', () => {
  const cache = new MatcherCache();
  const cases: [string, string, boolean][] = [
    ['web@*.service', 'web@1.service', true],
    ['web@*.service', 'web@.service', true],
    ['web@*.service', 'web@a/b.service', false],
    ['web.?.service', 'web.1.service', true],
    ['web.?.service', 'web.10.service', false],
    ['db-[0-9].service', 'db-7.service', true],
    ['db-[^0-9].service', 'db-7.service', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['[', '[', false],
    ['web.service', 'web.service', true],
    ['web.service', 'webxservice', false],
  ];
  for (const [pattern, name, expected] of cases) {
    assert.equal(cache.get(pattern).matches(name), expected, `${pattern} vs ${name}`);
    assert.equal(globMatch(pattern, name), expected, `reference: ${pattern} vs ${name}`);
  }
  assert.equal(cache.get('web.service').literal, 'web.service');
  assert.equal(cache.get('web*').literal, undefined);
  assert.equal(cache.get('web*'), cache.get('web*'), 'compiled once');
});

test('RequirementsCache re-parses only when the content hash changes, and forgets deleted units', () => {
  const cache = new RequirementsCache();
  const v1 = xfleet(['MachineMetadata=region=%i']);
  const a = cache.get('m@west.service', 'h1', v1);
  assert.deepEqual([...a.metadata], [['region', ['west']]], 'specifiers substituted with the unit name');
  assert.equal(cache.get('m@west.service', 'h1', v1), a, 'same hash: the same parsed object');
  const b = cache.get('m@west.service', 'h2', xfleet(['Conflicts=x*']));
  assert.notEqual(b, a);
  assert.deepEqual(b.conflicts, ['x*']);
  cache.get('other.service', 'h3', []);
  assert.equal(cache.size, 2);
  cache.retainOnly([{ name: 'other.service' }]);
  assert.equal(cache.size, 1);
});
