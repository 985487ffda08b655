/**
 * Which machine fleetctl's SSH commands go to (fleet-etcd-v2 §5.1): a unit's target machine
 * from the registry, its PublicIP from `machines`, with fleetctl's refusals (unknown unit,
 * global unit, unit not running or not loaded, machine gone, no address) as errors whose
 * messages say what to do. A global unit picked under a machine in the explorer goes to that
 * machine (fleetctl itself has no way to name one). Plain Node: no `vscode` import.
 */
import type { ApiMachine } from '../../../protocol/src/api';
import { isGlobalUnit, mangleUnitName } from '../../../unitfile/src';
import type { FleetApi } from '../api/types';
import { machineAddress, type SshAddress } from '../connection/remote';
import { toUnitOptions } from './unitRows';

export type RemotePurpose = 'journal' | 'status' | 'shell';

export interface RemoteTarget {
  /** The unit (mangled as fleetctl does), when the target came from a unit. */
  unit?: string;
  machine: ApiMachine;
  address: SshAddress;
  /** For messages: `machine 0a1b2c3d (10.0.0.2)`. */
  label: string;
}

/** A refusal before anything is dialled (fleetctl exits 1 for these). */
export class RemoteTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteTargetError';
  }
}

export function machineTarget(machine: ApiMachine, sshPort: number, unit?: string): RemoteTarget {
  const ip = machine.primaryIP ?? '';
  if (ip.trim() === '') {
    throw new RemoteTargetError(
      `Could not determine address of machine ${machine.id.slice(0, 8)}: it advertises no PublicIP. Set FLEET_PUBLIC_IP (public-ip) in its fleet configuration.`,
    );
  }
  return { ...(unit ? { unit } : {}), machine, address: machineAddress(ip, sshPort), label: `machine ${machine.id.slice(0, 8)} (${ip})` };
}

/**
 * The machine a unit's journal, status or shell is on. `machineId` pins the machine (a row
 * under a machine in the explorer), which is how a global unit is reached.
 */
export async function unitTarget(
  api: FleetApi,
  rawName: string,
  purpose: RemotePurpose,
  options: { sshPort?: number; machineId?: string; signal?: AbortSignal } = {},
): Promise<RemoteTarget> {
  const name = mangleUnitName(rawName);
  const unit = await api.getUnit(name, options.signal);
  if (!unit) throw new RemoteTargetError(`Unit ${name} does not exist in ${api.label}.`);
  const global = isGlobalUnit(toUnitOptions(unit.options));
  let machineId = options.machineId;
  if (!machineId) {
    if (global) {
      throw new RemoteTargetError(
        purpose === 'journal'
          ? `Unable to retrieve journal of global unit ${name}: it runs on every matching machine. Expand a machine in the Fleet explorer and pick the unit there.`
          : `${name} is a global unit, on every matching machine; expand a machine in the Fleet explorer and pick the unit there.`,
      );
    }
    if ((unit.currentState ?? 'inactive') === 'inactive' || !unit.machineID) {
      throw new RemoteTargetError(
        purpose === 'journal'
          ? `Unit ${name} does not appear to be running (it is not scheduled to a machine). Start it first.`
          : `Unit ${name} does not appear to be loaded (it is not scheduled to a machine). Load or start it first.`,
      );
    }
    machineId = unit.machineID;
  }
  const machines = await api.listMachines(options.signal);
  const machine = machines.find(m => m.id === machineId);
  if (!machine) {
    throw new RemoteTargetError(
      `Error getting machine IP: machine ${machineId.slice(0, 8)} of ${name} is not in the cluster's machine list (it may have left). Refresh and try again.`,
    );
  }
  return machineTarget(machine, options.sshPort ?? 22, name);
}

/** fleetctl ssh's `--machine`: a machine-ID prefix, which must match exactly one machine. */
export async function machineByPrefix(api: FleetApi, prefix: string, sshPort = 22, signal?: AbortSignal): Promise<RemoteTarget> {
  const machines = await api.listMachines(signal);
  const found = machines.filter(m => m.id.startsWith(prefix));
  if (found.length === 0) throw new RemoteTargetError(`No machine ID starting with "${prefix}" in ${api.label}.`);
  if (found.length > 1)
    throw new RemoteTargetError(`found more than one machine starting with "${prefix}" (${found.map(m => m.id.slice(0, 8)).join(', ')}); give more of the ID.`);
  return machineTarget(found[0]!, sshPort);
}
