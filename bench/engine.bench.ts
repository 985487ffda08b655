/**
 * Engine benchmark (`node --import tsx bench/engine.bench.ts`).
 *
 * 1. One engine pass — ClusterSnapshot.from (requirements of every unit) + planCluster — over
 *    10,000 units and 100 machines with mixed constraints (metadata, Conflicts groups, MachineOf
 *    sidekicks, MachineID pins, Replaces, globals, machines gone). Two shapes: the initial placement
 *    of everything, and a pass over a cluster where half the units are already placed and 5
 *    machines went away; plus the worst case for reasons (2,000 mutually conflicting units).
 *    Target: median < 500 ms of CPU time. The baseline, measured in the same run and sampled
 *    round-robin with the scenarios, is a plain pass that only reads every unit's requirements.
 * 2. Wakeups: with MemoryRegistry and 100 machines each watching their own key space
 *    (watchMachine), a change to one scheduled unit must wake exactly 1 machine — fleet wakes all
 *    100 (every agent watches the whole job/ tree).
 *
 * Exits non-zero when a target is missed.
 */
import { performance } from 'node:perf_hooks';
import { requirements, type UnitOption } from '../unitfile/src';
import { ClusterSnapshot, planCluster, RequirementsCache } from '../scheduler/src';
import os from 'node:os';
import { unitHash } from '../unitfile/src';
import { MemoryRegistry } from '../fleetd/src/registry/memoryRegistry';
import { random } from '../scheduler/test/random';
import { scheduleUnit } from '../registry/test/registryOps';

const UNITS = 10_000;
const MACHINES = 100;
const RUNS = 9;
const TARGET_MS = 500;

type Desired = 'inactive' | 'loaded' | 'launched';
interface InputUnit {
  name: string;
  options: UnitOption[];
  desiredState: Desired;
}

function machineId(i: number): string {
  return i.toString(16).padStart(8, '0') + 'a'.repeat(24);
}

function makeMachines(): { id: string; metadata: Record<string, string> }[] {
  return Array.from({ length: MACHINES }, (_, i) => ({
    id: machineId(i),
    metadata: { region: `r${i % 5}`, disk: i % 3 === 0 ? 'ssd' : 'hdd', rack: `k${i % 20}` },
  }));
}

function makeUnits(): InputUnit[] {
  const rnd = random(42);
  const units: InputUnit[] = [];
  const x = (key: string, value: string): UnitOption => ({ section: 'X-Fleet', name: key, value });
  const base = (): UnitOption[] => [
    { section: 'Unit', name: 'Description', value: 'benchmark unit' },
    { section: 'Service', name: 'ExecStart', value: '/usr/bin/sleep infinity' },
  ];
  for (let i = 0; units.length < UNITS; i++) {
    const r = rnd();
    const desiredState: Desired = rnd() < 0.05 ? 'inactive' : rnd() < 0.2 ? 'loaded' : 'launched';
    if (r < 0.45) {
      units.push({ name: `plain-${i}.service`, options: base(), desiredState });
    } else if (r < 0.6) {
      const md = rnd() < 0.5 ? `"region=r${i % 5}" "disk=ssd"` : `"region=r${i % 5}" "region=r${(i + 1) % 5}"`;
      units.push({ name: `meta-${i}.service`, options: [...base(), x('MachineMetadata', md)], desiredState });
    } else if (r < 0.75) {
      const group = i % 150;
      units.push({ name: `web-${group}-${i}.service`, options: [...base(), x('Conflicts', `web-${group}-*.service`)], desiredState });
    } else if (r < 0.85) {
      // An app and its sidekick (MachineOf), the sidekick sorting before its peer.
      units.push({ name: `app-${i}.service`, options: base(), desiredState: 'launched' });
      units.push({ name: `aside-${i}.service`, options: [...base(), x('MachineOf', `app-${i}.service`)], desiredState });
    } else if (r < 0.9) {
      const m = machineId(Math.floor(rnd() * (MACHINES + 5)));
      units.push({ name: `pin-${i}.service`, options: [...base(), x('MachineID', rnd() < 0.5 ? m : m.slice(0, 8))], desiredState });
    } else if (r < 0.93) {
      units.push({ name: `v2-${i}.service`, options: [...base(), x('Replaces', `v1-${i - 1}.service`)], desiredState });
      units.push({ name: `v1-${i - 1}.service`, options: base(), desiredState });
    } else if (r < 0.931 && units.filter(u => u.name.startsWith('global-')).length < 5) {
      const opts = [...base(), x('Global', 'true')];
      if (i % 2 === 0) opts.push(x('MachineMetadata', `region=r${i % 5}`));
      units.push({ name: `global-${i}.service`, options: opts, desiredState: 'launched' });
    } else {
      units.push({ name: `misc-${i}@${i % 7}.service`, options: [...base(), x('Conflicts', `misc-*@${i % 7}.service`)], desiredState });
    }
  }
  // In name order, as Registry.listUnits returns them.
  return units.slice(0, UNITS).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Median milliseconds of each function, sampled round-robin (one warm-up round first), so that
 * load from other processes affects every scenario, baseline included, alike.
 */
interface Timing {
  wall: number;
  cpu: number;
}

function measureAll(fns: readonly (() => void)[]): Timing[] {
  for (const fn of fns) fn();
  const wall = fns.map(() => [] as number[]);
  const cpu = fns.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) {
    fns.forEach((fn, k) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      fn();
      wall[k]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[k]!.push((c.user + c.system) / 1000);
    });
  }
  return fns.map((_, k) => ({ wall: median(wall[k]!), cpu: median(cpu[k]!) }));
}

function fmt(t: Timing, baseline?: Timing): string {
  const ratio = baseline ? `  ${(t.cpu / baseline.cpu).toFixed(2)}× baseline` : '';
  return `${t.cpu.toFixed(1)} ms CPU (${t.wall.toFixed(1)} ms wall)${ratio}`;
}

function enginePassBench(): boolean {
  const units = makeUnits();
  const machines = makeMachines();
  const empty = new Map<string, { machineId: string }>();

  // A realistic later pass: half the units placed by a previous pass, then 5 machines gone.
  const first = planCluster(ClusterSnapshot.from(units, empty, machines));
  const placed = new Map<string, { machineId: string }>();
  let n = 0;
  for (const a of first.actions) if (a.kind === 'schedule' && n++ % 2 === 0) placed.set(a.unit, { machineId: a.machineId });
  const survivors = machines.slice(5);

  let sink = 0;
  let initialPlan = first;
  let laterPlan = first;
  // The engine keeps parsed requirements from pass to pass, keyed by content hash.
  const hashed = units.map(u => ({ ...u, hash: unitHash(u.options) }));
  const cache = new RequirementsCache();
  // Worst case for reasons: 2,000 units that all conflict with each other (1,900 cannot be placed,
  // each gets a reason naming the units in the way) among 8,000 plain ones.
  const crowded: InputUnit[] = [
    ...Array.from({ length: 8000 }, (_, i) => ({
      name: `app-${String(i).padStart(5, '0')}.service`,
      options: [] as UnitOption[],
      desiredState: 'launched' as const,
    })),
    ...Array.from({ length: 2000 }, (_, i) => ({
      name: `web-${String(i).padStart(5, '0')}.service`,
      options: [{ section: 'X-Fleet', name: 'Conflicts', value: 'web-*' }],
      desiredState: 'launched' as const,
    })),
  ];
  let crowdedPlan = first;
  const [baseline, initial, later, warm, conflicted] = measureAll([
    () => {
      for (const u of units) sink += requirements(u.options, u.name).conflicts.length;
    },
    () => {
      initialPlan = planCluster(ClusterSnapshot.from(units, empty, machines));
    },
    () => {
      laterPlan = planCluster(ClusterSnapshot.from(units, placed, survivors));
    },
    () => {
      planCluster(ClusterSnapshot.from(hashed, placed, survivors, cache));
    },
    () => {
      crowdedPlan = planCluster(ClusterSnapshot.from(crowded, empty, machines));
    },
  ]) as [Timing, Timing, Timing, Timing, Timing];
  if (sink < 0) console.log(sink);

  const count = (p: typeof first, kind: string) => p.actions.filter(a => a.kind === kind).length;
  console.log(`engine pass: ${UNITS} units, ${MACHINES} machines, median of ${RUNS} runs (CPU time: wall time inflates when other processes compete)`);
  console.log(`  baseline (read every unit's requirements): ${fmt(baseline)}`);
  console.log(
    `  initial placement:  ${fmt(initial, baseline)}  ` + `${count(initialPlan, 'schedule')} scheduled, ${initialPlan.reasons.size} waiting with a reason`,
  );
  console.log(
    `  later pass:         ${fmt(later, baseline)}  ` +
      `${count(laterPlan, 'unschedule')} unscheduled, ${count(laterPlan, 'schedule')} scheduled, ${laterPlan.reasons.size} waiting`,
  );
  console.log(`  later pass, warm requirements cache (the engine's steady state): ${fmt(warm, baseline)}`);
  console.log(`  2,000 mutually conflicting units among 8,000: ${fmt(conflicted, baseline)}  ${crowdedPlan.reasons.size} waiting with a reason`);
  console.log(
    `  load average ${os
      .loadavg()
      .map(l => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} CPUs`,
  );
  const worst = Math.max(initial.cpu, later.cpu, conflicted.cpu);
  const ok = worst < TARGET_MS;
  console.log(`  target median < ${TARGET_MS} ms: ${ok ? 'met' : 'MISSED'} (worst ${worst.toFixed(1)} ms CPU)`);
  return ok;
}

async function flush(): Promise<void> {
  await new Promise(resolve => setImmediate(resolve));
}

async function wakeupBench(): Promise<boolean> {
  const registry = new MemoryRegistry({ timers: false });
  try {
    const machines = makeMachines();
    const wakeups = new Map<string, number>();
    for (const m of machines) {
      await registry.registerMachine({ ...m, publicIP: '', version: '1.0.0' }, 30_000);
      registry.watchMachine(m.id, () => wakeups.set(m.id, (wakeups.get(m.id) ?? 0) + 1));
    }
    const base: UnitOption[] = [{ section: 'Service', name: 'ExecStart', value: '/usr/bin/sleep infinity' }];
    for (let i = 0; i < 1000; i++) {
      const name = `u-${i}.service`;
      await registry.putUnit({ name, options: base, desiredState: 'launched' });
      await scheduleUnit(registry, name, machines[i % MACHINES]!.id);
    }
    await registry.putUnit({ name: 'g.service', options: [...base, { section: 'X-Fleet', name: 'Global', value: 'true' }], desiredState: 'launched' });
    await flush();

    const count = async (change: () => Promise<unknown>): Promise<number> => {
      wakeups.clear();
      await change();
      await flush();
      return [...wakeups.values()].reduce((a, b) => a + b, 0);
    };
    const stateChange = await count(() => registry.setDesiredState('u-7.service', 'loaded'));
    const contentChange = await count(() =>
      registry.putUnit({ name: 'u-8.service', options: [...base, { section: 'Unit', name: 'Description', value: 'v2' }], desiredState: 'launched' }),
    );
    const globalChange = await count(() => registry.setDesiredState('g.service', 'loaded'));
    console.log(`wakeups: ${MACHINES} machines watching, 1000 scheduled units`);
    console.log(`  desired state of one scheduled unit: ${stateChange} machine woken (fleet: ${MACHINES})`);
    console.log(`  content of one scheduled unit:       ${contentChange} machine woken (fleet: ${MACHINES})`);
    console.log(`  a global unit (concerns every machine): ${globalChange} woken`);
    const ok = stateChange === 1 && contentChange === 1 && globalChange === MACHINES;
    console.log(`  target 1 wakeup per single-machine change: ${ok ? 'met' : 'MISSED'}`);
    return ok;
  } finally {
    await registry.close();
  }
}

async function main(): Promise<void> {
  const passOk = enginePassBench();
  const wakeOk = await wakeupBench();
  if (!passOk || !wakeOk) process.exitCode = 1;
}

void main().catch(error => {
  console.error(error);
  process.exitCode = 1;
});
