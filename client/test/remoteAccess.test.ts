/**
 * RemoteAccess, the decisions behind Show Journal, Show Unit Status and Open Shell on Machine,
 * as the article's user runs them: a cluster profile from `fleet.clusters` whose fleet API is a
 * unix socket reached through the bastion (real sshd on 127.0.0.10, ssh-agent), and machines
 * (real sshds on 127.0.0.11/.12) that the fleet API advertises by PublicIP. The fleet API is
 * the fake HTTP fleet server: without fleetd's journal extension (404, a real fleet) the
 * journal and status come from the machine over SSH; with it (fleetd), no SSH is dialled.
 * `journalctl`/`systemctl` on the machines STAND IN FOR systemd (test/support/fleetHosts.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FleetApi } from '../src/api/types';
import { LineSplitter, RemoteAccess, remoteSettingsFrom, type RemoteSettings } from '../src/cluster/remoteAccess';
import { RemoteTargetError } from '../src/cluster/remoteTargets';
import { createFleetApi } from '../src/connection/connect';
import { resolveProfiles, type ClusterProfile } from '../src/connection/profile';
import { waitFor } from '../../test/support/process';
import { skipUnlessAvailable } from '../../test/support/requirements';
import { sshdBinaries } from '../../test/support/sshd';
import { startFleetHosts, type FleetHosts } from '../../test/support/fleetHosts';
import { FakeFleetServer, sendError } from './fleetApiServer.test';

const skip = skipUnlessAvailable(...sshdBinaries());

const M1 = 'a1'.padEnd(32, '1');
const M2 = 'b2'.padEnd(32, '2');

describe('LineSplitter and fleet.ssh settings', () => {
  it('splits pty output into lines without carriage returns, holding back a partial line', () => {
    const lines: string[] = [];
    const s = new LineSplitter(l => lines.push(l));
    s.push('one\r\ntw');
    s.push(Buffer.from('o\r\n\r\nthree'));
    assert.deepEqual(lines, ['one', 'two', '']);
    s.flush();
    assert.deepEqual(lines, ['one', 'two', '', 'three']);
  });

  it("normalises the settings to fleetctl's defaults", () => {
    assert.deepEqual(remoteSettingsFrom({}), { sshPort: 22, sudo: false, forwardAgent: false, journalLines: 50 });
    assert.deepEqual(remoteSettingsFrom({ port: 2222, sudo: true, forwardAgent: true, journalLines: 10 }), {
      sshPort: 2222,
      sudo: true,
      forwardAgent: true,
      journalLines: 10,
    });
    assert.deepEqual(remoteSettingsFrom({ port: 0, sudo: 'yes', journalLines: -1 }), { sshPort: 22, sudo: false, forwardAgent: false, journalLines: 50 });
  });
});

describe('RemoteAccess through a bastion profile (real sshds)', { skip }, () => {
  let hosts: FleetHosts;
  let work: string;
  let fleet: FakeFleetServer;
  let fleetd: FakeFleetServer;
  let profile: ClusterProfile;
  let api: FleetApi;
  let settings: RemoteSettings;
  const asked: string[] = [];
  const disposables: Array<{ dispose(): void }> = [];

  const access = (a: () => FleetApi | undefined = () => api, p: () => ClusterProfile | undefined = () => profile) =>
    new RemoteAccess({
      api: a,
      profile: p,
      settings: () => settings,
      confirmUnknownHost: async host => (asked.push(host), true),
      env: { SSH_AUTH_SOCK: hosts.agentSocket },
    });

  before(async () => {
    hosts = await startFleetHosts(2);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-access-'));
    const units = [
      {
        name: 'hello.service',
        desiredState: 'launched' as const,
        currentState: 'launched' as const,
        machineID: M2,
        options: [{ section: 'Service', name: 'ExecStart', value: '/usr/bin/hello' }],
      },
      { name: 'broken-failed.service', desiredState: 'launched' as const, currentState: 'launched' as const, machineID: M1, options: [] },
    ];
    const machines = [
      { id: M1, primaryIP: '127.0.0.11' },
      { id: M2, primaryIP: '127.0.0.12' },
    ];
    // A real fleet: no journal extension.
    fleet = new FakeFleetServer({
      units,
      machines,
      override: (req, res) => (req.url?.includes('/journal/') ? (sendError(res, 404, 'not found'), true) : false),
    });
    const socket = path.join(work, 'fleet.sock');
    await fleet.listen({ path: socket });
    fleetd = new FakeFleetServer({ units, machines, journal: [{ time: 0, machineID: M2, stream: 'stdout', text: 'from fleetd' }] });
    await fleetd.listen({ path: path.join(work, 'fleetd.sock') });
    // The article's profile, as the wizard writes it; the known_hosts file starts empty.
    const { profiles, problems } = resolveProfiles(
      [
        {
          name: 'article',
          endpoint: `unix://${socket}`,
          tunnel: `127.0.0.10:${hosts.port}`,
          sshUser: hosts.user,
          knownHostsFile: path.join(work, 'fleetctl', 'known_hosts'),
          sshTimeout: 5,
        },
      ],
      {},
      { home: work, sshConfig: '' },
    );
    assert.deepEqual(problems, []);
    profile = profiles[0]!;
    api = createFleetApi(profile, { confirmUnknownHost: async host => (asked.push(host), true), env: { SSH_AUTH_SOCK: hosts.agentSocket } });
    disposables.push(api);
    settings = { sshPort: hosts.port, sudo: false, forwardAgent: false, journalLines: 10 };
  });
  after(async () => {
    for (const d of disposables) d.dispose();
    await fleet?.close();
    await fleetd?.close();
    await hosts?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("detects a real fleet (no journal API) and follows the journal on the unit's machine through the bastion until stopped", async () => {
    const remote = access();
    assert.equal(await remote.hasJournalApi(api, 'hello.service'), false);
    const lines: string[] = [];
    const abort = new AbortController();
    const result = await remote.followJournal(
      'hello',
      line => {
        lines.push(line);
        if (line.endsWith('tick 2')) abort.abort();
      },
      abort.signal,
    );
    assert.equal(result.stopped, true);
    assert.equal(result.target.label, `machine b2222222 (127.0.0.12)`);
    assert.deepEqual(lines.slice(0, 4), [
      '-- Logs begin at Mon 2026-12-07 04:00:00 UTC. --',
      'Dec 07 04:00:01 machine2 systemd[1]: Started Hello.',
      'Dec 07 04:00:02 machine2 hello[42]: Hello from machine2',
      'Dec 07 04:00:03 machine2 hello[42]: tick 1',
    ]);
    const m2 = hosts.machines[1]!;
    assert.equal(m2.sessions().at(-1)!.command, 'journalctl "--unit" "hello.service" "--no-pager" "-n" "10" "--output" "short" "-f"');
    await waitFor('no journalctl left on machine2', () => m2.runningJournalctl().length === 0, { timeoutMs: 5_000 });
    // Trust on first use asked once for the bastion (API tunnel) and once for the machine.
    assert.deepEqual(asked, [`[127.0.0.10]:${hosts.port}`, `[127.0.0.12]:${hosts.port}`]);
    assert.equal(hosts.machines[0]!.sessions().length, 0, 'nothing ran on machine1');
  });

  it('runs journalctl with sudo when fleet.ssh.sudo is set', async () => {
    settings = { ...settings, sudo: true };
    try {
      const abort = new AbortController();
      await access().followJournal('hello.service', line => line.endsWith('tick 1') && abort.abort(), abort.signal);
      assert.match(
        hosts.machines[1]!.argv()
          .filter(l => l.startsWith('sudo'))
          .at(-1)!,
        /^sudo <journalctl> <--unit> <hello.service> <--no-pager> <-n> <10> <--output> <short> <-f> pid=\d+$/,
      );
    } finally {
      settings = { ...settings, sudo: false };
    }
  });

  it("runs fleetctl status on the unit's machine and returns its output and exit status", async () => {
    const ok = await access().status('hello.service');
    assert.equal(ok.commandLine, 'systemctl "status" "-l" "hello.service"');
    assert.equal(ok.exitCode, 0);
    assert.match(ok.output, /^● hello.service - Hello\n[\s\S]*Active: active \(running\) on machine2\n/);
    const failed = await access().status('broken-failed.service');
    assert.equal(failed.exitCode, 3);
    assert.match(failed.output, /Active: failed \(Result: exit-code\) on machine1/);
    await assert.rejects(access().status('nope.service'), (e: Error) => e instanceof RemoteTargetError && /nope.service does not exist/.test(e.message));
  });

  it('opens a shell on a machine by ID, forwarding the agent only when fleet.ssh.forwardAgent is set', async () => {
    for (const forwardAgent of [false, true]) {
      settings = { ...settings, forwardAgent };
      const remote = access();
      const shell = await remote.openShell(await remote.machine(M1), { cols: 90, rows: 20 });
      let out = '';
      shell.channel.on('data', (c: Buffer) => (out += c.toString()));
      shell.channel.write('stty size; echo "agent=[${SSH_AUTH_SOCK:-none}]"; exit 7\n');
      assert.equal(await shell.exited, 7);
      assert.match(out, /20 90/);
      if (forwardAgent) assert.match(out, /agent=\[\/tmp\//);
      else assert.match(out, /agent=\[none\]/);
    }
    settings = { ...settings, forwardAgent: false };
    await assert.rejects(access().machine('ff'.padEnd(32, 'f')), /Machine ffffffff is not in/);
  });

  it('leaves a fleetd cluster to its journal API and never dials SSH; without a profile there is no SSH to use', async () => {
    const viaFleetd = createFleetApi({ ...profile, endpoint: `unix://${path.join(work, 'fleetd.sock')}` }, { env: { SSH_AUTH_SOCK: hosts.agentSocket } });
    disposables.push(viaFleetd);
    const before = hosts.machines.map(m => m.sessions().length);
    assert.equal(await access(() => viaFleetd).hasJournalApi(viaFleetd, 'hello.service'), true);
    assert.deepEqual(
      hosts.machines.map(m => m.sessions().length),
      before,
    );
    // The local cluster (no profile) is fleetd: the journal API, and a clear refusal for SSH.
    const local = access(
      () => viaFleetd,
      () => undefined,
    );
    assert.equal(await local.hasJournalApi(viaFleetd, 'hello.service'), true);
    await assert.rejects(local.status('hello.service'), /not reached through a cluster profile, so there is no SSH user or key/);
    await assert.rejects(access(() => undefined).status('hello.service'), /Not connected to a fleet cluster/);
  });
});
