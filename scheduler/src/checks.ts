/**
 * Feasibility: can this machine run this unit? One row per [X-Fleet] requirement, in fleet's
 * order (AgentState.AbleToRun): MachineID, metadata, MachineOf, Conflicts, Replaces. Each row
 * returns a Rejection with a message that names the other object, or undefined.
 */
import { machineIdMatches, metadataMatches } from '../../unitfile/src/xfleet';
import type { ClusterState, MachineState, UnitInfo } from './clusterState';

export type CheckName = 'machineId' | 'metadata' | 'machineOf' | 'conflicts' | 'replaces';

export interface Rejection {
  check: CheckName;
  /** Human text, e.g. "conflicts with web.1.service on machine 4d38…". */
  message: string;
  /** The other unit involved (conflicting, replacing, or the missing peer). */
  other?: string;
}

export interface Check {
  name: CheckName;
  reject(unit: UnitInfo, machine: MachineState, state: ClusterState): Rejection | undefined;
}

/** `region=west|east and disk=ssd` */
export function formatMetadata(metadata: ReadonlyMap<string, readonly string[]>): string {
  return [...metadata].map(([key, values]) => `${key}=${values.join('|')}`).join(' and ');
}

export const CHECKS: readonly Check[] = [
  {
    name: 'machineId',
    reject(unit, machine) {
      const required = unit.requirements.machineId;
      if (required === undefined || machineIdMatches(required, machine.id)) return undefined;
      return { check: 'machineId', message: `MachineID ${required === '' ? '(empty)' : required} does not match machine ${machine.id}` };
    },
  },
  {
    name: 'metadata',
    reject(unit, machine) {
      const required = unit.requirements.metadata;
      if (required.size === 0 || metadataMatches(required, machine.machine.metadata)) return undefined;
      return { check: 'metadata', message: `machine ${machine.id} does not have metadata ${formatMetadata(required)}` };
    },
  },
  {
    name: 'machineOf',
    reject(unit, machine) {
      for (const peer of unit.requirements.peers) {
        if (!machine.has(peer)) return { check: 'machineOf', message: `MachineOf peer ${peer} is not on machine ${machine.id}`, other: peer };
      }
      return undefined;
    },
  },
  {
    name: 'conflicts',
    reject(unit, machine, state) {
      if (unit.conflicts.length === 0 && machine.conflictHolders.size === 0) return undefined;
      const other = state.conflictOn(machine, unit);
      return other === undefined ? undefined : { check: 'conflicts', message: `conflicts with ${other} on machine ${machine.id}`, other };
    },
  },
  {
    name: 'replaces',
    reject(unit, machine, state) {
      if (machine.replaceHolders.size === 0) return undefined;
      const other = state.replacedByOn(machine, unit);
      return other === undefined ? undefined : { check: 'replaces', message: `replaced by ${other} on machine ${machine.id}`, other };
    },
  },
];

/** The first rejection of `unit` on `machine`, or undefined when the machine can run it. */
export function firstRejection(unit: UnitInfo, machine: MachineState, state: ClusterState): Rejection | undefined {
  for (const check of CHECKS) {
    const rejection = check.reject(unit, machine, state);
    if (rejection) return rejection;
  }
  return undefined;
}
