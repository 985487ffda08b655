import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DisposableStore, MutableDisposable, toDisposable } from '../src/dispose';

test('MutableDisposable: a new value disposes the old one; after dispose, a value is disposed at once', () => {
  const disposed: string[] = [];
  const item = (name: string) => toDisposable(() => disposed.push(name));
  const slot = new MutableDisposable();
  const a = item('a');
  slot.value = a;
  slot.value = a;
  assert.deepEqual(disposed, [], 'setting the same value again keeps it');
  slot.value = item('b');
  assert.deepEqual(disposed, ['a']);
  slot.dispose();
  assert.deepEqual(disposed, ['a', 'b']);
  slot.value = item('late');
  assert.deepEqual(disposed, ['a', 'b', 'late']);
  assert.equal(slot.value, undefined);
});

test('DisposableStore: reverse order, every item even when one throws, late adds disposed at once', () => {
  const disposed: string[] = [];
  const store = new DisposableStore();
  store.add(toDisposable(() => disposed.push('first')));
  store.add(
    toDisposable(() => {
      throw new Error('bad');
    }),
  );
  store.add(toDisposable(() => disposed.push('last')));
  assert.throws(() => store.dispose(), /bad/);
  assert.deepEqual(disposed, ['last', 'first']);
  store.add(toDisposable(() => disposed.push('late')));
  assert.deepEqual(disposed, ['last', 'first', 'late']);
});
