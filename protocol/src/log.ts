/**
 * How every process logs, written once: the log function the extension, the language server,
 * fleetd and the registry adapters pass around, and an error as the text a log line or a message
 * shows.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Log = (level: LogLevel, message: string) => void;

/** An error's message (anything thrown that is not an Error, as text). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error and its causes (`err.cause`, then its cause…), as one line, for logs. */
export function describeError(err: unknown): string {
  let text = errorMessage(err);
  let cause = causeOf(err);
  // Bounded: a chain of causes that loops is cut after a few links.
  for (let depth = 0; cause && depth < 8; depth++) {
    text += `: ${errorMessage(cause)}`;
    cause = causeOf(cause);
  }
  return text;
}

function causeOf(err: unknown): unknown {
  return (err as { cause?: unknown } | null | undefined)?.cause;
}
