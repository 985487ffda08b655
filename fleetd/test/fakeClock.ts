/**
 * A clock for runLoop (LoopClock) that moves only when the test says so: its timers fire in
 * `advance`, and `pending()` shows what the loop is waiting for, so a test can see that the loop
 * is parked (and until when) instead of sleeping to see that nothing happens.
 */
import type { LoopClock } from '../src/loop';

export class FakeClock implements LoopClock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** How far ahead each pending timer is due, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map(x => x.at - this.t).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing the timers that fall due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** One turn of the event loop: every promise continuation queued so far has run. */
export function settle(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}
