/**
 * Time spans for the agent: systemd's grammar is unitfile's parseTimespan (the parser the
 * editor's checks use too); this file adds what the agent does with a value.
 */
import { parseTimespan } from '../../../unitfile/src/systemd/timespan';

export { parseTimespan };

/** A timeout directive's value: "0" and "infinity" both disable the timeout. */
export function parseTimeout(text: string): number | undefined {
  const v = parseTimespan(text);
  if (v === undefined) return undefined;
  return v === 0 ? Infinity : v;
}

/** "90s", "100ms", "infinity": how a duration reads in a message. */
export function formatTimespan(ms: number): string {
  if (ms === Infinity) return 'infinity';
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
