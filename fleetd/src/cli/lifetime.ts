/**
 * What fleetd started, stopped in reverse order on SIGINT/SIGTERM (bounded, so a stuck part cannot
 * hang shutdown), and the signal handling of a fleetd process.
 */
import { errorMessage, type Log } from '../../../protocol/src/log';

export interface Stoppable {
  stop(): Promise<void>;
}

/** Everything started, stopped in reverse order; bounded so a stuck part cannot hang shutdown. */
export class Lifetime {
  private readonly parts: { name: string; part: Stoppable }[] = [];
  private stopping: Promise<void> | undefined;

  add(name: string, part: Stoppable): void {
    this.parts.push({ name, part });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  stop(log: Log): Promise<void> {
    this.stopping ??= (async () => {
      for (const { name, part } of this.parts.reverse()) {
        try {
          await Promise.race([part.stop(), new Promise((_, reject) => setTimeout(() => reject(new Error('did not stop within 30 s')), 30_000).unref())]);
        } catch (err) {
          log('warn', `stopping ${name}: ${errorMessage(err)}`);
        }
      }
    })();
    return this.stopping;
  }
}

export function onSignals(handler: (signal: string) => void): void {
  let count = 0;
  // A machine process of `fleetd local` gets SIGTERM twice when its process group is signalled:
  // once from the signal, once from its parent stopping it. That second one must not skip the
  // purge (its unit processes would be left to the orphan sweep); the parent escalates to
  // SIGKILL on its own if the clean stop takes too long.
  const managed = process.env.FLEETD_PARENT_PIPE === '1';
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      count++;
      if (count > 1 && managed && signal === 'SIGTERM') {
        process.stderr.write('fleetd: SIGTERM again; still stopping cleanly (the parent sends SIGKILL if this takes too long)\n');
        return;
      }
      if (count > 1) {
        process.stderr.write(`fleetd: second ${signal}, exiting now\n`);
        process.exit(130);
      }
      handler(signal);
    });
  }
}
