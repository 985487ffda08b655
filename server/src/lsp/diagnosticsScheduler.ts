/**
 * When to validate: right away when a document has been quiet (so opening a file, or the first
 * edit after a pause, publishes at once), and at most once per `delay` while the user types.
 */
export class DiagnosticsScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastRun = new Map<string, number>();
  private readonly immediates = new Map<string, NodeJS.Immediate>();

  constructor(
    private readonly run: (uri: string) => void,
    private delay = 150,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Changes the throttle (ms) for changes from now on. */
  setDelay(ms: number): void {
    this.delay = ms;
  }

  schedule(uri: string): void {
    if (this.timers.has(uri) || this.immediates.has(uri)) return;
    const since = this.now() - (this.lastRun.get(uri) ?? -Infinity);
    if (since >= this.delay) {
      // setImmediate coalesces a burst of changes that arrived in one read.
      this.immediates.set(
        uri,
        setImmediate(() => this.fire(uri)),
      );
    } else {
      this.timers.set(
        uri,
        setTimeout(() => this.fire(uri), this.delay - since),
      );
    }
  }

  cancel(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    const i = this.immediates.get(uri);
    if (i) clearImmediate(i);
    this.timers.delete(uri);
    this.immediates.delete(uri);
    this.lastRun.delete(uri);
  }

  dispose(): void {
    for (const uri of [...this.timers.keys(), ...this.immediates.keys()]) this.cancel(uri);
  }

  private fire(uri: string): void {
    this.timers.delete(uri);
    this.immediates.delete(uri);
    this.lastRun.set(uri, this.now());
    this.run(uri);
  }
}
