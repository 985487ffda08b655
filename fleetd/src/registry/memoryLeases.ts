/**
 * MemoryRegistry's stand-ins for etcd leases: what expires and when (entries with `expiresAt`,
 * Infinity while their holder keeps them alive), one timer at the earliest expiry, and the engine
 * leadership handle.
 */
import type { Disposable, Leadership, MachineRecord } from '../../../registry/src/registry';
import { LossSignal } from '../../../registry/src/common';

export interface RegistryTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers, unref'd (a registry's expiry timer never keeps the process alive). */
export const UNREF_TIMERS: RegistryTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: handle => clearTimeout(handle as NodeJS.Timeout),
};

/** One timer, at the earliest expiry it was asked for; `false` timers: none (a test expires by hand). */
export class ExpiryTimer {
  private timer: { handle: unknown; at: number } | undefined;

  constructor(
    private readonly timers: false | RegistryTimers,
    private readonly now: () => number,
  ) {}

  /** `fire` runs after `at` (epoch ms) unless a timer for an earlier or equal time is already set. */
  arm(at: number, fire: () => void): void {
    if (!this.timers || at === Infinity) return;
    if (this.timer && this.timer.at <= at) return;
    if (this.timer) this.timers.clearTimeout(this.timer.handle);
    const handle = this.timers.setTimeout(
      () => {
        this.timer = undefined;
        fire();
      },
      Math.max(0, at - this.now()) + 1,
    );
    this.timer = { handle, at };
  }

  close(): void {
    if (this.timer && this.timers) this.timers.clearTimeout(this.timer.handle);
    this.timer = undefined;
  }
}

export interface Expiring {
  /** Epoch ms after which the entry is gone; Infinity while a holder keeps it alive. */
  expiresAt: number;
}

export interface MachineEntry extends Expiring {
  record: MachineRecord;
  ttlMs: number;
  token: object;
}

export interface LeaderEntry extends Expiring {
  machineId: string;
  ttlMs: number;
  handle: MemoryLeadership;
}

export class MemoryLeadership implements Leadership {
  private readonly loss = new LossSignal();

  constructor(
    private readonly isHeld: (self: MemoryLeadership) => boolean,
    private readonly doRelease: (self: MemoryLeadership) => void,
  ) {}

  get held(): boolean {
    return !this.loss.lost && this.isHeld(this);
  }

  onLost(listener: () => void): Disposable {
    return this.loss.onLost(listener);
  }

  async release(): Promise<void> {
    this.doRelease(this);
  }

  /** Marks the handle lost and tells listeners once. */
  markLost(): void {
    this.loss.fire();
  }
}
