/**
 * The cluster map as the webview receives it: the whole map the first time, then only what changed
 * since the map it has (a unit's state changes one machine box: about 1 KB instead of 100 KB at
 * 5,000 units, most of which are the units' relations, unchanged). Each message is numbered; a
 * delta names the message it applies to, and a webview that has another (it was reloaded) asks for
 * the whole map again. Pure, and bundled into the webview (types only from clusterMap).
 */
import type { ClusterMap, MapChip, MapMachine, Relations, WaitingUnit, WhatIf } from '../cluster/clusterMap';

export interface MapDelta {
  /** The message whose map this applies to. */
  base: number;
  /** The machine boxes that changed, by index (the machines are the same, in the same order). */
  machines: [number, MapMachine][];
  /** Absent: as in the base. */
  global?: MapChip[];
  waiting?: WaitingUnit[];
  relations?: Record<string, Relations>;
  /** Absent: as in the base; null: none any more. */
  whatIf?: WhatIf | null;
}

export type MapPayload = { seq: number; map: ClusterMap } | { seq: number; delta: MapDelta };

/** The parts of the last map sent, as JSON, to tell what changed. */
interface Sent {
  seq: number;
  ids: string;
  machines: string[];
  global: string;
  waiting: string;
  relations: string;
  whatIf: string;
}

/** The extension's side: what the webview was last sent. */
export class MapSender {
  private seq = 0;
  private sent: Sent | undefined;

  /** The webview has no map (it was (re)loaded, or was shown a status instead): the next map goes whole. */
  reset(): void {
    this.sent = undefined;
  }

  next(map: ClusterMap): MapPayload {
    const seq = ++this.seq;
    const sent: Sent = {
      seq,
      ids: map.machines.map(m => m.id).join(' '),
      machines: map.machines.map(m => JSON.stringify(m)),
      global: JSON.stringify(map.global),
      waiting: JSON.stringify(map.waiting),
      relations: JSON.stringify(map.relations),
      whatIf: JSON.stringify(map.whatIf ?? null),
    };
    const before = this.sent;
    this.sent = sent;
    if (!before || before.ids !== sent.ids) return { seq, map };
    const delta: MapDelta = { base: before.seq, machines: [] };
    sent.machines.forEach((json, i) => {
      if (json !== before.machines[i]) delta.machines.push([i, map.machines[i]!]);
    });
    if (sent.global !== before.global) delta.global = map.global;
    if (sent.waiting !== before.waiting) delta.waiting = map.waiting;
    if (sent.relations !== before.relations) delta.relations = map.relations;
    if (sent.whatIf !== before.whatIf) delta.whatIf = map.whatIf ?? null;
    return { seq, delta };
  }
}

/** The webview's side: the map after `delta`, from the base it names. */
export function applyMapDelta(base: ClusterMap, delta: MapDelta): ClusterMap {
  const machines = [...base.machines];
  for (const [i, m] of delta.machines) machines[i] = m;
  const map: ClusterMap = {
    machines,
    global: delta.global ?? base.global,
    waiting: delta.waiting ?? base.waiting,
    relations: delta.relations ?? base.relations,
  };
  const whatIf = delta.whatIf === undefined ? base.whatIf : (delta.whatIf ?? undefined);
  if (whatIf) map.whatIf = whatIf;
  return map;
}
