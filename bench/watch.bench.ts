/**
 * What an etcd watch costs a machine process (`node --import tsx bench/watch.bench.ts [--units 1000] [--watchers 4]`).
 *
 * Starts a private etcd and W child processes, each an EtcdRegistry with an agent's subscription
 * (watchMachine, and a machineView after each hint, as an agent's pass reads it), then writes what
 * the cluster bench writes per unit — the unit (8 clients, createUnit), its schedule (batches of
 * 128), and each machine's states and launched heartbeats (batches of 64, on the machine's
 * presence) — and prints the CPU the
 * watchers used, per unit and per watcher, with the watch events and responses each received.
 * Every machine process of `fleetd local` pays this for every unit of the cluster.
 *
 * Child mode (internal): `watch.bench.ts --child <endpoint> <machineId>`. BENCH_NODE_ARGS are
 * node flags for the children (e.g. "--cpu-prof --cpu-prof-dir=DIR").
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { EtcdRegistry } from '../fleetd/src/registry/etcdRegistry';
import { EtcdServer } from '../test/support/etcd';
import { benchArgs, benchNumber } from './lib/args';
import { cpuSeconds } from './lib/benchCluster';

interface Report {
  passes: number;
  scheduled: number;
  events: number;
  responses: number;
}

async function child(endpoint: string, machineId: string): Promise<void> {
  const registry = await EtcdRegistry.connect({ endpoints: [endpoint] });
  let passes = 0;
  let scheduled = 0;
  let queued = false;
  // An agent's pacing, simplified: hints within 100 ms share one pass.
  const pass = async () => {
    if (queued) return;
    queued = true;
    await new Promise(r => setTimeout(r, 100));
    queued = false;
    scheduled = (await registry.machineView(machineId)).units.length;
    passes++;
  };
  registry.watchMachine(machineId, () => void pass());
  await registry.machineView(machineId);
  process.send!({ ready: true });
  process.on('message', (m: { report?: boolean }) => {
    if (!m.report) return;
    void (async () => {
      await pass();
      const report: Report = { passes, scheduled, ...registry.watchReceived };
      process.send!(report);
      await registry.close();
      process.exit(0);
    })();
  });
}

async function main(): Promise<void> {
  const units = benchNumber('units', 1000);
  const watchers = benchNumber('watchers', 4);
  const etcd = await EtcdServer.start({ heartbeatMs: 50, electionMs: 500 });
  const writer = await EtcdRegistry.connect({ endpoints: [etcd.endpoint] });
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const machines = Array.from({ length: watchers }, (_, i) => `m${i}`);
  const kids = machines.map(m =>
    spawn(process.execPath, [...nodeArgs, '--import', 'tsx', __filename, '--child', etcd.endpoint, m], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    await Promise.all(kids.map(k => new Promise(resolve => k.once('message', resolve))));
    // Let the watches start (their first read is part of starting, not of the units).
    await new Promise(r => setTimeout(r, 500));
    const before = kids.map(k => cpuSeconds(k.pid!));
    const start = performance.now();
    const names = Array.from({ length: units }, (_, i) => `bench-${i}.service`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < units; i = next++) {
          await writer.createUnit({
            name: names[i]!,
            options: [
              { section: 'Unit', name: 'Description', value: `bench unit ${i}` },
              { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
            ],
            desiredState: 'launched',
          });
        }
      }),
    );
    for (let i = 0; i < units; i += 128) {
      await writer.applySchedule(names.slice(i, i + 128).map((unit, j) => ({ kind: 'schedule' as const, unit, machineId: machines[(i + j) % watchers]! })));
    }
    // States and heartbeats go on each machine's presence lease, in batches, as an agent's do.
    const presences = await Promise.all(machines.map(id => writer.registerMachine({ id, publicIP: '127.0.0.1', metadata: {}, version: 'bench' }, 30_000)));
    for (const [mi, m] of machines.entries()) {
      const mine = names.filter((_, i) => i % watchers === mi);
      for (let i = 0; i < mine.length; i += 64) {
        const batch = mine.slice(i, i + 64);
        const states = batch.map(name => ({ name, machineId: m, hash: 'a'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' }));
        await writer.publishUnits(m, { states, launched: batch }, 30_000);
      }
    }
    const wrote = (performance.now() - start) / 1000;
    // The last events reach the watchers.
    await new Promise(r => setTimeout(r, 1000));
    const reports = await Promise.all(
      kids.map(
        k =>
          new Promise<Report>(resolve => {
            k.once('message', m => resolve(m as Report));
            k.send({ report: true });
          }),
      ),
    );
    const used = kids.map((k, i) => cpuSeconds(k.pid!) - before[i]!);
    for (const p of presences) await p.release();
    await Promise.all(kids.map(k => (k.exitCode !== null ? undefined : new Promise(resolve => k.once('exit', resolve)))));
    const total = used.reduce((a, b) => a + b, 0);
    const r0 = reports[0]!;
    console.log(
      `${units} units written in ${wrote.toFixed(2)} s; ${watchers} watcher processes used ${total.toFixed(2)} CPU-s = ${((total / watchers / units) * 1e6).toFixed(0)} µs per unit per watcher; ` +
        `each received ${(r0.events / units).toFixed(1)} events and ${(r0.responses / units).toFixed(2)} watch responses per unit; ` +
        `machine views: ${reports.map(r => r.scheduled).join(', ')} units; load average ${os
          .loadavg()
          .map(l => l.toFixed(2))
          .join(' ')}`,
    );
  } finally {
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
    await writer.close();
    await etcd.stop();
  }
}

if (benchArgs[0] === '--child') void child(benchArgs[1]!, benchArgs[2]!);
else
  main().catch(err => {
    console.error(err);
    process.exit(1);
  });
