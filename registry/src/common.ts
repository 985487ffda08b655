/** Pieces both Registry implementations share: the store round trip of options, watcher fan-out, a leadership's loss signal, and bounded parallel calls. */
import type { UnitOption } from '../../unitfile/src';
import type { Disposable, WatchTopic } from './registry';
import { errorStack } from '../../protocol/src/log';

/**
 * fleet stores a unit as its serialized text and parses it back, so options come back grouped by
 * section in order of first appearance (options keep their order within a section).
 */
export function groupBySection(options: readonly UnitOption[]): UnitOption[] {
  const bySection = new Map<string, UnitOption[]>();
  for (const o of options) {
    const list = bySection.get(o.section);
    const copy = { section: o.section, name: o.name, value: o.value };
    if (list) list.push(copy);
    else bySection.set(o.section, [copy]);
  }
  return [...bySection.values()].flat();
}

/**
 * Level-triggered listeners per topic and per machine. A notification is delivered on a microtask,
 * after the write that caused it, and a listener that throws does not stop the others.
 */
export class Watchers {
  private readonly topics = new Map<WatchTopic, Set<() => void>>();
  private readonly machines = new Map<string, Set<() => void>>();

  onTopic(topic: WatchTopic, listener: () => void): Disposable {
    return add(this.topics, topic, listener);
  }

  onMachine(machineId: string, listener: () => void): Disposable {
    return add(this.machines, machineId, listener);
  }

  /** Someone listens to `topic`. */
  hasTopic(topic: WatchTopic): boolean {
    return this.topics.has(topic);
  }

  /** Listeners for any machine (used to decide whether per-machine hints are worth computing). */
  get machineIds(): string[] {
    return [...this.machines.keys()];
  }

  notify(topics: Iterable<WatchTopic>, machines: Iterable<string>): void {
    const due = new Set<() => void>();
    for (const t of topics) for (const l of this.topics.get(t) ?? []) due.add(l);
    for (const m of machines) for (const l of this.machines.get(m) ?? []) due.add(l);
    if (due.size === 0) return;
    queueMicrotask(() => {
      for (const listener of due) {
        try {
          listener();
        } catch (err) {
          // A watcher is a hint; its failure must not break the registry or the other watchers.
          console.error(`fleetd: registry watcher failed: ${errorStack(err)}`);
        }
      }
    });
  }

  clear(): void {
    this.topics.clear();
    this.machines.clear();
  }
}

function add<K>(map: Map<K, Set<() => void>>, key: K, listener: () => void): Disposable {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  // Wrap so that the same function registered twice is two subscriptions.
  const entry = () => listener();
  set.add(entry);
  return {
    dispose: () => {
      const s = map.get(key);
      if (!s) return;
      s.delete(entry);
      if (s.size === 0) map.delete(key);
    },
  };
}

/** applySchedule's precondition: each unit at most once (one write per key). */
export function assertDistinctUnits(changes: readonly { unit: string }[]): void {
  const seen = new Set<string>();
  for (const c of changes) {
    if (seen.has(c.unit)) throw new Error(`applySchedule: ${c.unit} appears twice in one batch; apply the changes one batch after another`);
    seen.add(c.unit);
  }
}

/**
 * A leadership's "lost": set once, and each listener told once (on a microtask when it subscribes
 * after the loss).
 */
export class LossSignal {
  private readonly listeners = new Set<() => void>();
  private fired = false;

  get lost(): boolean {
    return this.fired;
  }

  onLost(listener: () => void): Disposable {
    if (this.fired) {
      queueMicrotask(listener);
      return { dispose: () => {} };
    }
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Marks it lost, runs `first` (already lost by then), then tells the listeners. False when it already was. */
  fire(first?: () => void): boolean {
    if (this.fired) return false;
    this.fired = true;
    first?.();
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const l of listeners) l();
    return true;
  }
}

/** `fn` over `items`, at most `limit` calls at a time; the results in the items' order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}
