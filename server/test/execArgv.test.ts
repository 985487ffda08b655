import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { SERVER_EXEC_ARGV, serverExecArgv } from '../../protocol/src/lsp';

test('the options the extension starts the server with: all of them on Node, the V8 flags only under Electron', () => {
  assert.deepEqual(serverExecArgv(false), [...SERVER_EXEC_ARGV]);
  assert.deepEqual(serverExecArgv(true), ['--max-semi-space-size=2', '--expose-gc']);
  // This node accepts every one of them (a bad option makes node exit with 9).
  execFileSync(process.execPath, [...serverExecArgv(false), '-e', 'if (typeof gc !== "function") process.exit(3)'], { stdio: 'pipe', timeout: 20_000 });
});
