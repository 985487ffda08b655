/**
 * `fleetctl start` of N units against `fleetd local --etcd` with 10 machines
 * (`node --import tsx bench/fleetctl.bench.ts [--units 100] [--fleetctl /opt/fleet-bin/fleetctl]`):
 * the wall time of the command, which submits the units one after the other, sets them launched
 * and waits until each is active. It runs dist/fleetd.js (`node esbuild.mjs` first) and needs
 * fleet's own fleetctl v1.0.0 (not part of this repository: /opt/fleet-bin on the team machines).
 * BENCH_FLEETD=PATH runs another build's fleetd.js instead, to alternate two builds.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdServer } from '../test/support/etcd';
import { benchNumber, benchOption } from './lib/args';

const UNITS = benchNumber('units', 100);
const FLEETCTL = benchOption('fleetctl', '/opt/fleet-bin/fleetctl');

async function main(): Promise<void> {
  // BENCH_FLEETD=PATH runs another build's fleetd.js (its etcd3-proto/ beside it), to alternate two builds.
  const bundle = process.env.BENCH_FLEETD ?? path.resolve(__dirname, '..', 'dist', 'fleetd.js');
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `node esbuild.mjs` first');
  if (!fs.existsSync(FLEETCTL)) throw new Error(`${FLEETCTL} is missing: give fleet's fleetctl v1.0.0 with --fleetctl PATH`);
  const etcd = await EtcdServer.start({ heartbeatMs: 50, electionMs: 500 });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-fleetctl-bench-'));
  const unitDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetctl-bench-units-'));
  const cluster = spawn(process.execPath, [bundle, 'local', '--machines', '10', '--etcd', etcd.url, '--api', '127.0.0.1:0', '--state-dir', stateDir], {
    stdio: ['pipe', 'pipe', 'ignore'],
    detached: true,
  });
  try {
    const apiUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      cluster.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /fleetd: API ready at (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      cluster.once('exit', code => reject(new Error(`fleetd exited (${code}) before ready:\n${out}`)));
    });
    const files = Array.from({ length: UNITS }, (_, i) => {
      const file = path.join(unitDir, `fc-${i}.service`);
      fs.writeFileSync(file, `[Unit]\nDescription=fleetctl bench ${i}\n\n[Service]\nExecStart=/bin/sleep 3600\n`);
      return file;
    });
    const start = performance.now();
    const run = spawnSync(FLEETCTL, [`--endpoint=${apiUrl}`, 'start', ...files], { encoding: 'utf8', timeout: 300_000 });
    const seconds = (performance.now() - start) / 1000;
    const launched = (run.stdout.match(/launched/g) ?? []).length;
    console.log(
      `fleetctl start of ${UNITS} units: ${seconds.toFixed(2)} s (exit ${run.status}, ${launched} launched); load average ${os
        .loadavg()
        .map(l => l.toFixed(2))
        .join(' ')}`,
    );
    if (run.status !== 0) console.log(run.stderr.slice(0, 2000));
  } finally {
    // fleetd stops its machines, which stop their units; whatever is left of the group goes after.
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-cluster.pid!, sig);
      } catch {
        // the group is gone
      }
    };
    signal('SIGTERM');
    if (cluster.exitCode === null && cluster.signalCode === null) await new Promise(resolve => cluster.once('exit', resolve));
    signal('SIGKILL');
    await etcd.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(unitDir, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
