import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  appendKnownHost,
  fingerprintMd5,
  fingerprintSha256,
  formatKnownHostsLine,
  hashHostname,
  hostFieldMatches,
  hostToken,
  keyTypeOf,
  knownKeyTypes,
  lookupHostKey,
  parseKnownHosts,
  readKnownHosts,
} from '../src/connection/knownHosts';
import { binary, skipUnlessAvailable } from '../../test/support/requirements';

/** A fresh ed25519 public key as an SSH wire blob. */
function ed25519Blob(): Buffer {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
}

const keyA = ed25519Blob();
const keyB = ed25519Blob();
const b64 = (k: Buffer) => k.toString('base64');

describe('parseKnownHosts', () => {
  it('reads plain, bracketed, listed, hashed and marked entries; skips comments and reports bad lines', () => {
    const hashed = hashHostname('hashed.example.com');
    const text = [
      '# a comment',
      '',
      `bastion.example.com,10.0.0.5 ssh-ed25519 ${b64(keyA)} ops@laptop`,
      `   [127.0.0.1]:2222 ssh-ed25519 ${b64(keyB)}`,
      `${hashed} ssh-ed25519 ${b64(keyA)}`,
      `@revoked * ssh-ed25519 ${b64(keyB)}`,
      'lonely-host',
      `bad ssh-rsa ${b64(keyA)}`,
      `@weird host ssh-ed25519 ${b64(keyA)}`,
      '|1|bad|hash ssh-ed25519 AAAA',
    ].join('\r\n');
    const parsed = parseKnownHosts(text);
    assert.deepEqual(
      parsed.entries.map(e => [e.line, e.marker, e.hosts, e.keyType, e.comment]),
      [
        [3, undefined, 'bastion.example.com,10.0.0.5', 'ssh-ed25519', 'ops@laptop'],
        [4, undefined, '[127.0.0.1]:2222', 'ssh-ed25519', undefined],
        [5, undefined, hashed, 'ssh-ed25519', undefined],
        [6, '@revoked', '*', 'ssh-ed25519', undefined],
      ],
    );
    assert.deepEqual(parsed.problems, [
      { line: 7, message: 'bad format (expected: hosts key-type base64-key [comment])' },
      { line: 8, message: 'key type ssh-rsa does not match the key data (ssh-ed25519) for host bad' },
      { line: 9, message: 'unknown marker @weird' },
      { line: 10, message: 'key type ssh-ed25519 does not match the key data (unreadable) for host |1|bad|hash' },
    ]);
  });

  it('never throws on garbage', () => {
    for (const junk of ['\0\0\0', 'a b c', '@', '| | |', 'x ssh-ed25519 !!!', '\n\n\n#']) assert.doesNotThrow(() => parseKnownHosts(junk));
  });
});

describe('host matching', () => {
  it('uses host for port 22 and [host]:port otherwise', () => {
    assert.equal(hostToken('bastion', 22), 'bastion');
    assert.equal(hostToken('10.0.0.1', 2222), '[10.0.0.1]:2222');
    assert.equal(hostToken('::1', 22), '[::1]');
  });
  it('matches wildcards, comma lists and negation as OpenSSH', () => {
    assert.equal(hostFieldMatches('*.example.com', 'a.example.com'), true);
    assert.equal(hostFieldMatches('*.example.com,!bad.example.com', 'bad.example.com'), false);
    assert.equal(hostFieldMatches('10.0.0.?', '10.0.0.7'), true);
    assert.equal(hostFieldMatches('10.0.0.?', '10.0.0.17'), false);
    assert.equal(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222'), true);
    assert.equal(hostFieldMatches('127.0.0.1', '[127.0.0.1]:2222'), false);
    assert.equal(hostFieldMatches('Bastion', 'bastion'), true);
    assert.equal(hostFieldMatches('!only-negated', 'other'), false);
  });
  it('matches hashed entries by HMAC-SHA1, with the salt in the entry', () => {
    const salt = Buffer.alloc(20, 7);
    const hashed = hashHostname('[127.0.0.1]:2222', salt);
    assert.equal(hashed, `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update('[127.0.0.1]:2222').digest('base64')}`);
    assert.equal(hostFieldMatches(hashed, '[127.0.0.1]:2222'), true);
    assert.equal(hostFieldMatches(hashed, '127.0.0.1'), false);
  });
});

describe('lookupHostKey', () => {
  const known = parseKnownHosts(
    [
      `bastion ssh-ed25519 ${b64(keyA)}`,
      `[bastion]:2222 ssh-ed25519 ${b64(keyB)}`,
      `multi ssh-ed25519 ${b64(keyB)}`,
      `multi ssh-ed25519 ${b64(keyA)}`,
      `@revoked revoked-host ssh-ed25519 ${b64(keyA)}`,
      `revoked-host ssh-ed25519 ${b64(keyA)}`,
    ].join('\n'),
  );
  it('match, mismatch, unknown', () => {
    assert.equal(lookupHostKey(known, 'bastion', 22, keyA).result, 'match');
    const changed = lookupHostKey(known, 'bastion', 22, keyB);
    assert.equal(changed.result, 'mismatch');
    assert.deepEqual(changed.result === 'mismatch' && changed.entries.map(e => e.line), [1]);
    assert.equal(lookupHostKey(known, 'bastion', 2222, keyB).result, 'match');
    assert.equal(lookupHostKey(known, 'elsewhere', 22, keyA).result, 'unknown');
  });
  it('any listed key for the host is a match (several lines for one host)', () => {
    assert.equal(lookupHostKey(known, 'multi', 22, keyA).result, 'match');
  });
  it('a @revoked key is refused even when also listed', () => {
    const verdict = lookupHostKey(known, 'revoked-host', 22, keyA);
    assert.equal(verdict.result, 'mismatch');
    assert.equal(verdict.result === 'mismatch' && verdict.revoked, true);
  });
  it('a key recorded only for the address is not accepted for a host name (OpenSSH), but says so; another key there is refused; both IPv6 forms', () => {
    const byIp = parseKnownHosts(`10.0.0.5 ssh-ed25519 ${b64(keyA)}\n[::1] ssh-ed25519 ${b64(keyB)}\nfe80::2 ssh-ed25519 ${b64(keyB)}\n`);
    const onlyByAddress = lookupHostKey(byIp, ['bastion.example.com', '10.0.0.5'], 22, keyA);
    assert.equal(onlyByAddress.result, 'unknown');
    assert.deepEqual(onlyByAddress.result === 'unknown' && onlyByAddress.knownForAddresses?.map(e => [e.line, e.hosts]), [[1, '10.0.0.5']]);
    assert.equal(lookupHostKey(byIp, ['10.0.0.5', '10.0.0.5'], 22, keyA).result, 'match', 'dialled by address');
    const named = parseKnownHosts(`bastion.example.com ssh-ed25519 ${b64(keyA)}\n10.0.0.5 ssh-ed25519 ${b64(keyB)}\n`);
    assert.equal(lookupHostKey(named, ['bastion.example.com', '10.0.0.5'], 22, keyA).result, 'match', 'the name decides; the address only informs');
    assert.equal(lookupHostKey(byIp, ['bastion.example.com', '10.0.0.5'], 22, keyB).result, 'mismatch');
    assert.equal(lookupHostKey(byIp, ['bastion.example.com', '10.0.0.5'], 2222, keyA).result, 'unknown');
    assert.equal(lookupHostKey(byIp, '::1', 22, keyB).result, 'match', 'fleetctl writes [::1] for port 22');
    assert.equal(lookupHostKey(byIp, 'fe80::2', 22, keyB).result, 'match', 'OpenSSH writes the bare address');
  });

  it('lists the key types recorded for a host', () => {
    assert.deepEqual(knownKeyTypes(known, 'bastion', 22), ['ssh-ed25519']);
    assert.deepEqual(knownKeyTypes(known, 'nowhere', 22), []);
  });
});

describe('fingerprints and lines', () => {
  it('reads the key type from the blob', () => {
    assert.equal(keyTypeOf(keyA), 'ssh-ed25519');
    assert.equal(keyTypeOf(Buffer.from([0, 0, 0, 99])), undefined);
  });
  it('formats lines fleetctl and OpenSSH read back', () => {
    assert.equal(formatKnownHostsLine('10.0.0.1', 22, keyA), `10.0.0.1 ssh-ed25519 ${b64(keyA)}\n`);
    assert.equal(formatKnownHostsLine('10.0.0.1', 2222, keyA), `[10.0.0.1]:2222 ssh-ed25519 ${b64(keyA)}\n`);
    const hashedLine = formatKnownHostsLine('10.0.0.1', 2222, keyA, { hash: true });
    assert.equal(lookupHostKey(parseKnownHosts(hashedLine), '10.0.0.1', 2222, keyA).result, 'match');
    assert.throws(() => formatKnownHostsLine('x', 22, Buffer.from('nope')), /not an SSH public key blob \(for x\)/);
  });
  it("MD5 fingerprint in fleetctl's aa:bb form", () => {
    assert.match(fingerprintMd5(keyA), /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  });

  const sshKeygen = binary('ssh-keygen', 'openssh-client');
  it('SHA256 fingerprint equals ssh-keygen -lf, and ssh-keygen -F finds our lines', { skip: skipUnlessAvailable(sshKeygen) }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-kh-'));
    try {
      const file = path.join(dir, 'known_hosts');
      fs.writeFileSync(file, formatKnownHostsLine('10.9.8.7', 2222, keyA) + formatKnownHostsLine('hashed.example', 22, keyB, { hash: true }));
      const listed = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' });
      assert.match(listed, new RegExp(`^256 ${fingerprintSha256(keyA).replace(/[+/]/g, '\\$&')} \\[10\\.9\\.8\\.7\\]:2222 \\(ED25519\\)$`, 'm'));
      const found = execFileSync('ssh-keygen', ['-F', 'hashed.example', '-f', file], { encoding: 'utf8' });
      assert.match(found, /Host hashed\.example found: line 2/);
      // And the other way round: ssh-keygen -H output is read by us.
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
      const rehashed = readKnownHosts(file);
      assert.equal(rehashed.problems.length, 0);
      assert.ok(rehashed.entries.every(e => e.hosts.startsWith('|1|')));
      assert.equal(lookupHostKey(rehashed, '10.9.8.7', 2222, keyA).result, 'match');
      assert.equal(lookupHostKey(rehashed, '10.9.8.7', 2222, keyB).result, 'mismatch');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('appendKnownHost', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-kh-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates the directory 0700 and the file 0600', async () => {
    const file = path.join(dir, '.fleetctl', 'known_hosts');
    const line = await appendKnownHost(file, '127.0.0.1', 2222, keyA);
    assert.equal(line, `[127.0.0.1]:2222 ssh-ed25519 ${b64(keyA)}\n`);
    assert.equal(fs.readFileSync(file, 'utf8'), line);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('keeps existing content (adding a missing newline) and mode, and leaves no temp files', async () => {
    const file = path.join(dir, 'known_hosts');
    fs.writeFileSync(file, `# mine\nold ssh-ed25519 ${b64(keyB)}`, { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    await appendKnownHost(file, 'new', 22, keyA);
    assert.equal(fs.readFileSync(file, 'utf8'), `# mine\nold ssh-ed25519 ${b64(keyB)}\nnew ssh-ed25519 ${b64(keyA)}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o644);
    assert.deepEqual(fs.readdirSync(dir), ['known_hosts']);
  });

  it('loses no line when several hosts are trusted at once', async () => {
    const file = path.join(dir, 'known_hosts');
    await Promise.all(Array.from({ length: 10 }, (_, i) => appendKnownHost(file, `h${i}`, 22, i % 2 ? keyA : keyB)));
    const parsed = readKnownHosts(file);
    assert.equal(parsed.entries.length, 10);
    for (let i = 0; i < 10; i++) assert.equal(lookupHostKey(parsed, `h${i}`, 22, i % 2 ? keyA : keyB).result, 'match');
  });

  it('a symlinked known_hosts is updated through the link (the link stays a link)', async () => {
    const real = path.join(dir, 'dotfiles', 'known_hosts');
    fs.mkdirSync(path.dirname(real));
    fs.writeFileSync(real, `old ssh-ed25519 ${b64(keyB)}\n`, { mode: 0o600 });
    const link = path.join(dir, 'known_hosts');
    fs.symlinkSync(path.join('dotfiles', 'known_hosts'), link);
    await appendKnownHost(link, 'new', 22, keyA);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'still a link');
    assert.equal(fs.readFileSync(real, 'utf8'), `old ssh-ed25519 ${b64(keyB)}\nnew ssh-ed25519 ${b64(keyA)}\n`);
    assert.deepEqual(fs.readdirSync(path.dirname(real)), ['known_hosts'], 'no temp file left');
    // A dangling link creates its target.
    const dangling = path.join(dir, 'dangling');
    fs.symlinkSync(path.join(dir, 'dotfiles', 'new_known_hosts'), dangling);
    await appendKnownHost(dangling, 'h', 22, keyA);
    assert.ok(fs.lstatSync(dangling).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(dir, 'dotfiles', 'new_known_hosts'), 'utf8'), `h ssh-ed25519 ${b64(keyA)}\n`);
  });

  it('a missing file reads as empty; an unreadable path throws', () => {
    assert.deepEqual(readKnownHosts(path.join(dir, 'absent')), { entries: [], problems: [] });
    assert.throws(() => readKnownHosts(dir), /EISDIR/);
  });
});
