/**
 * What an agent's pass spends choosing its units (scheduler's desiredUnitsForMachine), by hand:
 *
 *   node --import tsx --max-opt=1 bench/planMachine.bench.ts   # as a machine process of `fleetd local` runs
 *   node --import tsx bench/planMachine.bench.ts               # as a standalone `fleetd agent` runs
 *
 * Every unit of `--units` (100, 1,000, 5,000) scheduled to one machine: none with Conflicts=, one
 * in twenty a template instance declaring `Conflicts=app@*.service` (how anti-affinity is
 * written), or one in twenty with a glob of its own (the planner's worst case: it checks each
 * distinct glob). The baseline, timed in the same run, is fleet's rule written
 * pair by pair (each unit against every unit accepted before it: what the planner did until
 * 7 Dec 2026). Prints the median of `--runs` (15) passes of each and the ratio; both must drop the
 * same units.
 */
import { desiredUnitsForMachine, type MachineUnitInput } from '../scheduler/src/planMachine';
import { globMatch } from '../unitfile/src/glob';
import { requirements } from '../unitfile/src/xfleet';
import { benchNumber, benchOption } from './lib/args';

const SIZES = benchOption('units', '100,1000,5000').split(',').map(Number);
const RUNS = benchNumber('runs', 15);

/** The rule pair by pair: the first accepted unit whose globs match the unit, or that the unit's globs match. */
function pairwise(units: readonly MachineUnitInput[]): string[] {
  const accepted: { name: string; conflicts: string[] }[] = [];
  const dropped: string[] = [];
  for (const u of [...units].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const req = requirements(u.options, u.name);
    const clash = accepted.find(a => a.name !== u.name && (a.conflicts.some(g => globMatch(g, u.name)) || req.conflicts.some(g => globMatch(g, a.name))));
    if (clash) dropped.push(u.name);
    else accepted.push({ name: u.name, conflicts: req.conflicts });
  }
  return dropped;
}

function median(fn: () => unknown): number {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

const machine = { id: 'm1', metadata: {} };
console.log(`node ${process.version}, flags: ${process.execArgv.filter(a => a.startsWith('--max')).join(' ') || 'V8 defaults'}`);
/** The machine's units: `kind` none (no Conflicts=), template (one in twenty an instance of app@, each declaring `Conflicts=app@*.service`), or distinct (one in twenty declaring a glob of its own). */
function machineUnits(n: number, kind: 'none' | 'template' | 'distinct'): MachineUnitInput[] {
  return Array.from({ length: n }, (_, i) => {
    const special = kind !== 'none' && i % 20 === 0;
    const name = special && kind === 'template' ? `app@${i}.service` : `app${i}.service`;
    const glob = kind === 'template' ? 'app@*.service' : `app${i + 1}*.service`;
    return {
      name,
      hash: 'a'.repeat(40),
      desiredState: 'launched' as const,
      options: [
        { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
        ...(special ? [{ section: 'X-Fleet', name: 'Conflicts', value: glob }] : []),
      ],
    };
  });
}

const KINDS = { none: 'no Conflicts=', template: '1 in 20 an app@ instance with Conflicts=app@*.service', distinct: '1 in 20 with a glob of its own' } as const;
for (const n of SIZES) {
  for (const kind of Object.keys(KINDS) as (keyof typeof KINDS)[]) {
    const units = machineUnits(n, kind);
    const planned = desiredUnitsForMachine(units, () => 'm1', machine).dropped.map(d => d.unit);
    if (JSON.stringify(planned) !== JSON.stringify(pairwise(units))) throw new Error(`${n} units: the planner and the pairwise rule drop different units`);
    const before = median(() => pairwise(units));
    const after = median(() => desiredUnitsForMachine(units, () => 'm1', machine));
    console.log(
      `${String(n).padStart(5)} units on a machine, ${KINDS[kind]}: ` +
        `pairwise ${before.toFixed(2)} ms, planner ${after.toFixed(2)} ms per pass (${(before / after).toFixed(1)}×; ${planned.length} dropped)`,
    );
  }
}
