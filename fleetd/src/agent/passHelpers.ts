/** Small pure helpers of the agent (agent.ts). */
import type { UnitManagerState } from './unitManager';

/** Run `fn` over `items`, at most `limit` at a time. `fn` must not throw (catch inside). */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** What `published` remembers of a state: everything a reader can see. */
export function publishedKey(s: UnitManagerState): string {
  return JSON.stringify([s.hash, s.loadState, s.activeState, s.subState, s.detail ?? '']);
}

/** fleet's heartbeat period: ttl*4/5 above 10 s, else ttl/2. */
export function heartbeatInterval(ttlMs: number): number {
  return ttlMs > 10_000 ? Math.floor((ttlMs * 4) / 5) : Math.floor(ttlMs / 2);
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
