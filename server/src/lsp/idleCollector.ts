/**
 * Gives memory back after a large document's burst of validations. Each edit of a 10,000-line
 * unit leaves megabytes of garbage that V8 promotes and then keeps as heap for a long time; a full
 * collection once the server is quiet takes the resident size back down.
 *
 * It runs once after heavy work (a validation that took `heavyMs` or more), when nothing has
 * touched the server for `quietMs`, and only when node exposes `gc` (SERVER_EXEC_ARGV has
 * --expose-gc). Small documents never trigger it, so typing in them never meets a collection.
 */
export class IdleCollector {
  private heavy = false;
  private timer: NodeJS.Timeout | undefined;
  private lastTouch = 0;

  constructor(
    private readonly collect: (() => void) | undefined = typeof globalThis.gc === 'function' ? () => globalThis.gc!() : undefined,
    private readonly heavyMs = 20,
    private readonly quietMs = 300,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Any request or notification the server handles. */
  touch(): void {
    this.lastTouch = this.now();
  }

  /** Work that took `ms`; heavy work arms a collection for the next quiet moment. */
  worked(ms: number): void {
    this.touch();
    if (ms < this.heavyMs || !this.collect) return;
    this.heavy = true;
    this.arm(this.quietMs);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heavy = false;
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.heavy) return;
      const quietFor = this.now() - this.lastTouch;
      if (quietFor < this.quietMs) return this.arm(this.quietMs - quietFor);
      this.heavy = false;
      this.collect?.();
    }, ms);
    this.timer.unref();
  }
}
