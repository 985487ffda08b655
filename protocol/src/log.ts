/**
 * How every process logs and words its errors, written once: the log function the extension, the
 * language server, fleetd and the registry adapters pass around, an error as the text a log line
 * or a message shows, and the error an aborted request ends with.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Log = (level: LogLevel, message: string) => void;

/** An error's message (anything thrown that is not an Error, as text). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error's stack (its message when it has none), for the log line of a failure nobody expected. */
export function errorStack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
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

/** The error a request ends with when its signal aborts: the signal's reason, or an AbortError. */
export function abortError(signal: { readonly reason?: unknown }): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}
