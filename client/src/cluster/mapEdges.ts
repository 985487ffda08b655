/**
 * The cluster map's edges of one unit: what it follows (MachineOf), repels (Conflicts) and
 * replaces, and who follows, repels or replaces it, with globs resolved against the units on the
 * map. Bundled into the webview too (it resolves the edges of the unit under the pointer), so it
 * imports nothing but fleet's glob. Pure.
 */
import { globMatch } from '../../../unitfile/src/glob';

export type EdgeKind = 'machineOf' | 'conflicts' | 'replaces';

export interface MapEdge {
  kind: EdgeKind;
  /** The unit that carries the option. */
  from: string;
  to: string;
}

/** A unit's MachineOf peers (exact names) and Conflicts / Replaces globs, specifiers substituted. */
export interface Relations {
  machineOf?: string[];
  conflicts?: string[];
  replaces?: string[];
}

const KINDS: readonly EdgeKind[] = ['machineOf', 'conflicts', 'replaces'];

function matches(kind: EdgeKind, pattern: string, name: string): boolean {
  return kind === 'machineOf' ? pattern === name : globMatch(pattern, name);
}

/** Edges from and to `unit` among `names` (a unit never relates to itself). */
export function edgesOf(unit: string, relations: Readonly<Record<string, Relations>>, names: Iterable<string>): MapEdge[] {
  const list = [...names];
  const present = new Set(list);
  const out: MapEdge[] = [];
  const own = relations[unit];
  for (const kind of KINDS) {
    for (const pattern of own?.[kind] ?? []) {
      for (const to of list)
        if (to !== unit && matches(kind, pattern, to) && !out.some(e => e.kind === kind && e.to === to && e.from === unit)) out.push({ kind, from: unit, to });
    }
  }
  for (const [from, rel] of Object.entries(relations)) {
    if (from === unit || !present.has(from)) continue;
    for (const kind of KINDS) {
      if ((rel[kind] ?? []).some(p => matches(kind, p, unit))) out.push({ kind, from, to: unit });
    }
  }
  return out;
}
