/**
 * What bounds the API's work per request (issue 12, item 5): a semaphore for requests that carry
 * a body (each buffers up to 4 MiB and is decoded, hashed and written to the registry, so ten at
 * once peaked fleetd's RSS at half a gigabyte and stalled every other request), a timed body
 * reader (a client that sends half a body is not waited for forever), and a nesting-depth check
 * that runs before the recursive JSON decoder (which would otherwise overflow the stack).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../../registry/src/api/errors';

/**
 * Requests with a body processed (decoded, validated, hashed, written) at once; the others wait
 * their turn, body-less ones never wait. Processing a large unit is CPU work on the one event
 * loop: one at a time keeps the heap (and so the GC pauses that hold back everything else) small.
 */
export const DEFAULT_MAX_CONCURRENT_BODIES = 1;
/**
 * Bodies up to this size skip that queue (they are still among the MAX_BODIES_READ in progress):
 * decoding one takes well under a millisecond, and serialising them behind each other's registry
 * round trip is what held 8 clients submitting small units to the rate of one.
 */
export const SMALL_BODY_BYTES = 64 * 1024;
/** Bodies read at once (at most 4 MiB each): a few slow clients cannot hold back processing. */
export const MAX_BODIES_READ = 8;
/** Requests with a body that may wait to be read; beyond that they get a 503 to retry. */
export const MAX_WAITING_BODIES = 256;
/** Longest a request body may take to arrive once fleetd reads it. */
export const DEFAULT_BODY_TIMEOUT_MS = 15_000;
/**
 * Deepest JSON nesting decoded. Go's decoder stops at 10000 with "exceeded max depth"; fleetd's
 * recursive decoder stops earlier, and no request fleet defines nests deeper than 4.
 */
export const MAX_JSON_DEPTH = 1000;

export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a positive integer, got ${limit}`);
  }

  /** Runs in progress and runs waiting for a slot (for diagnostics and tests). */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ApiError(503, `fleetd is busy: ${this.limit} requests with a body are in progress and ${this.waiting.length} wait; retry shortly`);
      }
      await new Promise<void>(resolve => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes on as it is
      else this.active--;
    }
  }
}

/**
 * The whole body as UTF-8: 413 beyond `limit` bytes (with `tooLarge`'s message), 408 when it has
 * not arrived within `timeoutMs`. A body over `limit` but within `drainLimit` is read to its end
 * (and dropped) before the 413, so the client, still sending, gets the answer rather than a reset
 * connection; beyond `drainLimit` the 413 goes out at once and the connection is closed.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  timeoutMs: number,
  tooLarge: (limit: number) => ApiError = bodyTooLarge,
  drainLimit = limit,
): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > drainLimit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined, text?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      if (err) reject(err);
      else resolve(text!);
    };
    const timer = setTimeout(() => finish(new ApiError(408, `request body not received within ${timeoutMs / 1000} s; send the whole body at once`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > drainLimit) return finish(tooLarge(limit));
      if (size > limit)
        chunks.length = 0; // draining: nothing more is kept
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => finish(size > limit ? tooLarge(limit) : undefined, Buffer.concat(chunks).toString('utf8')));
    req.on('error', err => finish(err));
    req.on('aborted', () => finish(new ApiError(400, 'the client closed the connection before the body was complete')));
  });
}

function bodyTooLarge(limit: number): ApiError {
  return new ApiError(413, `request body exceeds the limit of ${limit} bytes`);
}

/**
 * The least a unit body takes once written to the registry: each option's name and value go in
 * three times (the unit's text, and its job object in both branches of the transaction), its
 * section at least twice (exact keys only: a lower bound). Read with the native JSON parser (fast:
 * the Go-compatible decoder takes hundreds of ms for a few MB); undefined when the body is not
 * plain JSON of that shape (the decoder then reports what is wrong, in Go's words).
 */
export function writtenUnitBytesAtLeast(body: string): number | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const options = (value as { options?: unknown } | null)?.options;
  if (!Array.isArray(options)) return undefined;
  let bytes = 0;
  for (const o of options) {
    if (o === null || typeof o !== 'object') return undefined;
    for (const k of ['section', 'name', 'value'] as const) {
      const v = (o as Record<string, unknown>)[k];
      if (typeof v === 'string') bytes += (k === 'section' ? 2 : 3) * Buffer.byteLength(v);
    }
  }
  return bytes;
}

/** True when the JSON text nests arrays and objects deeper than `max` (brackets inside strings do not count). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
