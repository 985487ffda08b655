/**
 * The extension's etcd driver (EtcdFleetApi through createFleetApi, as a `FLEETCTL_DRIVER=etcd`
 * profile makes it) against a real `fleetd local --etcd-api v2` cluster on Debian's etcd: every
 * client operation the explorer and the deploy commands use, the article's placement rules, and
 * the same answers as the cluster's HTTP API; then the errors a user can act on (no v2 API, a
 * wrong key prefix, a fleet API given to the etcd driver and the reverse, etcd requiring TLS),
 * with nothing written on a failed connect; and TLS with client certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiUnit } from '../../protocol/src/api';
import type { FleetApi } from '../src/api/types';
import { FleetApiError } from '../src/api/types';
import { createFleetApi } from '../src/connection/connect';
import { resolveProfiles, type ClusterProfile } from '../src/connection/profile';
import { runDeploy, type LocalUnit } from '../src/deploy/deploy';
import { parseUnitFile, toOptions } from '../../unitfile/src';
import {
  binary,
  EtcdServer,
  etcdBinary,
  FleetdLocal,
  requireBinary,
  skipUnlessAvailable,
  sshdAvailable,
  useSshd,
  waitFor,
  type SshFixture,
} from '../../test/support';

const skip = skipUnlessAvailable(etcdBinary());

function envProfile(env: Record<string, string>): ClusterProfile {
  const { profiles, problems } = resolveProfiles([], env, { home: os.tmpdir(), sshConfig: '' });
  assert.deepEqual(
    problems.filter(p => p.severity === 'error'),
    [],
  );
  return profiles[0]!;
}

const unit = (name: string, text: string): LocalUnit => ({ name, options: toOptions(parseUnitFile(text)) });
const SLEEP = '[Service]\nExecStart=/bin/sleep 100000\n';

async function rejection(p: Promise<unknown>): Promise<FleetApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FleetApiError, `expected a FleetApiError, got ${(err as Error)?.stack ?? String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

const view = (units: ApiUnit[]) => units.map(u => [u.name, u.desiredState, u.currentState ?? '-', u.machineID ?? '-']);

describe('the etcd driver against fleetd local --etcd-api v2', { skip }, () => {
  let cluster: FleetdLocal;
  let etcd: FleetApi;
  let http: FleetApi;
  const deploy = { timeoutMs: 30_000, pollMs: 100 };

  before(async () => {
    cluster = await FleetdLocal.start([
      '--machines',
      '3',
      '--etcd-binary',
      requireBinary('etcd', 'etcd-server'),
      '--etcd-api',
      'v2',
      '--metadata',
      'role=web',
      '--metadata',
      'role=web',
      '--metadata',
      'role=db',
      '--agent-reconcile-interval',
      '1',
    ]);
    assert.ok(cluster.etcd, `fleetd names its etcd in the ready output:\n${cluster.output()}`);
    // The article's workflow: FLEETCTL_ENDPOINT at etcd with the etcd driver.
    const profile = envProfile({ FLEETCTL_ENDPOINT: cluster.etcd, FLEETCTL_DRIVER: 'etcd' });
    assert.equal(profile.driver, 'etcd');
    etcd = createFleetApi(profile);
    http = createFleetApi(envProfile({ FLEETCTL_ENDPOINT: cluster.api }));
  });
  after(async () => {
    etcd?.dispose();
    http?.dispose();
    await cluster?.stop();
  });

  it('lists machines with their metadata, as the API does', async () => {
    const machines = await etcd.listMachines();
    assert.deepEqual(machines.map(m => [m.primaryIP, m.metadata]).sort(), [
      ['127.0.0.2', { role: 'web' }],
      ['127.0.0.3', { role: 'web' }],
      ['127.0.0.4', { role: 'db' }],
    ]);
    assert.deepEqual(machines, await http.listMachines());
  });

  it("runs the article's scenario: submit, start, spread by Conflicts, a MachineOf sidekick, Global, MachineMetadata, stop, unload, destroy", async () => {
    const web = unit('web@.service', '[Unit]\nDescription=web %i\n\n' + SLEEP + '\n[X-Fleet]\nConflicts=web@*.service\n');
    const sidekick = unit('web-discovery@.service', '[Unit]\nBindsTo=web@%i.service\n\n' + SLEEP + '\n[X-Fleet]\nMachineOf=web@%i.service\n');
    const [submitted] = await runDeploy(etcd, 'submit', [{ name: 'web@.service', local: web }], deploy);
    assert.match(submitted!.message, /web@\.service/);
    const instances = ['web@1.service', 'web@2.service', 'web@3.service'].map(name => ({ name, local: { ...web, name } }));
    const started = await runDeploy(etcd, 'start', instances, deploy);
    assert.ok(
      started.every(r => r.ok),
      JSON.stringify(started),
    );
    const placed = new Map((await etcd.listUnits()).filter(u => u.name.startsWith('web@') && u.machineID).map(u => [u.name, u.machineID!]));
    assert.equal(new Set(placed.values()).size, 3, 'X-Fleet Conflicts spreads the three instances over three machines');

    const [side] = await runDeploy(etcd, 'start', [{ name: 'web-discovery@1.service', local: { ...sidekick, name: 'web-discovery@1.service' } }], deploy);
    assert.ok(side!.ok, side!.message);
    assert.equal((await etcd.getUnit('web-discovery@1.service'))?.machineID, placed.get('web@1.service'), 'MachineOf follows web@1');

    const results = await runDeploy(
      etcd,
      'start',
      [
        { name: 'everywhere.service', local: unit('everywhere.service', SLEEP + '\n[X-Fleet]\nGlobal=true\n') },
        { name: 'db.service', local: unit('db.service', SLEEP + '\n[X-Fleet]\nMachineMetadata=role=db\n') },
      ],
      deploy,
    );
    assert.ok(
      results.every(r => r.ok),
      JSON.stringify(results),
    );
    const db = await etcd.getUnit('db.service');
    const dbMachine = (await etcd.listMachines()).find(m => m.metadata?.role === 'db')!.id;
    assert.equal(db?.machineID, dbMachine);
    await waitFor(
      'the global unit active on all three machines',
      async () => (await etcd.listUnitStates()).filter(s => s.name === 'everywhere.service' && s.systemdActiveState === 'active').length === 3,
      { timeoutMs: 20_000 },
    );

    // The etcd driver and fleetd's HTTP API answer alike (one implementation of fleet's semantics).
    assert.deepEqual(view(await etcd.listUnits()), view(await http.listUnits()));
    assert.deepEqual(
      (await etcd.listUnitStates()).map(s => [s.name, s.machineID, s.systemdActiveState]),
      (await http.listUnitStates()).map(s => [s.name, s.machineID, s.systemdActiveState]),
    );

    const [stopped] = await runDeploy(etcd, 'stop', [{ name: 'db.service' }], deploy);
    assert.ok(stopped!.ok, stopped!.message);
    assert.equal((await http.getUnit('db.service'))?.currentState, 'loaded');
    const [unloaded] = await runDeploy(etcd, 'unload', [{ name: 'db.service' }], deploy);
    assert.ok(unloaded!.ok, unloaded!.message);
    assert.equal((await http.getUnit('db.service'))?.currentState, 'inactive');
    assert.equal(await etcd.destroyUnit('db.service'), true);
    assert.equal(await etcd.destroyUnit('db.service'), false);
    assert.equal(await http.getUnit('db.service'), undefined);
  });

  it("refuses what fleet's API refuses, with fleet's text (validation runs in the driver too)", async () => {
    const err = await rejection(
      etcd.createUnit(
        'bad.service',
        [
          { section: 'X-Fleet', name: 'MachineID', value: 'abc' },
          { section: 'X-Fleet', name: 'MachineOf', value: 'x.service' },
        ],
        'launched',
      ),
    );
    assert.equal(err.status, 400);
    assert.match(err.message, /MachineID cannot be used with Peers/);
    assert.match((await rejection(etcd.setUnitTargetState('web@.service', 'launched'))).message, /cannot activate template "web@\.service"/);
    assert.equal(await etcd.getUnit('bad.service'), undefined);
  });

  it('what the API submits, the etcd driver sees, and the reverse', async () => {
    await http.createUnit('from-api.service', [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }], 'inactive');
    await etcd.createUnit('from-etcd.service', [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 2000' }], 'inactive');
    assert.deepEqual((await etcd.getUnit('from-api.service'))?.options, [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }]);
    assert.deepEqual((await http.getUnit('from-etcd.service'))?.options, [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 2000' }]);
  });

  it('has no journal: it says where the journal is', async () => {
    const err = await rejection(etcd.journal('web@1.service', { lines: 5 }));
    assert.match(err.message, /fleet's etcd, which keeps no journals: .* over SSH/);
  });
});

describe('the etcd driver: errors a user can act on, and nothing written on a failed connect', { skip }, () => {
  let plain: EtcdServer;
  let v3only: EtcdServer;
  let cluster: FleetdLocal;
  before(async () => {
    [plain, v3only] = await Promise.all([EtcdServer.start(), EtcdServer.start({ enableV2: false })]);
    cluster = await FleetdLocal.start(['--machines', '1']);
  });
  after(async () => {
    await Promise.all([plain?.stop(), v3only?.stop(), cluster?.stop()]);
  });

  const keysUnder = async (url: string, key: string) => (await fetch(`${url}/v2/keys${key}?recursive=true`)).status;

  it('etcd without the v2 API (etcd 3.4 and later by default)', async () => {
    const api = createFleetApi(envProfile({ FLEETCTL_ENDPOINT: v3only.url, FLEETCTL_DRIVER: 'etcd' }));
    const err = await rejection(api.createUnit('a.service', [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], 'launched'));
    assert.equal(
      err.message,
      `etcd at ${v3only.url} does not serve the v2 API that fleet keeps its registry in (etcd 3.4 and later disable it by default): start etcd with --enable-v2=true`,
    );
    api.dispose();
  });

  it('a key prefix with no fleet cluster under it', async () => {
    const api = createFleetApi(envProfile({ FLEETCTL_ENDPOINT: plain.url, FLEETCTL_DRIVER: 'etcd', FLEETCTL_ETCD_KEY_PREFIX: '/not/fleet' }));
    const err = await rejection(api.createUnit('a.service', [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], 'launched'));
    assert.match(
      err.message,
      new RegExp(`^no fleet cluster at ${plain.url.replace(/[.]/g, '\\.')}: nothing is stored under the key prefix /not/fleet/\\. Check the key prefix`),
    );
    assert.equal(err.kind, 'config');
    assert.equal(await keysUnder(plain.url, '/not/fleet'), 404, 'nothing was written');
    await rejection(api.listUnits());
    api.dispose();
  });

  it("fleet's HTTP API given to the etcd driver, and etcd given to the API driver", async () => {
    const wrongDriver = createFleetApi(envProfile({ FLEETCTL_ENDPOINT: cluster.api, FLEETCTL_DRIVER: 'etcd' }));
    const err = await rejection(wrongDriver.listMachines());
    assert.equal(
      err.message,
      `${cluster.api} is fleet's HTTP API, not etcd: use the API driver for this endpoint (driver "api"), or give the etcd endpoint (port 2379 or 4001)`,
    );
    wrongDriver.dispose();
    const reverse = createFleetApi(envProfile({ FLEETCTL_ENDPOINT: plain.url, FLEETCTL_DRIVER: 'API' }));
    const err2 = await rejection(reverse.listMachines());
    assert.match(
      err2.message,
      /answers like etcd, not like fleet's HTTP API .* use the etcd driver: "driver": "etcd" in the cluster profile, or FLEETCTL_DRIVER=etcd/,
    );
    reverse.dispose();
  });
});

const openssl = binary('openssl', 'openssl');
describe('the etcd driver over TLS with client certificates', { skip: skip || skipUnlessAvailable(openssl) }, () => {
  let work: string;
  let server: EtcdServer;
  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-tls-'));
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'pipe' });
    sh([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=test-ca',
    ]);
    for (const [name, san] of [
      ['server', 'subjectAltName=IP:127.0.0.1'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      sh(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
      fs.writeFileSync(path.join(work, `${name}.ext`), `${san}\n`);
      sh([
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ]);
    }
    server = await EtcdServer.start({ tls: { cert: path.join(work, 'server.pem'), key: path.join(work, 'server.key'), clientCa: path.join(work, 'ca.pem') } });
  });
  after(async () => {
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('http:// to an etcd that requires TLS says so', async () => {
    const api = createFleetApi(envProfile({ FLEETCTL_ENDPOINT: server.url.replace('https:', 'http:'), FLEETCTL_DRIVER: 'etcd' }));
    const err = await rejection(api.listMachines());
    assert.match(err.message, /requires TLS: use https:\/\/127\.0\.0\.1:\d+ and set the CA file/);
    api.dispose();
  });

  it('https with FLEETCTL_CA_FILE, FLEETCTL_CERT_FILE and FLEETCTL_KEY_FILE connects; without the client certificate it is refused', async () => {
    const env = { FLEETCTL_ENDPOINT: server.url, FLEETCTL_DRIVER: 'etcd', FLEETCTL_CA_FILE: path.join(work, 'ca.pem') };
    const noCert = createFleetApi(envProfile(env));
    const err = await rejection(noCert.listMachines());
    assert.equal(err.kind, 'tls');
    noCert.dispose();
    const api = createFleetApi(envProfile({ ...env, FLEETCTL_CERT_FILE: path.join(work, 'client.pem'), FLEETCTL_KEY_FILE: path.join(work, 'client.key') }));
    // An empty etcd holds no fleet cluster: the connection works and says what is missing.
    const empty = await rejection(api.listMachines());
    assert.match(empty.message, /nothing is stored under the key prefix \/_coreos\.com\/fleet\//);
    api.dispose();
  });
});

describe(
  'the etcd driver through the SSH tunnel (FLEETCTL_TUNNEL), as fleetctl --driver=etcd --tunnel',
  { skip: skip || skipUnlessAvailable(...sshdAvailable()) },
  () => {
    let ssh: SshFixture;
    let server: EtcdServer;
    before(async () => {
      [ssh, server] = await Promise.all([useSshd(), EtcdServer.start()]);
    });
    after(async () => {
      await Promise.all([ssh?.stop(), server?.stop()]);
    });

    it("reaches etcd on the tunnel host's side and reads fleet's keys", async () => {
      // A fleet machine's presence as fleet's heart writes it (golden value).
      const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '../../registry/test/fixtures/fleet-v1.0.0-keyspace.json'), 'utf8'));
      const put = await fetch(`${server.url}/v2/keys/_coreos.com/fleet/${fx.fleetMachine.key}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ttl: '60', value: fx.fleetMachine.value }).toString(),
      });
      assert.equal(put.status, 201);
      const { profiles, problems } = resolveProfiles(
        [],
        {
          FLEETCTL_ENDPOINT: server.url,
          FLEETCTL_DRIVER: 'etcd',
          FLEETCTL_TUNNEL: `${ssh.host}:${ssh.port}`,
          FLEETCTL_SSH_USERNAME: ssh.user,
          FLEETCTL_KNOWN_HOSTS_FILE: ssh.knownHosts,
        },
        { home: os.tmpdir(), sshConfig: '' },
      );
      assert.deepEqual(problems, []);
      const api = createFleetApi(profiles[0]!, { env: { SSH_AUTH_SOCK: ssh.agentSocket } });
      try {
        assert.match(api.label, new RegExp(`^${ssh.user}@127\\.0\\.0\\.1:${ssh.port} → etcd ${server.url}$`));
        assert.deepEqual(
          (await api.listMachines()).map(m => [m.primaryIP, m.metadata]),
          [['127.0.0.11', { role: 'fleet' }]],
        );
      } finally {
        api.dispose();
      }
    });
  },
);
