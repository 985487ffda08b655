/**
 * The mirror's routing index (etcdMirror.ts): what watchMachine needs to route an event to the
 * machines it concerns: targets (and the units targeted at each machine), launched heartbeats,
 * global units and the machines that hold a state of each unit.
 */
import type { ParsedKey } from '../../../registry/src/keyspace';
import { isGlobalUnit } from '../../../unitfile/src';
import { decodeJobObject, mayBeGlobal, type Kv } from './keys';

export class RoutingIndex {
  readonly targets = new Map<string, string>();
  /** The units targeted at each machine (targets, inverted). */
  readonly byMachine = new Map<string, Set<string>>();
  readonly launched = new Map<string, string>();
  readonly global = new Set<string>();
  readonly stateMachines = new Map<string, Set<string>>();

  clear(): void {
    this.targets.clear();
    this.byMachine.clear();
    this.launched.clear();
    this.global.clear();
    this.stateMachines.clear();
  }

  apply(type: 'put' | 'delete', k: ParsedKey, kv: Kv): void {
    const { targets, byMachine, launched, global, stateMachines } = this;
    switch (k.kind) {
      case 'target': {
        const before = targets.get(k.unit);
        if (before !== undefined) {
          const set = byMachine.get(before);
          set?.delete(k.unit);
          if (set?.size === 0) byMachine.delete(before);
        }
        if (type === 'put') {
          targets.set(k.unit, kv.value);
          let set = byMachine.get(kv.value);
          if (!set) byMachine.set(kv.value, (set = new Set()));
          set.add(k.unit);
        } else targets.delete(k.unit);
        break;
      }
      case 'jobState':
        if (type === 'put') launched.set(k.unit, kv.value);
        else launched.delete(k.unit);
        break;
      case 'jobObject': {
        // Parsed only when it may be global: every process sees every unit's job object.
        const obj = type === 'put' && mayBeGlobal(kv.value) ? decodeJobObject(kv.value) : undefined;
        if (obj && isGlobalUnit(obj.options)) global.add(k.unit);
        else global.delete(k.unit);
        break;
      }
      case 'state': {
        let set = stateMachines.get(k.unit);
        if (type === 'put') {
          if (!set) stateMachines.set(k.unit, (set = new Set()));
          set.add(k.machineId);
        } else if (set) {
          set.delete(k.machineId);
          if (set.size === 0) stateMachines.delete(k.unit);
        }
        break;
      }
      default:
        break;
    }
  }

  concerned(unit: string, allMachines: string[]): string[] {
    if (this.global.has(unit)) return allMachines;
    const out = new Set<string>();
    const target = this.targets.get(unit);
    if (target !== undefined) out.add(target);
    const launched = this.launched.get(unit);
    if (launched !== undefined) out.add(launched);
    for (const m of this.stateMachines.get(unit) ?? []) out.add(m);
    return [...out];
  }
}
