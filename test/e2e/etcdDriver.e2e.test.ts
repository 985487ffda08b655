/**
 * The article's workflow in a real VS Code (code-server + Debian chromium): a fleet cluster
 * reached through its etcd (`FLEETCTL_ENDPOINT=http://<etcd>:…` with `FLEETCTL_DRIVER=etcd`), here
 * `fleetd local --etcd-api v2`, which keeps fleet v1.0's own keyspace. VS Code starts with only
 * those variables set; the explorer shows the cluster's machines and a unit submitted through the
 * cluster's HTTP API, Start from the editor title runs nginx.1 on a machine, the Units view
 * follows it, and completion offers the live machine IDs after `MachineID=`. Every state is
 * cross-checked against fleet's keys in etcd, as fleetctl --driver=etcd reads them.
 * Screenshots: out/e2e-artifacts/etcd-driver-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, ROOT, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { withWorkbench, type Workbench } from './workbench';
import { ClusterWorkbench, readCluster } from './clusterWorkbench';
import { freePorts } from '../support/ports';
import { FleetdLocal, requireBinary, waitFor } from '../support';

const needs: E2eNeeds = { parts: ['extension', 'server'], vsix: true };
const UNIT = 'nginx.1.service';
const TIMEOUT = 60_000;
const short = (id: string) => id.slice(0, 8);

/** fleet's currentState of a unit from its keys in etcd (fleet's determineJobState), as fleetctl reads it. */
async function currentState(etcd: string, name: string): Promise<{ state: string; machine?: string }> {
  const get = async (key: string) => {
    const res = await fetch(`${etcd}/v2/keys/_coreos.com/fleet/${key}?quorum=true`);
    return res.status === 200 ? ((await res.json()) as { node: { value?: string } }).node.value : undefined;
  };
  const target = await get(`job/${name}/target`);
  if (!target || (await get(`states/${name}/${target}`)) === undefined) return { state: 'inactive' };
  return { state: (await get(`job/${name}/job-state`)) === target ? 'launched' : 'loaded', machine: target };
}

describe("the article's FLEETCTL_ENDPOINT workflow: a cluster through its etcd, in a real VS Code", { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let cluster: FleetdLocal | undefined;
  let workspace = '';
  let port = 0;

  before(
    async () => {
      assertE2eAvailable(needs);
      cluster = await FleetdLocal.start([
        '--machines',
        '3',
        '--etcd-binary',
        requireBinary('etcd', 'etcd-server'),
        '--etcd-api',
        'v2',
        '--agent-reconcile-interval',
        '1',
      ]);
      assert.ok(cluster.etcd, `fleetd names its etcd:\n${cluster.output()}`);
      cs = await CodeServer.start({
        vsix: [VSIX],
        settings: { 'git.enabled': false, 'remote.autoForwardPorts': false, 'fleet.explorer.groupBy': 'flat', 'fleet.explorer.sortBy': 'name' },
        env: { FLEETCTL_ENDPOINT: cluster.etcd, FLEETCTL_DRIVER: 'etcd' },
      });
      workspace = path.join(cs.dir, 'samples');
      fs.cpSync(path.join(ROOT, 'samples'), workspace, { recursive: true });
      port = (await freePorts(1))[0]!;
      const file = path.join(workspace, UNIT);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/http\.server \d+ /, `http.server ${port} `));
      fs.writeFileSync(path.join(workspace, 'pinned.service'), '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\n');
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await cs?.stop();
    await cluster?.stop();
  });

  test('explorer, Start from the editor and live completion over the etcd driver', { timeout: 180_000 }, async () => {
    const etcd = cluster!.etcd!;
    // Something already in the cluster, submitted through its HTTP API (another user, another tool).
    const put = await fetch(`${cluster!.api}/fleet/v1/units/other.service`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ desiredState: 'inactive', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }] }),
    });
    assert.equal(put.status, 201);
    await withWorkbench(cs!, 'etcd-driver', { folder: workspace, waitForFile: UNIT }, async (wb: Workbench) => {
      const ui = new ClusterWorkbench(wb);
      await wb.quickOpen(UNIT);
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      await ui.waitForStatus(/Fleet: FLEETCTL environment \(3\/\d+\)/, TIMEOUT);
      await ui.pickCommand('Fleet: Focus on Units View');
      await ui.expandView('Machines');
      await ui.expandView('Units');
      await ui.widenSideBar(640);
      const api = await readCluster(cluster!.api);
      const machineRows = await ui.waitForRows('Machines', 'the three machines read from etcd', rows => rows.length === 3);
      for (const m of api.machines)
        assert.ok(
          machineRows.some(r => r.label === `${short(m.id)} ${m.primaryIP}`),
          `machine ${short(m.id)} listed: ${machineRows.map(r => r.label).join(', ')}`,
        );
      await ui.waitForRows('Units', 'the unit submitted through the API', rows =>
        rows.some(r => r.label === 'other.service' && r.description.startsWith('inactive')),
      );

      // Start from the editor title: the etcd driver writes fleet's keys; fleetd's engine and agent run it.
      await ui.editorTitleAction('Start Unit');
      await ui.waitForNotification(/nginx\.1\.service.*launched/i, TIMEOUT);
      const placed = await waitFor(
        "nginx.1 launched per fleet's keys in etcd",
        async () => {
          const s = await currentState(etcd, UNIT);
          return s.state === 'launched' && s.machine;
        },
        { timeoutMs: TIMEOUT, intervalMs: 250 },
      );
      await ui.waitForRows(
        'Units',
        'nginx.1 launched and running on its machine',
        rows =>
          rows.some(
            r =>
              r.label === UNIT &&
              r.description.startsWith('launched · ') &&
              r.description.includes(short(placed)) &&
              r.description.endsWith('active (running)'),
          ),
        TIMEOUT,
      );
      await waitFor(
        `nginx.1 to answer HTTP on port ${port}`,
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) })).ok;
          } catch {
            return false;
          }
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      await ui.clearNotifications();
      console.log(`screenshot: ${await wb.screenshot('etcd-driver-1-running')}`);

      // Cluster-aware completion: the live machines after MachineID= (read through the etcd driver).
      await wb.quickOpen('pinned.service');
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      await wb.goTo(5, 1);
      await wb.page.keyboard.type('MachineID=');
      const first = await wb.triggerSuggest(short(api.machines[0]!.id));
      const labels = await wb.suggestLabels();
      for (const m of api.machines)
        assert.ok(
          labels.some(l => l.startsWith(short(m.id))),
          `completion offers machine ${short(m.id)}: ${labels.join(', ')}`,
        );
      console.log(`screenshot: ${await wb.screenshot('etcd-driver-2-completion')}`);
      await first.click();
      await wb.waitForEditorText('the machine ID inserted', t => t.includes(`MachineID=${api.machines[0]!.id}`));
    });
  });
});
