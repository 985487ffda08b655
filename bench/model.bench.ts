/**
 * The ClusterModel's share of an update (`node --import tsx bench/model.bench.ts [--runs 41]`):
 * a cluster of 5,000 units on 100 machines (bench/maps.bench.ts's fixture: a tenth of the units
 * follow another with MachineOf, a fifth carry a Conflicts glob), one unit's state flips between
 * reads. Each run parses the three collections' JSON afresh (as the API client hands them over;
 * not timed), then times the model's work on the read:
 *
 *  - old: the code before per-unit reuse, a verbatim copy in bench/lib/modelBaseline.ts
 *    (normalize, diffSnapshots with a stable JSON key per unit and state, unitRows rebuilding
 *    every row: options, SHA-1 hash, description), clusterMap() with its row cache, and the
 *    language server's clusterContextOf (every unit's options hashed again);
 *  - new: ClusterSnapshot.normalize, reuseSnapshot (unchanged units keep the previous objects),
 *    unitRows (rows of unchanged units kept), clusterMap() with its row cache, clusterContextOf
 *    (details of unchanged units kept).
 *
 * These are the extension host's synchronous work between the read and the map's message; the
 * tree's planTreeUpdate (sorting and grouping rows) is the explorer's and is left out.
 *
 * Old and new alternate run by run, each with its own previous snapshot and map cache, and every
 * run checks that both give the same diff, rows, map and context. Prints medians, the ratio and the heap
 * allocated per update (measured in a second pass: the benchmark runs itself again with
 * `--expose-gc` and a young generation large enough that no collection happens inside an update). CPU-bound: the ratio holds on a
 * loaded machine better than the absolute times. Target: the new path ≥ 3× cheaper.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { clusterMap, MapRowCache } from '../client/src/cluster/clusterMap';
import { ClusterSnapshot, clusterContextOf, reuseSnapshot, type SnapshotDiff } from '../client/src/cluster/snapshot';
import type { ClusterContext } from '../protocol/src/lsp';
import { unitRows, type UnitRow } from '../client/src/cluster/unitRows';
import * as old from './lib/modelBaseline';
import { syntheticCluster } from '../test/support/syntheticCluster';
import { benchArgs, benchNumber } from './lib/args';

const MACHINES = benchNumber('machines', 100);
const UNITS = benchNumber('units', 5000);
const RUNS = benchNumber('runs', 41);
const TARGET = 3;

interface Path {
  name: string;
  previous: ClusterSnapshot | undefined;
  cache: MapRowCache;
  update(read: ClusterSnapshot): { diff: SnapshotDiff; rows: UnitRow[]; map: ReturnType<typeof clusterMap>; context: ClusterContext; phases: number[] };
}

function path(
  name: string,
  model: (previous: ClusterSnapshot | undefined, read: ClusterSnapshot) => { snapshot: ClusterSnapshot; diff: SnapshotDiff },
  rows: (s: ClusterSnapshot) => UnitRow[],
  contextOf: (s: ClusterSnapshot) => ClusterContext,
): Path {
  const p: Path = {
    name,
    previous: undefined,
    cache: new MapRowCache(),
    update(read) {
      const t0 = performance.now();
      const { snapshot, diff } = model(p.previous, read);
      const t1 = performance.now();
      const since = p.previous ? { snapshot: p.previous, diff } : undefined;
      const unitRowsOut = rows(snapshot);
      const t2 = performance.now();
      const map = clusterMap(snapshot, { cache: p.cache, since });
      const t3 = performance.now();
      const context = contextOf(snapshot);
      const t4 = performance.now();
      p.previous = snapshot;
      return { diff, rows: unitRowsOut, map, context, phases: [t1 - t0, t2 - t1, t3 - t2, t4 - t3] };
    },
  };
  return p;
}

const oldPath = path(
  'old',
  (previous, read) => {
    const snapshot = old.normalize(read);
    return { snapshot, diff: old.diffSnapshots(previous, snapshot) };
  },
  old.computeRows,
  old.clusterContextOf,
);
const newPath = path('new', (previous, read) => reuseSnapshot(previous, ClusterSnapshot.normalize(read)), unitRows, clusterContextOf);

const data = syntheticCluster(MACHINES, UNITS);
let flip = 0;
/** One unit's state flips (active ↔ failed), then the three bodies as the API client parses them. */
function nextRead(): ClusterSnapshot {
  const s = data.states[(flip++ * 7919) % data.states.length]!;
  s.systemdActiveState = s.systemdActiveState === 'active' ? 'failed' : 'active';
  return {
    machines: JSON.parse(JSON.stringify(data.machines)),
    units: JSON.parse(JSON.stringify(data.units)),
    states: JSON.parse(JSON.stringify(data.states)),
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
/** The allocation pass: this file run again with `--expose-gc` and a young generation no update fills. */
const ALLOCATIONS = gc !== undefined && process.env.MODEL_BENCH_ALLOCATIONS === '1';

interface Sample {
  ms: number;
  cpuMs: number;
  /** Heap growth over the update, in the allocation pass. */
  bytes: number;
  out: ReturnType<Path['update']>;
}

function timed(p: Path, read: ClusterSnapshot): Sample {
  if (ALLOCATIONS) gc!();
  const heap = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const out = p.update(read);
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, bytes: process.memoryUsage().heapUsed - heap, out };
}

/** Old and new alternate which goes first; both must give the same diff, rows, map and context. */
function measure(runs: number): { old: Sample[]; new: Sample[] } {
  const samples = { old: [] as Sample[], new: [] as Sample[] };
  // The first reads build everything (a cold open) and warm the JIT; then the measured updates.
  for (let i = -3; i < runs; i++) {
    const read = nextRead();
    const readAgain: ClusterSnapshot = JSON.parse(JSON.stringify(read));
    const order = i % 2 === 0 ? [oldPath, newPath] : [newPath, oldPath];
    const [first, second] = order.map((p, k) => timed(p, k === 0 ? read : readAgain));
    const [a, b] = order[0] === oldPath ? [first!, second!] : [second!, first!];
    assert.deepEqual(b.out.diff, a.out.diff, 'the same diff');
    assert.deepEqual(b.out.rows, a.out.rows, 'the same rows');
    assert.deepEqual(b.out.map, a.out.map, 'the same map');
    // The baseline predates the context's X-Fleet options (the language server's unit graph): compared without them.
    const withoutXfleet = (c: ClusterContext): ClusterContext => (c.unitDetails ? { ...c, unitDetails: c.unitDetails.map(({ xfleet: _x, ...u }) => u) } : c);
    assert.deepEqual(withoutXfleet(b.out.context), withoutXfleet(a.out.context), 'the same cluster context');
    if (i < 0) continue;
    assert.equal(a.out.diff.changedUnits.length, 1, 'one unit changed');
    samples.old.push(a);
    samples.new.push(b);
  }
  return samples;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (xs: Sample[]) => (median(xs.map(x => x.bytes)) / 1e6).toFixed(2);

if (ALLOCATIONS) {
  const samples = measure(7);
  console.log(`allocated per update (heap growth with a collection before each, median of 7): old ${mb(samples.old)} MB, new ${mb(samples.new)} MB`);
} else {
  console.log(
    `model update: ${UNITS} units on ${MACHINES} machines, one unit's state changes per read; ${RUNS} runs each; ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map(l => l.toFixed(2))
      .join(' ')}`,
  );
  const samples = measure(RUNS);
  // CPU time of this process: the update runs on its one thread, and the machine's other load
  // does not count (wall time does: it is printed beside it).
  const cpu = (key: 'old' | 'new') => samples[key].map(x => x.cpuMs);
  const wall = (key: 'old' | 'new') => samples[key].map(x => x.ms);
  const line = (what: string, key: 'old' | 'new') =>
    console.log(
      `${what}: CPU median ${median(cpu(key)).toFixed(2)} ms (min ${Math.min(...cpu(key)).toFixed(2)}), wall median ${median(wall(key)).toFixed(2)} ms`,
    );
  line('old (normalize + stable-key diff + every row rebuilt + clusterMap + every unit hashed for the LSP context)', 'old');
  line('new (normalize + reuseSnapshot + rows kept + clusterMap + details kept for the LSP context)            ', 'new');
  const split = (key: 'old' | 'new') =>
    ['model (normalize + diff)', 'unitRows', 'clusterMap', 'clusterContextOf']
      .map((what, k) => `${what} ${median(samples[key].map(x => x.out.phases[k]!)).toFixed(2)}`)
      .join(', ');
  console.log(`  wall medians of the parts, ms: old: ${split('old')}`);
  console.log(`  wall medians of the parts, ms: new: ${split('new')}`);
  const child = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=256', ...process.execArgv, process.argv[1]!, ...benchArgs], {
    stdio: 'inherit',
    env: { ...process.env, MODEL_BENCH_ALLOCATIONS: '1' },
  });
  if (child.status !== 0) process.exitCode = 1;
  const ratio = median(cpu('old')) / median(cpu('new'));
  console.log(
    `old / new (CPU medians): ${ratio.toFixed(1)}×, wall ${(median(wall('old')) / median(wall('new'))).toFixed(1)}×  (target ≥ ${TARGET}×: ${ratio >= TARGET ? 'PASS' : 'MISS'})`,
  );
  if (ratio < TARGET) process.exitCode = 1;
}
