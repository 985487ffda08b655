/**
 * The machines of one `fleetd local` and the removal of one of them (`DELETE
 * /fleet/v1/machines/{id}`, a fleetd extension): the machine stops as fleet's agent stops on
 * shutdown — its units stopped systemd's way (ExecStop=, the stop signal to the process group,
 * SIGKILL after TimeoutStopSec=, ExecStopPost=), unloaded, its presence released — and the engine
 * moves its units to the machines left. A removed machine does not come back until the cluster
 * restarts.
 */
import { ApiError } from '../../../registry/src/api/errors';

export interface LocalMachine {
  readonly id: string;
  /** A clean stop: the machine's units stop and its presence is released; resolves when it is done. */
  stop(): Promise<void>;
}

export class LocalMachines {
  private readonly live = new Map<string, LocalMachine>();
  private readonly removed = new Set<string>();

  add(machine: LocalMachine): void {
    this.live.set(machine.id, machine);
  }

  /** A machine that went away on its own (its process died): it can no longer be removed. */
  gone(id: string): void {
    this.live.delete(id);
  }

  /** Whether `id` was removed on purpose (its exit is no failure). */
  wasRemoved(id: string): boolean {
    return this.removed.has(id);
  }

  /** Removes a machine; the answer's errors name the machine and the fix. */
  async remove(id: string): Promise<void> {
    const machine = this.live.get(id);
    if (!machine) {
      if (this.removed.has(id)) throw new ApiError(404, `machine ${id} was already removed from this local cluster`);
      const known = [...this.live.keys()].map(m => m.slice(0, 8)).join(', ');
      throw new ApiError(
        404,
        `machine ${id} is not a running machine of this local cluster (its machines: ${known || 'none'}); give a full machine ID from GET /fleet/v1/machines`,
      );
    }
    if (this.live.size === 1) {
      throw new ApiError(409, `machine ${id} is the last machine of this local cluster: its units would have nowhere to run; stop the local cluster instead`);
    }
    this.live.delete(id);
    this.removed.add(id);
    await machine.stop();
  }
}
