/**
 * The API over TCP with TLS client-certificate auth (issue 12, item 2): `fleetd local --api
 * HOST:PORT --api-ca-file CA --api-cert-file CERT --api-key-file KEY` serves https and refuses
 * every client without a certificate signed by CA (fleetctl's FLEETCTL_CA_FILE/CERT_FILE/KEY_FILE
 * and the extension's caFile/certFile/keyFile connect), and then logs no "open to every local
 * user" warning. Certificates are made with openssl (Debian's, a dependency of ca-certificates).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { waitFor, stopLeader } from '../../test/support';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');
const OPENSSL = ['/usr/bin/openssl', '/bin/openssl'].find(p => fs.existsSync(p));

/** A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA; and a client certificate signed by another CA. */
function makePki(dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'strangerCert' | 'strangerKey', string> {
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync(OPENSSL!, args, { cwd: dir, stdio: 'pipe' });
  for (const ca of ['ca', 'other-ca']) {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '2', '-subj', `/CN=${ca}`);
  }
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const leaf = (name: string, ca: string, ext: boolean) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f(`${ca}.pem`),
      '-CAkey',
      f(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      f(`${name}.pem`),
      '-days',
      '2',
      ...(ext ? ['-extfile', f('san.ext')] : []),
    );
  };
  leaf('server', 'ca', true);
  leaf('client', 'ca', false);
  leaf('stranger', 'other-ca', false);
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCert: f('stranger.pem'),
    strangerKey: f('stranger.key'),
  };
}

function get(url: string, tls: { ca: string; cert?: string; key?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${url}/fleet/v1/machines`,
      {
        ca: fs.readFileSync(tls.ca),
        ...(tls.cert ? { cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key!) } : {}),
        agent: false,
      },
      res => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}

test(
  'fleetd local --api with --api-ca-file/--api-cert-file/--api-key-file: https, only clients with a certificate of that CA',
  { timeout: 90_000 },
  async t => {
    if (!OPENSSL) {
      if (process.env.CI === 'true') throw new Error('openssl is missing (apt-get install openssl)');
      t.skip('no openssl');
      return;
    }
    if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-tls-'));
    const pki = makePki(dir);
    const child = spawn(
      process.execPath,
      [
        bundle,
        'local',
        '--machines',
        '1',
        '--state-dir',
        path.join(dir, 'state'),
        '--api',
        '127.0.0.1:0',
        '--api-ca-file',
        pki.ca,
        '--api-cert-file',
        pki.serverCert,
        '--api-key-file',
        pki.serverKey,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const url = await waitFor('fleetd to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
        timeoutMs: 30_000,
        abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
      });
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(await get(url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }), 200);
      await assert.rejects(get(url, { ca: pki.ca }), 'no client certificate: refused');
      await assert.rejects(get(url, { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey }), 'a certificate of another CA: refused');
      assert.doesNotMatch(out, /open to every local user/);
      assert.match(out, /client certificate signed by/);
    } finally {
      await stopLeader(child);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('the TLS flags come together, and only with --api', async () => {
  const { parseConfig } = await import('../src/config');
  assert.throws(
    () => parseConfig(['local', '--api', '127.0.0.1:0', '--api-ca-file', '/x'], {}),
    /--api-ca-file, --api-cert-file and --api-key-file go together/,
  );
  assert.throws(() => parseConfig(['local', '--api-ca-file', '/a', '--api-cert-file', '/b', '--api-key-file', '/c'], {}), /need --api HOST:PORT/);
});
