/**
 * The engine's grace period for missing machines, as a pure decision. A machine that leaves the
 * registry is kept in the plan for `graceMs`, marked unreachable (it keeps its units and takes no
 * new ones), before its units move: a presence lease that etcd expired under load is re-granted
 * within a second or two, and moving a hundred units for that would churn the cluster
 * (fleet-reference §6). With `graceMs` 0 units move at once, as in fleet.
 *
 * The engine keeps the returned memory between passes and runs a pass at `wakeAt`.
 */

/** What the engine remembers of a machine it has seen: its last record, and since when it has been missing. */
export interface SeenMachine<M> {
  record: M;
  missingSince?: number;
}

export type GraceEvent =
  /** A missing machine is back within its grace period; its units stay. */
  | { kind: 'back'; id: string; missingMs: number }
  /** A machine went missing in this pass; its grace period starts. */
  | { kind: 'missing'; id: string }
  /** A machine's grace period is over: it leaves the plan and its units move. */
  | { kind: 'expired'; id: string };

export interface GraceDecision<M> {
  /** The machines to plan with: the live ones, then those still within their grace period (unreachable). */
  machines: (M & { unreachable?: boolean })[];
  /** The memory for the next pass. */
  seen: Map<string, SeenMachine<M>>;
  /** When the first grace period still running ends: a pass is due then. */
  wakeAt?: number;
  events: GraceEvent[];
}

/** Given the memory of the previous pass, the live machines and the time, what the engine plans with. */
export function machinesWithGrace<M extends { id: string }>(
  previous: ReadonlyMap<string, SeenMachine<M>>,
  live: readonly M[],
  now: number,
  graceMs: number,
): GraceDecision<M> {
  const seen = new Map<string, SeenMachine<M>>();
  for (const [id, entry] of previous) seen.set(id, { ...entry });
  const machines: (M & { unreachable?: boolean })[] = [...live];
  const events: GraceEvent[] = [];
  const liveIds = new Set(live.map(m => m.id));
  for (const m of live) {
    const before = seen.get(m.id);
    if (before?.missingSince !== undefined) events.push({ kind: 'back', id: m.id, missingMs: now - before.missingSince });
    seen.set(m.id, { record: m });
  }
  let wakeAt: number | undefined;
  for (const [id, entry] of seen) {
    if (liveIds.has(id)) continue;
    if (entry.missingSince === undefined) {
      entry.missingSince = now;
      events.push({ kind: 'missing', id });
    }
    if (now - entry.missingSince < graceMs) {
      machines.push({ ...entry.record, unreachable: true });
      const ends = entry.missingSince + graceMs;
      if (wakeAt === undefined || ends < wakeAt) wakeAt = ends;
    } else {
      seen.delete(id);
      events.push({ kind: 'expired', id });
    }
  }
  return wakeAt === undefined ? { machines, seen, events } : { machines, seen, wakeAt, events };
}
