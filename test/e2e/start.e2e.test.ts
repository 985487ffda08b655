/**
 * `npm start` (scripts/start.sh), the README's main job: it starts a three-machine local fleet
 * cluster, serves VS Code with the packaged extension (pointed at that cluster) on 127.0.0.1,
 * prints the URL of the samples workspace, refuses a busy PORT with a clear message, and Ctrl-C
 * stops every process it started. The test reuses the package that
 * `npm test` built (FLEET_START_SKIP_BUILD=1) and a temp dir for the profile (FLEET_START_DIR).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { httpGet } from '../support/fleetHttp';
import { groupAlive, spawnDetached, stopSpawned, tail, waitFor, type Spawned } from '../support/process';
import { ClusterWorkbench } from './clusterWorkbench';
import { withWorkbenchAt } from './workbench';

const START = path.join(ROOT, 'scripts', 'start.sh');
const needs: E2eNeeds = { parts: ['extension'], vsix: true };

function startScript(dir: string, env: NodeJS.ProcessEnv): Spawned {
  return spawnDetached('bash', [START], {
    logFile: path.join(dir, 'start.log'),
    cwd: ROOT,
    env: { ...process.env, FLEET_START_SKIP_BUILD: '1', FLEET_START_DIR: path.join(dir, 'state'), ...env },
  });
}

/**
 * The exit status of a spawned process, or 'timeout'. The timer is ref'd on purpose: the spawned
 * child is unref'd, so without it the event loop could drain while we wait.
 */
async function exitedWithin(run: Spawned, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([run.exited, new Promise<string>(r => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('npm start (scripts/start.sh)', { skip: e2eSkip(needs) }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-start-'));
  const started: Spawned[] = [];
  after(async () => {
    for (const s of started) await stopSpawned(s);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('serves the samples workspace with the extension, and Ctrl-C stops everything', { timeout: 240_000 }, async () => {
    assertE2eAvailable(needs);
    // No PORT: start.sh picks a free one once the local cluster runs (and another if it was taken meanwhile).
    const run = startScript(dir, { PORT: '' });
    started.push(run);
    const url = await waitFor('start.sh to print FLEET_START_URL', () => /^FLEET_START_URL=(\S+)$/m.exec(tail(run.logFile, 400))?.[1], {
      timeoutMs: 120_000,
      intervalMs: 200,
      abortIf: () => (run.hasExited() ? `start.sh exited:\n${tail(run.logFile)}` : undefined),
    });
    const parsed = new URL(url);
    assert.deepEqual([parsed.protocol, parsed.hostname, parsed.pathname], ['http:', '127.0.0.1', '/'], url);
    assert.equal(url, `http://127.0.0.1:${parsed.port}/?folder=${encodeURIComponent(path.join(ROOT, 'samples'))}`);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /workbench/i);
    // The extension from the package is installed in the fresh profile.
    const installed = fs.readdirSync(path.join(dir, 'state', 'extensions'));
    assert.ok(
      installed.some(name => name.startsWith('fleet-tools.vscode-fleet-')),
      `extensions: ${installed.join(', ')}`,
    );

    // The local cluster runs, and the fresh profile points the extension at it.
    const settings = JSON.parse(fs.readFileSync(path.join(dir, 'state', 'user-data', 'User', 'settings.json'), 'utf8'));
    // The local cluster's API is a unix socket only this user can use (issue 12).
    const clusterUrl = /local fleet cluster: (unix:\/\/\/\S+\/fleet\.sock)$/m.exec(tail(run.logFile, 400))?.[1];
    assert.ok(clusterUrl, `start.sh reports the local cluster's URL; log:\n${tail(run.logFile)}`);
    assert.equal(settings['fleet.clusters'], undefined, 'no profile: the extension adopts the running local cluster');
    // A quiet first hour: no offer to forward each unit's port, no parent-folder git prompt.
    assert.equal(settings['remote.autoForwardPorts'], false);
    assert.equal(settings['git.openRepositoryInParentFolders'], 'never');
    const machines = await waitFor(
      'three machines in the local cluster',
      async () => {
        const body = JSON.parse((await httpGet(clusterUrl, '/fleet/v1/machines')).text) as { machines?: unknown[] };
        return (body.machines?.length ?? 0) >= 3 && body.machines;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.equal(machines.length, 3);
    const clusterPgid = Number(fs.readFileSync(path.join(dir, 'state', 'cluster', 'fleetd.pgid'), 'utf8'));

    // The workbench really works: the samples are there and open as fleet units.
    await withWorkbenchAt(url, path.join(dir, 'state'), 'start', async wb => {
      await wb.explorerRow('broken.service').waitFor();
      await wb.quickOpen('nginx.1.service');
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      // The cluster start.sh started is the extension's local cluster (adopted): its logs work on it,
      // Select Cluster lists it once, and Stop Local Cluster stops it (checked below).
      const ui = new ClusterWorkbench(wb);
      await ui.waitForStatus(/Fleet: Local cluster \(3\/\d+\)/, 30_000);
      await ui.pickCommand('Fleet: Show Local Cluster Logs');
      await ui.waitForOutputText('adopted the local cluster', new RegExp(`adopted the local cluster at ${clusterUrl.replace(/[.]/g, '\\.')}`));
      await ui.waitForOutputText('API ready at', /fleetd: API ready at/);
      console.log(`screenshot: ${await wb.screenshot('start-adopted')}`);

      // Fleet: Select Cluster lists the adopted cluster once, and offers no second local cluster.
      const stepStarted = Date.now();
      await ui.pickCommand('Fleet: Focus on Units View');
      await ui.expandView('Machines');
      await ui.expandView('Units');
      await ui.waitForRows('Machines', "the adopted cluster's three machines", rows => rows.length === 3, 15_000);
      await ui.pickCommand('Fleet: Select Cluster');
      const rows = await ui.quickPickRows('Fleet: Select Cluster');
      console.log(`screenshot: ${await wb.screenshot('start-adopted-select-cluster')}`);
      await wb.page.keyboard.press('Escape');
      assert.equal(rows.filter(r => /Local cluster/i.test(r)).length, 1, `Select Cluster's rows: ${JSON.stringify(rows)}`);
      assert.equal(rows.filter(r => r.includes(clusterUrl)).length, 1, `Select Cluster's rows: ${JSON.stringify(rows)}`);
      assert.ok(!rows.some(r => /Start Local Cluster/.test(r)), `no offer to start a second local cluster: ${JSON.stringify(rows)}`);

      // Fleet: Stop Local Cluster stops the adopted cluster: its processes go, and the views say so.
      await ui.pickCommand('Fleet: Stop Local Cluster');
      await waitFor('the adopted cluster to stop', () => !groupAlive(clusterPgid), { timeoutMs: 30_000, intervalMs: 100 });
      await ui.waitForStatus(/Fleet: no cluster/, 15_000);
      await ui.waitForWelcome('Machines', /Not connected to a fleet cluster/, 15_000);
      assert.deepEqual(await ui.treeRows('Machines'), [], 'no machine rows once the cluster stopped');
      await ui.waitForWelcome('Units', /Units appear here once a cluster is connected/, 15_000);
      console.log(`screenshot: ${await wb.screenshot('start-adopted-stopped')} (select + stop in ${Date.now() - stepStarted} ms)`);
    });

    const pgid = Number(fs.readFileSync(path.join(dir, 'state', 'code-server.pgid'), 'utf8'));
    assert.ok(groupAlive(pgid), 'code-server runs in its own process group');
    process.kill(run.pid, 'SIGINT');
    const code = await exitedWithin(run, 30_000);
    assert.equal(code, 130, `start.sh exit status after Ctrl-C; log:\n${tail(run.logFile)}`);
    assert.equal(groupAlive(pgid), false, 'no process of code-server is left');
    assert.equal(groupAlive(run.pid), false, 'no process of start.sh is left');
    assert.equal(groupAlive(clusterPgid), false, 'no process of the local cluster is left');
  });

  test('a busy PORT is refused with a message that says what to do', { timeout: 60_000 }, async () => {
    const busy = net.createServer();
    await new Promise<void>(r => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const run = startScript(dir, { PORT: String(port) });
      started.push(run);
      const code = await exitedWithin(run, 50_000);
      assert.equal(code, 1);
      assert.match(tail(run.logFile), new RegExp(`port ${port} on 127.0.0.1 is in use; pick another PORT or leave it unset`));
    } finally {
      busy.close();
    }
  });

  test('a PORT taken while the cluster starts is reported, and the cluster is stopped', { timeout: 120_000 }, async () => {
    assertE2eAvailable(needs);
    const free = net.createServer();
    await new Promise<void>(r => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise(r => free.close(r));
    const stateDir = path.join(dir, 'taken');
    const run = spawnDetached('bash', [START], {
      logFile: path.join(dir, 'taken.log'),
      cwd: ROOT,
      env: { ...process.env, FLEET_START_SKIP_BUILD: '1', FLEET_START_DIR: stateDir, PORT: String(port) },
    });
    started.push(run);
    // Once the script has found the port free and is starting the cluster, someone else takes it.
    await waitFor('start.sh to start the local cluster', () => /starting a local fleet cluster/.test(tail(run.logFile, 50)), {
      timeoutMs: 60_000,
      intervalMs: 50,
      abortIf: () => (run.hasExited() ? `start.sh exited:\n${tail(run.logFile)}` : undefined),
    });
    const taker = net.createServer();
    await new Promise<void>(r => taker.listen(port, '127.0.0.1', r));
    try {
      const code = await exitedWithin(run, 100_000);
      assert.equal(code, 1, tail(run.logFile));
      assert.match(tail(run.logFile), new RegExp(`port ${port} on 127.0.0.1 was taken while the cluster started; pick another PORT or leave it unset`));
      const clusterPgid = Number(fs.readFileSync(path.join(stateDir, 'cluster', 'fleetd.pgid'), 'utf8'));
      assert.equal(groupAlive(clusterPgid), false, 'no process of the local cluster is left');
    } finally {
      taker.close();
    }
  });

  test('a PORT that is not a number is refused', { timeout: 60_000 }, async () => {
    const out = await new Promise<{ code: number | null; text: string }>(resolve => {
      const child = spawn('bash', [START], {
        cwd: ROOT,
        env: { ...process.env, PORT: 'eighty', FLEET_START_SKIP_BUILD: '1', FLEET_START_DIR: path.join(dir, 'state3') },
      });
      let text = '';
      child.stdout.on('data', d => (text += d));
      child.stderr.on('data', d => (text += d));
      child.on('exit', code => resolve({ code, text }));
    });
    assert.equal(out.code, 1);
    assert.match(out.text, /PORT must be a TCP port number \(got 'eighty'\)/);
  });
});
