/** Small pure helpers of the agent (agent.ts). */
import type { UnitManagerState } from './unitManager';

/** What `published` remembers of a state: everything a reader can see. */
export function publishedKey(s: UnitManagerState): string {
  return JSON.stringify([s.hash, s.loadState, s.activeState, s.subState, s.detail ?? '']);
}

/** fleet's heartbeat period: ttl*4/5 above 10 s, else ttl/2. */
export function heartbeatInterval(ttlMs: number): number {
  return ttlMs > 10_000 ? Math.floor((ttlMs * 4) / 5) : Math.floor(ttlMs / 2);
}
