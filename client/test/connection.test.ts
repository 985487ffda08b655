/**
 * createFleetApi(profile): the profile's endpoint, TLS files and timeouts wired into HttpFleetApi,
 * against the local fleet emulator over http and over https with a private CA and client
 * certificates made by openssl.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { TLSSocket } from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetApiError } from '../src/api/types';
import { createFleetApi } from '../src/connection/connect';
import { resolveProfiles, type ClusterProfile } from '../src/connection/profile';
import { binary, skipUnlessAvailable } from '../../test/support/requirements';
import { FakeFleetServer } from './fleetApiServer.test';

const profileFor = (fields: Record<string, unknown>): ClusterProfile => {
  const { profiles, problems } = resolveProfiles([{ name: 'test', ...fields }], {}, { home: os.tmpdir(), sshConfig: '' });
  assert.deepEqual(
    problems.filter(p => p.severity === 'error'),
    [],
  );
  return profiles[0]!;
};

async function rejection(promise: Promise<unknown>): Promise<FleetApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FleetApiError, `expected a FleetApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('createFleetApi over http', () => {
  let server: FakeFleetServer;
  let endpoint: string;
  before(async () => {
    server = new FakeFleetServer({ units: [{ name: 'a.service' }] });
    endpoint = await server.listen({ port: 0 });
  });
  after(() => server.close());

  it("uses the profile's endpoint and labels the API with it", async () => {
    const api = createFleetApi(profileFor({ endpoint }));
    assert.equal(api.label, endpoint);
    assert.deepEqual(
      (await api.listUnits()).map(u => u.name),
      ['a.service'],
    );
    api.dispose();
  });

  it("applies the profile's request timeout", async () => {
    const silent = new FakeFleetServer({ override: () => true });
    const silentEndpoint = await silent.listen({ port: 0 });
    try {
      const api = createFleetApi(profileFor({ endpoint: silentEndpoint, requestTimeoutMs: 150 }));
      const err = await rejection(api.listMachines());
      assert.equal(err.message, `fleet at ${silentEndpoint} did not answer within 0.15 s. Is fleetd healthy? (The timeout is the profile's requestTimeout.)`);
      api.dispose();
    } finally {
      await silent.close();
    }
  });

  it('a tunnel profile without credentials fails on use, naming the fix', async () => {
    const api = createFleetApi(profileFor({ endpoint, tunnel: '127.0.0.1:1' }), { env: {} });
    const err = await rejection(api.listUnits());
    assert.equal(err.kind, 'ssh');
    assert.match(err.message, /^No SSH credentials for the SSH tunnel host core@127\.0\.0\.1:1: SSH_AUTH_SOCK is not set/);
    api.dispose();
  });
});

const openssl = binary('openssl', 'openssl');

describe('createFleetApi over https with a private CA', { skip: skipUnlessAvailable(openssl) }, () => {
  let dir: string;
  let server: FakeFleetServer;
  let endpoint: string;
  const file = (name: string) => path.join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  /** A CA, a server certificate for 127.0.0.1/localhost, and a client certificate, all signed by the CA; plus an unrelated CA. */
  function makePki(): void {
    for (const ca of ['ca', 'other-ca']) {
      run(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${ca}`,
        '-keyout',
        `${ca}.key`,
        '-out',
        `${ca}.pem`,
      );
    }
    fs.writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    run(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=fleet-server',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    );
    run(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'server.ext',
      '-out',
      'server.pem',
    );
    run(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=fleet-client',
      '-keyout',
      'client.key',
      '-out',
      'client.csr',
    );
    run('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.pem');
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-tls-'));
    makePki();
    server = new FakeFleetServer({
      units: [{ name: 'secure.service' }],
      tls: {
        key: fs.readFileSync(file('server.key')),
        cert: fs.readFileSync(file('server.pem')),
        ca: fs.readFileSync(file('ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      override: (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.setHeader('X-Client-CN', String(peer.subject?.CN ?? ''));
        return false;
      },
    });
    endpoint = await server.listen({ port: 0 });
  });
  after(async () => {
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the server with caFile and authenticates with certFile/keyFile', async () => {
    const api = createFleetApi(profileFor({ endpoint, caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') }));
    assert.deepEqual(
      (await api.listUnits()).map(u => u.name),
      ['secure.service'],
    );
    api.dispose();
  });

  it('checks the host name in the certificate (localhost is in its SANs)', async () => {
    const port = new URL(endpoint).port;
    const api = createFleetApi(
      profileFor({ endpoint: `https://localhost:${port}`, caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') }),
    );
    assert.equal((await api.getUnit('secure.service'))?.name, 'secure.service');
    api.dispose();
  });

  it('a server certificate from another CA is a TLS error naming caFile', async () => {
    const api = createFleetApi(profileFor({ endpoint, caFile: file('other-ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') }));
    const err = await rejection(api.listUnits());
    assert.equal(err.kind, 'tls');
    assert.match(
      err.message,
      new RegExp(
        `^TLS to fleet at ${endpoint} failed: (unable to verify the first certificate|self[- ]signed certificate in certificate chain)\\. Check caFile \\(the CA that signed the server's certificate\\), certFile and keyFile\\.$`,
      ),
    );
    api.dispose();
  });

  it("without a client certificate the server's refusal is reported, not a crash", async () => {
    const api = createFleetApi(profileFor({ endpoint, caFile: file('ca.pem') }));
    const err = await rejection(api.listUnits());
    assert.equal(err.kind, 'tls', err.message);
    assert.equal(
      err.message,
      `TLS to fleet at ${endpoint} failed: the server requires a client certificate it accepts. Set certFile and keyFile in the cluster profile to a certificate signed by the CA the server trusts.`,
    );
    api.dispose();
  });

  it('unreadable TLS files are config errors that name the profile and the field', () => {
    assert.throws(
      () => createFleetApi(profileFor({ endpoint, caFile: file('nope.pem') })),
      (err: FleetApiError) =>
        err.kind === 'config' && /^profile "test": cannot read caFile .*nope\.pem: ENOENT.*Fix caFile in the cluster profile\.$/.test(err.message),
    );
  });
});
