/** Compact snapshot builders for scheduler tests. */
import type { UnitOption } from '../../unitfile/src/serialize';
import { ClusterSnapshot, type DesiredState } from '../src/snapshot';
import type { ClusterAction } from '../src/planCluster';

export interface UnitSpec {
  /** `Key=Value` lines of the [X-Fleet] section. */
  x?: string[];
  state?: DesiredState;
  /** The machine it is scheduled to. */
  on?: string;
}

export interface Fixture {
  units: Record<string, UnitSpec>;
  /** Machine ID → metadata (`k=v,k2=v2`, or an object). */
  machines: Record<string, string | Record<string, string>>;
}

export function xfleet(lines: readonly string[]): UnitOption[] {
  const options: UnitOption[] = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`fixture line without "=": ${line}`);
    options.push({ section: 'X-Fleet', name: line.slice(0, eq), value: line.slice(eq + 1) });
  }
  return options;
}

function metadata(spec: string | Record<string, string>): Record<string, string> {
  if (typeof spec !== 'string') return spec;
  const out: Record<string, string> = {};
  for (const pair of spec.split(',').filter(Boolean)) {
    const [k, v] = pair.split('=');
    out[k!] = v ?? '';
  }
  return out;
}

export function snapshot(f: Fixture): ClusterSnapshot {
  const units = Object.entries(f.units).map(([name, u]) => ({ name, options: xfleet(u.x ?? []), desiredState: u.state ?? 'launched' }));
  const schedule = new Map<string, { machineId: string }>();
  for (const [name, u] of Object.entries(f.units)) if (u.on !== undefined) schedule.set(name, { machineId: u.on });
  const machines = Object.entries(f.machines).map(([id, md]) => ({ id, metadata: metadata(md) }));
  return ClusterSnapshot.from(units, schedule, machines);
}

/** The snapshot after applying actions (what the registry would hold on the next pass). */
export function applyActions(s: ClusterSnapshot, actions: readonly ClusterAction[]): ClusterSnapshot {
  const target = new Map(s.units.map(u => [u.name, u.machineId]));
  for (const a of actions) {
    if (a.kind === 'schedule') {
      if (target.get(a.unit) !== undefined) throw new Error(`schedule of ${a.unit} while scheduled (create-only would fail)`);
      target.set(a.unit, a.machineId);
    } else {
      if (target.get(a.unit) !== a.machineId) throw new Error(`unschedule of ${a.unit} from ${a.machineId} but it is on ${target.get(a.unit)}`);
      target.set(a.unit, undefined);
    }
  }
  return { machines: s.machines, units: s.units.map(u => ({ ...u, machineId: target.get(u.name) })) };
}

/** Short action strings for whole-list assertions: "schedule n.service → B (reason)". */
export function show(actions: readonly ClusterAction[]): string[] {
  return actions.map(a => `${a.kind} ${a.unit} ${a.kind === 'schedule' ? '→' : '←'} ${a.machineId} (${a.reason})`);
}
