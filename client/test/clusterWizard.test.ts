/**
 * The Add/Edit Cluster wizard (connection/clusterWizard.ts, clusterWizardFlow.ts) with a
 * scripted UI: the order of the questions, `user@host:port`, the entry it writes, editing, and
 * the article's bastion profile tested for real (a real sshd bastion on 127.0.0.10 with a real
 * ssh-agent, fleet's API on a unix socket behind it). Without sshd, the real-connection cases
 * skip loudly (fail under CI=true).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answersFromEntry, entryFromAnswers, splitTunnelInput, upsertEntry } from '../src/connection/clusterWizard';
import { CHANGE_ANSWER, CONNECT_NOW, runClusterWizard, SAVE_ONLY, testClusterEntry, type WizardDeps, type WizardUi } from '../src/connection/clusterWizardFlow';
import { skipUnlessAvailable } from '../../test/support/requirements';
import { sshdBinaries } from '../../test/support/sshd';
import { startFleetHosts, type FleetHosts } from '../../test/support/fleetHosts';
import { FakeFleetServer } from './fleetApiServer.test';

type Call = { kind: string; step: string; text: string; value?: unknown; items?: unknown[] };

/** A UI that answers from a script and records every question. */
function scriptedUi(script: unknown[]): { ui: WizardUi; calls: Call[] } {
  const calls: Call[] = [];
  const next = (call: Call) => {
    calls.push(call);
    assert.ok(script.length > 0, `unexpected question: ${call.kind} ${call.text}`);
    const answer = script.shift();
    return typeof answer === 'function' ? (answer as (c: Call) => unknown)(call) : answer;
  };
  const ui: WizardUi = {
    input: async o => {
      const answer = next({ kind: 'input', step: o.step, text: o.prompt, value: o.value }) as string | undefined;
      if (answer !== undefined) assert.equal(o.validate(answer), undefined, `the wizard accepts ${answer} for "${o.prompt}"`);
      return answer;
    },
    pick: async o => next({ kind: 'pick', step: o.step, text: o.placeholder, value: o.active, items: o.items.map(i => i.value) }) as never,
    pickFile: async o => next({ kind: 'file', step: o.step, text: 'file', value: o.current }) as string | undefined,
    progress: async (_title, task) => task(),
    ask: async o => next({ kind: o.kind, step: '', text: o.message }) as string | undefined,
  };
  return { ui, calls };
}

describe('wizard answers and entries', () => {
  it("splits user@host:port into the user and fleetctl's --tunnel value", () => {
    assert.deepEqual(splitTunnelInput('core@bastion.example.com:2222'), { user: 'core', tunnel: 'bastion.example.com:2222' });
    assert.deepEqual(splitTunnelInput('bastion.example.com'), { tunnel: 'bastion.example.com' });
    assert.deepEqual(splitTunnelInput('admin@[fd00::1]:22'), { user: 'admin', tunnel: '[fd00::1]:22' });
    assert.deepEqual(splitTunnelInput(' '), { tunnel: '' });
    assert.match((splitTunnelInput('@host') as { error: string }).error, /is not a user name; write user@host:port/);
    assert.match((splitTunnelInput('core@host:99999') as { error: string }).error, /not a port/);
  });

  it("writes only what differs from fleetctl's defaults, keeps fields it does not ask about, and reads an entry back", () => {
    const base = { name: 'old', endpoint: 'http://10.0.0.1:49153', requestTimeout: 3, caFile: '~/ca.pem' };
    const answers = answersFromEntry(base, {});
    assert.equal(answers.reach, 'api');
    assert.equal(answers.address, 'http://10.0.0.1:49153');
    assert.equal(answers.auth, 'agent');
    const entry = entryFromAnswers(
      { ...answers, name: 'prod', reach: 'unix', address: '/var/run/fleet.sock', tunnel: 'bastion:22', sshUser: 'core', knownHosts: 'off' },
      base,
    );
    assert.deepEqual(entry, {
      name: 'prod',
      endpoint: 'unix:///var/run/fleet.sock',
      requestTimeout: 3,
      caFile: '~/ca.pem',
      tunnel: 'bastion:22',
      sshUser: 'core',
      strictHostKeyChecking: false,
    });
    assert.deepEqual(answersFromEntry(entry, {}), {
      ...answers,
      name: 'prod',
      reach: 'unix',
      address: '/var/run/fleet.sock',
      tunnel: 'bastion:22',
      sshUser: 'core',
      knownHosts: 'off',
    });
    assert.deepEqual(upsertEntry([{ name: 'a' }, { name: 'old' }, 'junk'], entry, 'old'), [{ name: 'a' }, entry, 'junk']);
    assert.deepEqual(upsertEntry([{ name: 'a' }], entry), [{ name: 'a' }, entry]);
  });

  it("asks in the issue's order, offers the identity file picker when there is no ssh-agent, and saves without connecting", async () => {
    const saved: unknown[][] = [];
    const connected: string[] = [];
    const { ui, calls } = scriptedUi([
      'lab',
      'api',
      'http://10.0.0.5:49153',
      'admin@jump.example.com:2200',
      'admin',
      '/home/me/.ssh/id_ed25519',
      'strict',
      SAVE_ONLY,
    ]);
    const outcome = await runClusterWizard({
      ui,
      env: {},
      clusters: [{ name: 'prod', endpoint: 'unix:///var/run/fleet.sock' }],
      takenNames: ['prod'],
      test: async () => ({ ok: true, message: 'Connected: 3 machines, 0 units.' }),
      save: async list => void saved.push(list),
      connect: async name => void connected.push(name),
    });
    assert.deepEqual(
      calls.map(c => c.kind),
      ['input', 'pick', 'input', 'input', 'input', 'file', 'pick', 'info'],
    );
    assert.match(calls[5]!.step, /no ssh-agent: SSH_AUTH_SOCK is not set/);
    assert.equal(calls[4]!.value, 'admin', 'the user from user@host is the default of the SSH user question');
    assert.deepEqual(outcome.saved && outcome.entry, {
      name: 'lab',
      endpoint: 'http://10.0.0.5:49153',
      tunnel: 'jump.example.com:2200',
      sshUser: 'admin',
      identityFile: '/home/me/.ssh/id_ed25519',
    });
    assert.equal(saved[0]!.length, 2);
    assert.deepEqual(connected, [], 'Save without connecting never switches the active cluster');
  });

  it('cancelling at any question saves nothing', async () => {
    let saves = 0;
    const { ui } = scriptedUi(['x', undefined]);
    const outcome = await runClusterWizard({
      ui,
      env: {},
      clusters: [],
      takenNames: [],
      test: async () => assert.fail('no test'),
      save: async () => void saves++,
      connect: async () => undefined,
    });
    assert.deepEqual(outcome, { saved: false });
    assert.equal(saves, 0);
  });
});

describe("Add Cluster for the article's bastion, tested for real", { skip: skipUnlessAvailable(...sshdBinaries()) }, () => {
  let hosts: FleetHosts;
  let work: string;
  let socket: string;
  let fleet: FakeFleetServer;

  before(async () => {
    hosts = await startFleetHosts(1);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-wizard-'));
    socket = path.join(work, 'fleet.sock');
    fleet = new FakeFleetServer({ machines: [{ id: 'a'.repeat(32), primaryIP: '127.0.0.11' }], units: [{ name: 'hello.service', desiredState: 'launched' }] });
    await fleet.listen({ path: socket });
  });
  after(async () => {
    await fleet?.close();
    await hosts?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const deps = (ui: WizardUi, out: { saved: unknown[][]; connected: string[]; prompts: string[] }, clusters: unknown[] = []): WizardDeps => {
    const env = { SSH_AUTH_SOCK: hosts.agentSocket };
    return {
      ui,
      env,
      clusters,
      takenNames: clusters.map(c => (c as { name: string }).name),
      test: entry => testClusterEntry(entry, env, { confirmUnknownHost: async host => (out.prompts.push(host), true) }, { home: work, sshConfig: '' }),
      save: async list => void out.saved.push(list),
      connect: async name => void out.connected.push(name),
    };
  };

  it('a failed test keeps the answers; fixing the one wrong field, testing again and "Connect now" saves and connects', async () => {
    const out = { saved: [] as unknown[][], connected: [] as string[], prompts: [] as string[] };
    const knownHosts = path.join(work, 'known_hosts');
    const wrong = `${hosts.user}@127.0.0.10:${hosts.port + 1}`;
    const { ui, calls } = scriptedUi([
      'article',
      'unix',
      socket,
      wrong,
      hosts.user,
      'agent',
      'strict-file',
      knownHosts,
      CHANGE_ANSWER,
      'tunnel',
      `${hosts.user}@127.0.0.10:${hosts.port}`,
      CONNECT_NOW,
    ]);
    const outcome = await runClusterWizard(deps(ui, out));
    const failure = calls.find(c => c.kind === 'error')!;
    assert.match(failure.text, /The connection test for "article" failed: .*connection refused/i);
    const fix = calls.find(c => c.kind === 'pick' && c.step === 'fix')!;
    assert.deepEqual(fix.items, ['name', 'reach', 'address', 'tunnel', 'user', 'auth', 'knownHosts']);
    const reasked = calls[calls.indexOf(fix) + 1]!;
    assert.equal(reasked.value, wrong, 'the tunnel question shows the failed answer to fix');
    assert.match(
      calls.at(-1)!.text,
      /^Connected to root@127\.0\.0\.10:\d+ → unix:\/\/.*fleet\.sock: 1 machine, 1 unit\. Save "article"\?$|^Connected to .*: 1 machine, 1 unit\./,
    );
    assert.ok(outcome.saved);
    assert.deepEqual(outcome.entry, {
      name: 'article',
      endpoint: `unix://${socket}`,
      tunnel: `127.0.0.10:${hosts.port}`,
      sshUser: hosts.user,
      knownHostsFile: knownHosts,
    });
    assert.deepEqual(out.connected, ['article']);
    assert.deepEqual(out.prompts, [`[127.0.0.10]:${hosts.port}`], 'trust on first use for the bastion during the test');
    assert.match(fs.readFileSync(knownHosts, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.10\\]:${hosts.port} ssh-ed25519 `));
  });

  it('a changed host key fails the test with the reason; Edit Cluster starts from the saved values and can rename', async () => {
    const knownHosts = path.join(work, 'known_hosts.bad');
    fs.writeFileSync(knownHosts, `${hosts.machines[0]!.knownHostsLine.replace('127.0.0.11', '127.0.0.10')}\n`);
    const saved = {
      name: 'article',
      endpoint: `unix://${socket}`,
      tunnel: `127.0.0.10:${hosts.port}`,
      sshUser: hosts.user,
      knownHostsFile: knownHosts,
      sshTimeout: 4,
    };
    const out = { saved: [] as unknown[][], connected: [] as string[], prompts: [] as string[] };
    const keep = (c: Call) => c.value;
    const { ui, calls } = scriptedUi(['renamed', keep, keep, keep, keep, keep, keep, keep, undefined]);
    const outcome = await runClusterWizard(deps(ui, out, [saved]), { name: 'article', entry: saved });
    assert.deepEqual(
      calls.slice(0, 8).map(c => c.value),
      ['article', 'unix', socket, `${hosts.user}@127.0.0.10:${hosts.port}`, hosts.user, 'agent', 'strict-file', knownHosts],
    );
    assert.match(calls.at(-1)!.text, /REMOTE HOST IDENTIFICATION HAS CHANGED for \[127\.0\.0\.10\]/);
    assert.deepEqual(outcome, { saved: false }, 'dismissing the failure saves nothing');

    const again = scriptedUi(['renamed', keep, keep, keep, keep, keep, 'strict', SAVE_ONLY]);
    const renamed: Array<{ from: string; to: string } | undefined> = [];
    const d = deps(again.ui, out, [{ name: 'other', endpoint: 'http://x:1' }, saved]);
    const result = await runClusterWizard({ ...d, save: async (list, r) => void (out.saved.push(list), renamed.push(r)) }, { name: 'article', entry: saved });
    assert.ok(result.saved);
    assert.deepEqual(out.saved.at(-1), [
      { name: 'other', endpoint: 'http://x:1' },
      { name: 'renamed', endpoint: `unix://${socket}`, tunnel: `127.0.0.10:${hosts.port}`, sshUser: hosts.user, sshTimeout: 4 },
    ]);
    assert.deepEqual(renamed, [{ from: 'article', to: 'renamed' }]);
    assert.deepEqual(out.connected, []);
  });
});
