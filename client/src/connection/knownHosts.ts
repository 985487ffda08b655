/**
 * OpenSSH known_hosts, as fleetctl reads and writes ~/.fleetctl/known_hosts: host patterns
 * (comma lists, `*`/`?` wildcards, `!negation`), `[host]:port` for ports other than 22, hashed
 * `|1|salt|hash` entries (which fleetctl skips but OpenSSH writes with HashKnownHosts), comments,
 * and `@revoked` markers. Keys are compared as the raw SSH wire blob.
 *
 * Plain Node: no `vscode` import.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerHostKeyAlgorithm } from 'ssh2';

export interface KnownHostsEntry {
  /** 1-based line number. */
  line: number;
  marker?: '@revoked' | '@cert-authority';
  /** The host field as written (comma list of patterns, or one hashed entry). */
  hosts: string;
  keyType: string;
  /** Raw SSH public-key blob. */
  key: Buffer;
  comment?: string;
}

export interface KnownHostsProblem {
  line: number;
  message: string;
}

export interface KnownHosts {
  entries: KnownHostsEntry[];
  problems: KnownHostsProblem[];
}

export type HostKeyVerdict =
  | { result: 'match'; entry: KnownHostsEntry }
  /** The host is known with other keys (or this key is `@revoked`): refuse. */
  | { result: 'mismatch'; entries: KnownHostsEntry[]; revoked: boolean }
  /** Not recorded for the host name; `knownForAddresses`: the same key recorded only for the address dialled. */
  | { result: 'unknown'; knownForAddresses?: KnownHostsEntry[] };

/** Never throws: bad lines become problems (with their line number) and are skipped. */
export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/[ \t]+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m !== '@revoked' && m !== '@cert-authority') {
        problems.push({ line, message: `unknown marker ${m}` });
        return;
      }
      marker = m;
    }
    const [hosts, keyType, base64, ...rest] = fields;
    if (!hosts || !keyType || !base64) {
      problems.push({ line, message: 'bad format (expected: hosts key-type base64-key [comment])' });
      return;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
      problems.push({ line, message: `key is not base64 for host ${hosts}` });
      return;
    }
    const key = Buffer.from(base64, 'base64');
    const blobType = keyTypeOf(key);
    if (blobType !== keyType) {
      problems.push({ line, message: `key type ${keyType} does not match the key data (${blobType ?? 'unreadable'}) for host ${hosts}` });
      return;
    }
    if (hosts.startsWith('|') && !parseHashed(hosts)) {
      problems.push({ line, message: `bad hashed host entry ${hosts}` });
      return;
    }
    const entry: KnownHostsEntry = { line, hosts, keyType, key };
    if (marker) entry.marker = marker;
    if (rest.length) entry.comment = rest.join(' ');
    entries.push(entry);
  });
  return { entries, problems };
}

/** The algorithm name at the start of an SSH public-key blob (e.g. `ssh-ed25519`). */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  const name = blob.subarray(4, 4 + length).toString('latin1');
  return /^[\x21-\x7e]+$/.test(name) ? name : undefined;
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise (OpenSSH put_host_port). */
export function hostToken(host: string, port: number): string {
  if (port === 22 || port === 0) return host.includes(':') ? `[${host}]` : host;
  return `[${host}]:${port}`;
}

function parseHashed(field: string): { salt: Buffer; hash: string } | undefined {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1' || !parts[2] || !parts[3]) return undefined;
  const salt = Buffer.from(parts[2], 'base64');
  if (salt.length !== 20) return undefined;
  return { salt, hash: parts[3] };
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes. */
export function hashHostname(name: string, salt: Buffer = crypto.randomBytes(20)): string {
  const hash = crypto.createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/**
 * Does a known_hosts host field match `name` (a hostToken)? A hashed field matches by HMAC;
 * otherwise a comma list where any negated match (`!pattern`) vetoes.
 */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) {
    const hashed = parseHashed(field);
    if (!hashed) return false;
    return crypto.createHmac('sha1', hashed.salt).update(name).digest('base64') === hashed.hash;
  }
  let matched = false;
  for (const raw of field.split(',')) {
    if (raw === '') continue;
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/**
 * The names a host is recorded under: `host` / `[host]:port`, plus the bracketed IPv6 form
 * fleetctl writes for port 22 (`[::1]`) next to OpenSSH's bare one (`::1`).
 */
function namesFor(hosts: string | readonly string[], port: number): string[] {
  const names = new Set<string>();
  for (const host of typeof hosts === 'string' ? [hosts] : hosts) {
    names.add(hostToken(host, port));
    if ((port === 22 || port === 0) && host.includes(':')) names.add(host);
  }
  return [...names];
}

/**
 * fleetctl's rule: any entry for the host with the same key is a match (whatever else is
 * listed); entries for the host with only other keys are a mismatch; no entry is unknown.
 * A key listed as `@revoked` for the host is always refused. `hosts` is the host name the user
 * wrote, then the addresses dialled. OpenSSH's rule for those: the key is checked under the host
 * name; a key recorded only for an address is not accepted for the name (whoever controls its
 * DNS could point it anywhere): it is unknown, with the address's entries to show. An address
 * recorded with only other keys is still a mismatch.
 */
export function lookupHostKey(knownHosts: KnownHosts, hosts: string | readonly string[], port: number, key: Buffer): HostKeyVerdict {
  const [hostName, ...addresses] = typeof hosts === 'string' ? [hosts] : hosts;
  const entriesFor = (names: string[]) => knownHosts.entries.filter(e => e.marker !== '@cert-authority' && names.some(name => hostFieldMatches(e.hosts, name)));
  const forHost = entriesFor(namesFor(hostName ?? '', port));
  const others = addresses.filter(a => a !== hostName);
  const forAddresses = others.length > 0 ? entriesFor(namesFor(others, port)).filter(e => !forHost.includes(e)) : [];
  const revoked = [...forHost, ...forAddresses].find(e => e.marker === '@revoked' && e.key.equals(key));
  if (revoked) return { result: 'mismatch', entries: [revoked], revoked: true };
  const plain = forHost.filter(e => e.marker === undefined);
  const match = plain.find(e => e.key.equals(key));
  if (match) return { result: 'match', entry: match };
  if (plain.length > 0) return { result: 'mismatch', entries: plain, revoked: false };
  const byAddress = forAddresses.filter(e => e.marker === undefined);
  const sameKey = byAddress.filter(e => e.key.equals(key));
  if (sameKey.length > 0) return { result: 'unknown', knownForAddresses: sameKey };
  if (byAddress.length > 0) return { result: 'mismatch', entries: byAddress, revoked: false };
  return { result: 'unknown' };
}

/** Key types already recorded for a host (to offer those host-key algorithms first, as fleetctl does). */
export function knownKeyTypes(knownHosts: KnownHosts, hosts: string | readonly string[], port: number): string[] {
  const names = namesFor(hosts, port);
  const types = knownHosts.entries.filter(e => e.marker === undefined && names.some(name => hostFieldMatches(e.hosts, name))).map(e => e.keyType);
  return [...new Set(types)];
}

/** `SHA256:…` (unpadded base64 of the SHA-256 of the key blob), exactly as `ssh-keygen -lf` prints it. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The legacy MD5 form fleetctl's prompt shows (`aa:bb:…`). */
export function fingerprintMd5(key: Buffer): string {
  return crypto
    .createHash('md5')
    .update(key)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}

/** One known_hosts line (with a trailing newline). */
export function formatKnownHostsLine(host: string, port: number, key: Buffer, options: { hash?: boolean } = {}): string {
  const type = keyTypeOf(key);
  if (!type) throw new Error(`not an SSH public key blob (for ${hostToken(host, port)})`);
  const name = hostToken(host, port);
  return `${options.hash ? hashHostname(name) : name} ${type} ${key.toString('base64')}\n`;
}

/** Reads and parses a known_hosts file; a missing file is an empty one. Other read errors throw. */
export function readKnownHosts(file: string): KnownHosts {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], problems: [] };
    throw err;
  }
  return parseKnownHosts(text);
}

/** Appends to one file are serialised within this process, so concurrent trusts don't lose lines. */
const pending = new Map<string, Promise<void>>();

/**
 * Adds a trusted host key atomically: the file's current content plus the new line is written
 * to a temporary file beside it and renamed over it. A new directory is created 0700 and a new
 * file 0600; an existing file keeps its mode. Returns the line written.
 */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer, options: { hash?: boolean } = {}): Promise<string> {
  const line = formatKnownHostsLine(host, port, key, options);
  const previous = pending.get(file) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => writeAppended(file, line));
  pending.set(file, run);
  try {
    await run;
  } finally {
    if (pending.get(file) === run) pending.delete(file);
  }
  return line;
}

/** The file a known_hosts path names: a symlink (even a dangling one) is followed, so the link is updated through, not replaced. */
async function linkTarget(file: string): Promise<string> {
  for (let hops = 0; hops < 40; hops++) {
    let target: string;
    try {
      target = await fs.promises.readlink(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return file; // not a link, or nothing there yet
      throw err;
    }
    file = path.resolve(path.dirname(file), target);
  }
  throw new Error(`${file}: too many levels of symbolic links`);
}

async function writeAppended(link: string, line: string): Promise<void> {
  const file = await linkTarget(link);
  const dir = path.dirname(file);
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  let existing = '';
  let mode = 0o600;
  try {
    existing = await fs.promises.readFile(file, 'utf8');
    mode = (await fs.promises.stat(file)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing !== '' && !existing.endsWith('\n')) existing += '\n';
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.promises.open(temp, 'wx', mode);
  try {
    await handle.writeFile(existing + line, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.promises.chmod(temp, mode);
    await fs.promises.rename(temp, file);
  } catch (err) {
    await fs.promises.rm(temp, { force: true });
    throw err;
  }
}

/** ssh2's host-key algorithm names for each key type, strongest first. */
const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const ALL_HOST_KEY_ALGORITHMS = Object.values(HOST_KEY_ALGORITHMS).flat();

/**
 * The host-key algorithms to offer, those of the key types already recorded for the host first
 * (as OpenSSH does), so a host with several keys answers with the one known_hosts can check.
 */
export function hostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred = knownTypes.flatMap(t => HOST_KEY_ALGORITHMS[t] ?? []);
  return [...preferred, ...ALL_HOST_KEY_ALGORITHMS.filter(a => !preferred.includes(a))];
}
