/**
 * What loading the extension costs (its activation, e.g. the explorer's cold open): ssh2 is
 * evaluated on the first SSH connection (a tunnel, fleetctl's journal/status/ssh), not when the
 * extension loads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import './support/vscodeStub';

const ssh2Loaded = () => Object.keys(require.cache).some(file => /[\\/]node_modules[\\/]ssh2[\\/]/.test(file));

test('loading the cluster features (explorer, connections, commands) does not evaluate ssh2; the first SSH use does', async () => {
  await import('../src/features');
  await import('../src/connection/connect');
  assert.equal(ssh2Loaded(), false, 'ssh2 is not loaded with the extension');
  const { loadSsh2 } = await import('../src/connection/sshSession');
  assert.equal(typeof (await loadSsh2()).Client, 'function');
  assert.equal(ssh2Loaded(), true);
});
