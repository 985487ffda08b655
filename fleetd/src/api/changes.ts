/**
 * The API's change feed (a fleetd extension fleetctl never sees): one counter that moves on every
 * registry change hint and on every write this API makes, exposed as an ETag on the list
 * endpoints.
 *
 *  - `If-None-Match: <tag>` on `GET /units`, `/state`, `/machines`: 304 without reading anything
 *    while nothing changed; after a change, 304 still for a collection whose content is the same
 *    as when `<tag>` was current (a unit's state changed: `/state` answers, `/units` and
 *    `/machines` do not). Each collection's last full read is kept as JSON to tell (`observe`).
 *  - `?wait=<tag>` on the same endpoints: while the tag is still current the request waits (at
 *    most `maxWaitMs`, default 60 s) for a change, then answers as usual; a wait that times out
 *    is a 304 with the same tag. A change that lands between a client's list and its wait is
 *    never missed: the tag a response carries is taken before its read.
 *  - Page walks: page 1 reads the registry and keeps the full list under the tag it was read at;
 *    later pages of the same tag are cut from that list, so a walk is one read, not one per page.
 *
 * Real fleet answers without an ETag and ignores `wait`, which is how a client knows to poll.
 */
import { randomBytes } from 'node:crypto';
import { ALL_TOPICS, type ApiRegistry } from '../../../registry/src/registry';

export class ChangeClock {
  private epoch = 0;
  private readonly boot = randomBytes(4).toString('hex');
  private readonly waiters = new Set<() => void>();

  /** Long polls waiting for a change (for diagnostics and tests). */
  get waiting(): number {
    return this.waiters.size;
  }
  private readonly subscriptions: { dispose(): void }[];
  private readonly lists = new Map<string, { tag: string; items: unknown[] }>();
  /** Per collection: its last full read as JSON, the epoch that read began at, and the epoch at which its content was last seen to change. */
  private readonly versions = new Map<string, { json: string; readAt: number; changedAt: number }>();

  constructor(registry: ApiRegistry) {
    this.subscriptions = ALL_TOPICS.map(t => registry.watch(t, () => this.bump()));
  }

  /** The current tag, quoted as an HTTP entity tag. */
  get tag(): string {
    return `"${this.boot}-${this.epoch}"`;
  }

  /** The clock's epoch now (a read that begins now is as new as this). */
  get now(): number {
    return this.epoch;
  }

  /**
   * Whether collection `key` has the content it had when `tag` was current: true, false, or
   * undefined when only a read can tell (something changed since its last read). Tags of another
   * boot, or not this server's, are false.
   */
  unchangedSince(key: string, tag: string): boolean | undefined {
    const m = /^"([0-9a-f]+)-(\d+)"$/.exec(tag);
    if (!m || m[1] !== this.boot) return false;
    const epoch = Number(m[2]);
    if (epoch === this.epoch) return true;
    const v = this.versions.get(key);
    if (!v || epoch > this.epoch || v.changedAt > epoch) return false;
    return v.readAt === this.epoch ? true : undefined;
  }

  /**
   * A full read of collection `key` that began at epoch `readAt`: its content is remembered, and
   * when it differs from the previous read's, the collection changed now. A read older than the
   * one remembered says nothing (reads may end out of order).
   */
  observe(key: string, readAt: number, items: readonly unknown[]): void {
    const v = this.versions.get(key);
    if (v && readAt < v.readAt) return;
    const json = JSON.stringify(items);
    if (v && v.json === json) v.readAt = readAt;
    else this.versions.set(key, { json, readAt, changedAt: this.epoch });
  }

  /** Something changed (a registry hint, or a write through this API). */
  bump(): void {
    this.epoch++;
    this.lists.clear();
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves true when the tag moved past `tag`, false after `ms` or when `signal` aborts. */
  waitPast(tag: string, ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.tag !== tag) return Promise.resolve(true);
    return new Promise(resolve => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The full list of a collection as read at `tag`, when a page walk already read it. */
  cachedList<T>(key: string, tag: string): T[] | undefined {
    const hit = this.lists.get(key);
    return hit && hit.tag === tag ? (hit.items as T[]) : undefined;
  }

  rememberList(key: string, tag: string, items: readonly unknown[]): void {
    if (tag === this.tag) this.lists.set(key, { tag, items: [...items] });
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    for (const w of [...this.waiters]) w();
    this.waiters.clear();
    this.lists.clear();
    this.versions.clear();
  }
}

/** `wait=<tag>` as sent (with or without the quotes), or undefined. */
export function waitTag(query: URLSearchParams): string | undefined {
  const raw = query.get('wait');
  if (raw === null || raw === '') return undefined;
  return raw.startsWith('"') ? raw : `"${raw}"`;
}

/** The entity tags of If-None-Match (a list; `*` matches anything). */
export function ifNoneMatch(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map(s => s.trim().replace(/^W\//, ''))
    .filter(Boolean);
}
