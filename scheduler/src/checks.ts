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
  /** The fast path: true when the machine passes (no allocation). */
  passes(unit: UnitInfo, machine: MachineState, state: ClusterState): boolean;
  /** Why the machine fails; called only when `passes` is false. */
  reject(unit: UnitInfo, machine: MachineState, state: ClusterState): Rejection;
}

/** `region=west|east and disk=ssd` */
export function formatMetadata(metadata: ReadonlyMap<string, readonly string[]>): string {
  return [...metadata].map(([key, values]) => `${key}=${values.join('|')}`).join(' and ');
}

export const CHECKS: readonly Check[] = [
  {
    name: 'machineId',
    passes: (unit, machine) => {
      const required = unit.requirements.machineId;
      return required === undefined || machineIdMatches(required, machine.id);
    },
    reject: (unit, machine) => {
      const required = unit.requirements.machineId ?? '';
      return { check: 'machineId', message: `MachineID ${required === '' ? '(empty)' : required} does not match machine ${machine.id}` };
    },
  },
  {
    name: 'metadata',
    passes: (unit, machine) => {
      const required = unit.requirements.metadata;
      return required.size === 0 || metadataMatches(required, machine.machine.metadata);
    },
    reject: (unit, machine) => ({ check: 'metadata', message: `machine ${machine.id} does not have metadata ${formatMetadata(unit.requirements.metadata)}` }),
  },
  {
    name: 'machineOf',
    passes: (unit, machine) => {
      for (const peer of unit.requirements.peers) if (!machine.has(peer)) return false;
      return true;
    },
    reject: (unit, machine) => {
      const peer = unit.requirements.peers.find(p => !machine.has(p)) ?? '';
      return { check: 'machineOf', message: `MachineOf peer ${peer} is not on machine ${machine.id}`, other: peer };
    },
  },
  {
    name: 'conflicts',
    passes: (unit, machine, state) => !state.hasConflict(machine, unit),
    reject: (unit, machine, state) => {
      const other = state.conflictOn(machine, unit) ?? '?';
      return { check: 'conflicts', message: `conflicts with ${other} on machine ${machine.id}`, other };
    },
  },
  {
    name: 'replaces',
    passes: (unit, machine, state) => machine.replaceHolders.size === 0 || state.replacedByOn(machine, unit) === undefined,
    reject: (unit, machine, state) => {
      const other = state.replacedByOn(machine, unit) ?? '?';
      return { check: 'replaces', message: `replaced by ${other} on machine ${machine.id}`, other };
    },
  },
];

/** True when the machine can run the unit (fleet's AbleToRun is not Unschedule). */
export function feasible(unit: UnitInfo, machine: MachineState, state: ClusterState): boolean {
  for (const check of CHECKS) if (!check.passes(unit, machine, state)) return false;
  return true;
}

/** The first rejection of `unit` on `machine`, or undefined when the machine can run it. */
export function firstRejection(unit: UnitInfo, machine: MachineState, state: ClusterState): Rejection | undefined {
  for (const check of CHECKS) if (!check.passes(unit, machine, state)) return check.reject(unit, machine, state);
  return undefined;
}
