/**
 * fleet's page tokens (fleet-reference §3.4): base64url with padding over 4 bytes, little-endian
 * uint16 Limit then uint16 Page. The limit must equal the server's; pages start at 1. A page whose
 * end reaches exactly the end of the collection still gets a token (fleet's quirk, kept: clients
 * follow it to an empty page).
 *
 * fleetd's extension: `?pageSize=N` asks for pages of N items (1 to 65535) instead of the
 * server's limit, and the tokens it gets carry N, so a walk that keeps sending the same pageSize
 * reads a big collection in a few requests. fleet ignores the parameter (and fleetctl never sends
 * it): its walks, tokens and errors are unchanged.
 */
import { ApiError } from './errors';

export const DEFAULT_TOKEN_LIMIT = 100;
/** The largest `pageSize` (a token's limit is 16 bits). */
export const MAX_PAGE_SIZE = 0xffff;

export interface PageToken {
  limit: number;
  page: number;
}

export function encodePageToken(tok: PageToken): string {
  const buf = Buffer.alloc(4);
  buf.writeUInt16LE(tok.limit & 0xffff, 0);
  buf.writeUInt16LE(tok.page & 0xffff, 2);
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Go's base64.URLEncoding.DecodeString: strict alphabet and padding; errors name the byte offset as Go does. */
function decodeBase64Url(value: string): Buffer {
  const bad = (offset: number): never => {
    throw new ApiError(400, `illegal base64 data at input byte ${offset}`);
  };
  const isAlpha = (c: string | undefined) => c !== undefined && /[A-Za-z0-9\-_]/.test(c);
  const n = value.length;
  const newline = (c: string | undefined) => c === '\n' || c === '\r';
  let si = 0;
  while (si < n) {
    for (let j = 0; j < 4; j++) {
      if (si === n) {
        // A short final quantum: padding is required.
        if (j === 0) break;
        bad(si - j);
      }
      const c = value[si]!;
      si++;
      if (isAlpha(c)) continue;
      if (newline(c)) {
        j--;
        continue;
      }
      if (c !== '=') bad(si - 1);
      if (j < 2) bad(si - 1);
      if (j === 2) {
        while (si < n && newline(value[si])) si++;
        if (si === n) bad(n);
        if (value[si] !== '=') bad(si - 1);
        si++;
      }
      while (si < n && newline(value[si])) si++;
      if (si < n) bad(si);
      break;
    }
  }
  return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** The page size a request asks for with `pageSize` (fleetd's extension), else the server's limit. */
export function pageSizeFrom(values: readonly string[], serverLimit: number): number {
  if (values.length === 0) return serverLimit;
  if (values.length > 1) throw new ApiError(400, 'too many values for pageSize');
  const text = values[0]!;
  const size = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(size >= 1 && size <= MAX_PAGE_SIZE)) throw new ApiError(400, `pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got "${text}"`);
  return size;
}

/**
 * The token from the `nextPageToken` query values, or the first page, for pages of the size the
 * `pageSize` values ask for (none: the server's limit). Failures are fleet's 400s.
 */
export function pageTokenFrom(values: readonly string[], serverLimit: number, pageSizes: readonly string[] = []): PageToken {
  const limit = pageSizeFrom(pageSizes, serverLimit);
  if (values.length > 1) throw new ApiError(400, 'too many values for page token');
  if (values.length === 0) return { limit, page: 1 };
  const bytes = decodeBase64Url(values[0]!);
  if (bytes.length === 0) throw new ApiError(400, 'EOF');
  if (bytes.length < 4) throw new ApiError(400, 'unexpected EOF');
  const tok = { limit: bytes.readUInt16LE(0), page: bytes.readUInt16LE(2) };
  if (tok.limit !== limit) throw new ApiError(400, `token limit must be ${limit}`);
  if (tok.page === 0) throw new ApiError(400, 'token page must be greater than zero');
  return tok;
}

/** Items of one page and the token of the next one (fleet's extract*PageData). */
export function pageOf<T>(all: readonly T[], tok: PageToken): { items: T[]; next: string | undefined } {
  const start = (tok.page - 1) * tok.limit;
  let stop = tok.page * tok.limit;
  if (start >= all.length) return { items: [], next: undefined };
  let next: string | undefined;
  if (stop > all.length) stop = all.length;
  else next = encodePageToken({ limit: tok.limit, page: tok.page + 1 });
  return { items: all.slice(start, stop), next };
}
