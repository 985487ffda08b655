import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abortError, describeError, errorMessage, errorStack } from '../src/log';

test("errorMessage: an Error's message, anything else as text", () => {
  assert.equal(errorMessage(new Error('boom')), 'boom');
  assert.equal(errorMessage('plain'), 'plain');
  assert.equal(errorMessage(42), '42');
  assert.equal(errorMessage(undefined), 'undefined');
});

test("errorStack: an Error's stack, its message without one, anything else as text", () => {
  const err = new Error('boom');
  assert.equal(errorStack(err), err.stack);
  assert.match(errorStack(err), /^Error: boom\n\s+at /);
  const bare = new Error('no stack');
  delete bare.stack;
  assert.equal(errorStack(bare), 'no stack');
  assert.equal(errorStack('plain'), 'plain');
});

test('describeError: the causes follow, a loop of causes is cut', () => {
  const inner = new Error('connect ECONNREFUSED 127.0.0.1:2379');
  const outer = new Error('registry unavailable', { cause: inner });
  assert.equal(describeError(outer), 'registry unavailable: connect ECONNREFUSED 127.0.0.1:2379');
  assert.equal(describeError(new Error('alone')), 'alone');
  assert.equal(describeError(new Error('text cause', { cause: 'etcd said no' })), 'text cause: etcd said no');
  assert.equal(describeError(null), 'null');
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  (a as { cause?: unknown }).cause = b;
  assert.equal(describeError(b).split(': ').length, 9);
});

test("abortError: the signal's reason when it is an Error, else an AbortError", () => {
  const why = new Error('the editor closed');
  const withReason = new AbortController();
  withReason.abort(why);
  assert.equal(abortError(withReason.signal), why);
  const plain = new AbortController();
  plain.abort('not an error');
  const err = abortError(plain.signal);
  assert.equal(err.name, 'AbortError');
  assert.equal(err.message, 'The operation was aborted');
});
