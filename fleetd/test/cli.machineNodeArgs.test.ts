/**
 * The machine processes of `fleetd local` on etcd run with V8's baseline tier only
 * (cli/machineNodeArgs.ts), unless the user chose a --max-opt of their own; the API process keeps
 * V8's defaults. Runs the built CLI (dist/fleetd.js) on a real etcd.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { FleetdLocal, requireBinary } from '../../test/support';
import { machineNodeArgs } from '../src/cli/machineNodeArgs';
import { statFields } from '../src/agent/processes';

/** The node command lines of the processes whose parent is `pid`. */
function nodeChildren(pid: number): string[][] {
  const out: string[][] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(statFields(e)?.[1]) !== pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0] === process.execPath) out.push(argv);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The node flags of a command line: what comes before the script. */
const flagsOf = (argv: string[]) =>
  argv.slice(
    1,
    argv.findIndex(a => a.endsWith('fleetd.js')),
  );

describe('the node flags of the machine processes', () => {
  test('machineNodeArgs adds --max-opt=1 unless fleetd has a --max-opt of its own or in NODE_OPTIONS', () => {
    assert.deepEqual(machineNodeArgs([]), ['--max-opt=1']);
    assert.deepEqual(machineNodeArgs(['--enable-source-maps']), ['--enable-source-maps', '--max-opt=1']);
    assert.deepEqual(machineNodeArgs(['--max-opt=3']), ['--max-opt=3']);
    assert.deepEqual(machineNodeArgs(['--max_opt', '2']), ['--max_opt', '2']);
    assert.deepEqual(machineNodeArgs([], '--max-old-space-size=512 --max-opt=999'), []);
    assert.deepEqual(machineNodeArgs([], '--max-old-space-size=512'), ['--max-opt=1']);
  });

  test('fleetd local on etcd: every machine process runs with --max-opt=1, the API process with V8 defaults', { timeout: 120_000 }, async () => {
    const cluster = await FleetdLocal.start(['--machines', '2', '--etcd-binary', requireBinary('etcd', 'etcd-server')], { nodeArgs: ['--enable-source-maps'] });
    try {
      const machines = nodeChildren(cluster.child.pid!).filter(argv => argv.includes('agent'));
      assert.equal(machines.length, 2, `machine processes of fleetd (pid ${cluster.child.pid}): ${JSON.stringify(nodeChildren(cluster.child.pid!))}`);
      for (const argv of machines) assert.deepEqual(flagsOf(argv), ['--enable-source-maps', '--max-opt=1'], argv.join(' '));
      const api = fs.readFileSync(`/proc/${cluster.child.pid}/cmdline`, 'utf8').split('\0');
      assert.deepEqual(flagsOf(api), ['--enable-source-maps']);
      // And the cluster works with them: a unit submitted through the API becomes active.
      const res = await fetch(`${cluster.api}/fleet/v1/units/tier.service`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }] }),
      });
      assert.equal(res.status, 201);
      for (let i = 0; i < 150; i++) {
        const states = (await (await fetch(`${cluster.api}/fleet/v1/state`)).json()) as { states?: { name: string; systemdActiveState: string }[] };
        if (states.states?.some(s => s.name === 'tier.service' && s.systemdActiveState === 'active')) return;
        await new Promise(r => setTimeout(r, 200));
      }
      assert.fail(`tier.service did not become active in 30 s:\n${cluster.output().slice(-3000)}`);
    } finally {
      await cluster.stop();
    }
  });

  test('a --max-opt given to fleetd local reaches its machine processes instead', { timeout: 120_000 }, async () => {
    const cluster = await FleetdLocal.start(['--machines', '1', '--etcd-binary', requireBinary('etcd', 'etcd-server')], { nodeArgs: ['--max-opt=3'] });
    try {
      const machines = nodeChildren(cluster.child.pid!).filter(argv => argv.includes('agent'));
      assert.equal(machines.length, 1);
      assert.deepEqual(flagsOf(machines[0]!), ['--max-opt=3']);
    } finally {
      await cluster.stop();
    }
  });
});
