/**
 * The cluster UI's vscode adapters, run in Node against a small stand-in for the `vscode`
 * module (enough of window/workspace/commands to record what the UI shows) and a real fleetd in
 * this process: registerClusterFeatures connects to the configured cluster, the trees render
 * the snapshot, the commands start/stop/destroy units from files and tree nodes, the language
 * server gets `fleet/clusterContext`, and the local cluster command launches a (fake) bundled
 * fleetd and stops its process group. The real-VS-Code run of the same journeys lives in
 * test/vscode/suite and test/e2e.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiServer, type ApiServer } from '../../fleetd/src/api';
import { startAgent, type RunningAgent } from '../../fleetd/src/agent';
import { startEngine, type Engine } from '../../fleetd/src/engine';
import { MemoryRegistry } from '../../fleetd/src/registry/memoryRegistry';
import {
  Uri,
  ThemeIcon,
  TabInputTextDiff,
  tabs,
  ui,
  config,
  commands,
  contentProviders,
  treeViews,
  visibleEditors,
  outputs,
  requests,
  token,
  vscodeStub,
  stubState,
} from './support/vscodeStub';
import { waitFor } from '../../test/support/wait';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { registerClusterFeatures } = require('../src/features') as typeof import('../src/features');

// ---------------------------------------------------------------------------------------------

const samples = path.join(__dirname, '..', '..', 'media', 'samples');
const MACHINES: { id: string; publicIP: string; metadata: Record<string, string> }[] = [
  { id: '1'.repeat(32), publicIP: '127.0.0.21', metadata: { region: 'us-east' } },
  { id: '2'.repeat(32), publicIP: '127.0.0.22', metadata: { region: 'us-west' } },
  { id: '3'.repeat(32), publicIP: '127.0.0.23', metadata: { region: 'eu-central' } },
];

function labels(viewId: string, parent?: unknown): string[] {
  const view = treeViews.get(viewId)!;
  return view.provider.getChildren(parent).map(n => view.provider.getTreeItem(n).label);
}

describe('cluster UI adapters (stub vscode, in-process fleetd)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-ui-'));
  const registry = new MemoryRegistry();
  let server: ApiServer;
  let engine: Engine;
  const agents: RunningAgent[] = [];
  const notifications: { method: string; params: unknown }[] = [];
  let features: ReturnType<typeof registerClusterFeatures>;
  const quiet = () => undefined;

  const runtimeDir = process.env['FLEETD_RUNTIME_DIR'];

  before(async () => {
    // A local cluster someone else runs on this machine is not this test's to adopt.
    process.env['FLEETD_RUNTIME_DIR'] = path.join(root, 'fleetd-run');
    server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
    engine = await startEngine({ registry, machineId: MACHINES[0]!.id, intervalMs: 100, log: quiet });
    for (const machine of MACHINES)
      agents.push(
        await startAgent({
          registry,
          machine,
          stateDir: path.join(root, machine.id.slice(0, 4)),
          intervalMs: 100,
          ttlMs: 5000,
          journal: { host: '127.0.0.1', port: 0 },
          log: quiet,
        }),
      );
    config.set('fleet.clusters', [{ name: 'test', endpoint: server.urls[0] }]);
    config.set('fleet.activeCluster', 'test');
    config.set('fleet.explorer.refreshIntervalSeconds', 1);
    config.set('fleet.deploy.timeoutSeconds', 30);
    const extensionPath = path.join(root, 'extension');
    fs.mkdirSync(path.join(extensionPath, 'dist'), { recursive: true });
    const packageJSON = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as unknown;
    const context = {
      extensionPath,
      extensionUri: Uri.file(extensionPath),
      extension: { packageJSON },
      globalStorageUri: Uri.file(path.join(root, 'storage')),
      subscriptions: [],
    };
    const languageClient = {
      isRunning: () => true,
      onDidChangeState: () => ({ dispose() {} }),
      sendNotification: async (type: { method: string }, params: unknown) => void notifications.push({ method: type.method, params }),
      sendRequest: async (type: { method: string }, params: unknown) => {
        requests.push({ method: type.method, params });
        if (!stubState.validateAnswer) throw new Error('no server in this test');
        return stubState.validateAnswer;
      },
    };
    features = registerClusterFeatures(context as never, {
      log: vscodeStub.window.createOutputChannel('Fleet') as never,
      languageClient: languageClient as never,
    });
  });

  after(async () => {
    features?.dispose();
    await Promise.all(agents.map(a => a.stop()));
    await engine?.stop();
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
    if (runtimeDir === undefined) delete process.env['FLEETD_RUNTIME_DIR'];
    else process.env['FLEETD_RUNTIME_DIR'] = runtimeDir;
  });

  test('the views connect to fleet.activeCluster once visible and list the machines', async () => {
    treeViews.get('fleet.machines')!.setVisible(true);
    await waitFor('three machines', () => labels('fleet.machines').length === 3, { timeoutMs: 15_000 });
    assert.deepEqual(labels('fleet.machines'), ['11111111 127.0.0.21', '22222222 127.0.0.22', '33333333 127.0.0.23']);
    assert.equal(ui.contexts.get('fleet.clusterConnected'), true);
    const context = await waitFor(
      'clusterContext',
      () =>
        notifications.find(
          n => n.method === 'fleet/clusterContext' && (n.params as { context: { machines: unknown[] } | null }).context?.machines.length === 3,
        ),
      { timeoutMs: 15_000 },
    );
    assert.deepEqual((context.params as { context: { units: string[] } }).context.units, []);
  });

  test('Start Unit from a file: fleetctl-style report, the tree shows it launched, the language server hears of it', async () => {
    await commands.get('fleet.startUnit')!(Uri.file(path.join(samples, 'nginx.1.service')));
    assert.deepEqual(ui.errors, []);
    assert.match(ui.info.at(-1)!, /^Unit nginx\.1\.service launched on \d{8}\.\.\.\/127\.0\.0\.2\d$/);
    assert.ok(ui.progressTitles.includes('Fleet: Starting nginx.1.service'));
    await waitFor('unit in tree', () => labels('fleet.units').includes('nginx.1.service'), { timeoutMs: 15_000 });
    const units = treeViews.get('fleet.units')!;
    const node = units.provider.getChildren().find(n => units.provider.getTreeItem(n).label === 'nginx.1.service');
    const item = units.provider.getTreeItem(node);
    assert.equal(item.contextValue, 'fleet.unit.launched');
    assert.equal((item.iconPath as ThemeIcon).id, 'pass-filled');
    assert.equal((item.iconPath as ThemeIcon).color?.id, 'testing.iconPassed');
    await waitFor(
      'context lists the unit',
      () => notifications.some(n => (n.params as { context: { units: string[] } | null }).context?.units.includes('nginx.1.service')),
      { timeoutMs: 15_000 },
    );
  });

  test('grouping by machine re-renders the Units view from the setting', async () => {
    await vscodeStub.workspace.getConfiguration('fleet').update('explorer.groupBy', 'machine');
    const groups = labels('fleet.units');
    assert.equal(groups.length, 1);
    assert.match(groups[0]!, /^\d{8}\.\.\.\/127\.0\.0\.2\d$/);
    await vscodeStub.workspace.getConfiguration('fleet').update('explorer.groupBy', 'flat');
  });

  test('Show Unit File reads the registry copy through the fleet-unit: scheme', async () => {
    const text = await contentProviders.get('fleet-unit')!.provideTextDocumentContent(Uri.from({ scheme: 'fleet-unit', path: '/nginx.1.service' }), token);
    assert.match(text, /^\[Unit\]\nDescription=Web server 1/);
    assert.match(text, /\[X-Fleet\]\nConflicts=nginx\.\*\.service\n$/);
    const status = await contentProviders
      .get('fleet-status')!
      .provideTextDocumentContent(Uri.from({ scheme: 'fleet-status', path: '/nginx.1.service.status' }), token);
    assert.match(status, /Desired state: launched/);
    assert.match(status, /Active: active \(running\)/);
    // fleetctl status ends with the unit's last journal lines; so does the status page.
    const withJournal = await waitFor(
      'the status page with the journal',
      async () => {
        const text = await contentProviders
          .get('fleet-status')!
          .provideTextDocumentContent(Uri.from({ scheme: 'fleet-status', path: '/nginx.1.service.status' }), token);
        return /nginx\.1 serving on /.test(text) && text;
      },
      { timeoutMs: 15_000 },
    );
    assert.match(withJournal, /\n {2}Journal \(last \d+ lines?; Fleet: Show Journal follows it\):\n(?: {4}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \d{8} .*\n)+$/);
  });

  test('a blocking parse error stops Submit with the reason, before any request', async () => {
    const bad = path.join(root, 'broken.service');
    fs.writeFileSync(bad, '[Service\nExecStart=/bin/true\n');
    ui.errors.length = 0;
    await commands.get('fleet.submitUnit')!(Uri.file(bad));
    assert.equal(ui.errors.length, 1);
    assert.match(ui.errors[0]!, /^Cannot submit broken\.service: fleet cannot parse it: /);
    assert.equal(
      (await registry.listUnits()).some(u => u.name === 'broken.service'),
      false,
    );
  });

  test('Show Journal follows the unit into its own output channel', async () => {
    const units = treeViews.get('fleet.units')!;
    const node = units.provider.getChildren().find(n => units.provider.getTreeItem(n).label === 'nginx.1.service');
    assert.ok(node);
    await commands.get('fleet.showUnitJournal')!(node, [node]);
    const lines = await waitFor(
      'journal lines',
      () => {
        const out = outputs.get('Fleet Journal: nginx.1.service');
        return out && out.some(l => l.includes('nginx.1 serving')) ? out : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.match(
      lines.find(l => l.includes('nginx.1 serving'))!,
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \d{8} nginx\.1 serving on /,
    );
  });

  test("Show Journal prints a unit's backlog exactly once, then the lines that follow", async () => {
    // The unit writes N numbered lines, then waits for a go-ahead file and writes more: what the
    // channel shows before the go-ahead is the backlog, what comes after is followed live.
    const N = 7;
    const go = path.join(root, 'journal-go');
    const file = path.join(root, 'chatty.service');
    fs.writeFileSync(
      file,
      `[Service]\nExecStart=/bin/sh -c 'for i in $(seq 1 ${N}); do echo backlog $i; done; while [ ! -e ${go} ]; do sleep 0.05; done; echo live 1; echo live 2; sleep 1000'\n`,
    );
    const started = (await commands.get('fleet.startUnit')!(Uri.file(file))) as { ok: boolean; message: string }[];
    assert.equal(started[0]!.ok, true, started[0]!.message);
    await waitFor(
      `the agent's journal to hold the ${N} lines`,
      async () =>
        (await registry.listUnitStates()).some(s => s.name === 'chatty.service') &&
        (await features.model.currentApi!.journal('chatty.service', { lines: 100 })).filter(l => l.text.startsWith('backlog ')).length === N,
      { timeoutMs: 15_000 },
    );
    await commands.get('fleet.showUnitJournal')!(Uri.file(file));
    const channel = () => outputs.get('Fleet Journal: chatty.service') ?? [];
    const texts = (lines: string[]) => lines.map(l => /^\S+ \S+ \S+ (?:\[\w+\] )?(.*)$/.exec(l)?.[1] ?? l);
    await waitFor('the backlog in the channel', () => texts(channel()).includes(`backlog ${N}`), { timeoutMs: 15_000 });
    fs.writeFileSync(go, '');
    await waitFor('the live lines in the channel', () => texts(channel()).includes('live 2'), { timeoutMs: 15_000 });
    const shown = texts(channel()).filter(t => /^(backlog|live) \d+$/.test(t));
    assert.deepEqual(shown, [...Array.from({ length: N }, (_, i) => `backlog ${i + 1}`), 'live 1', 'live 2'], channel().join('\n'));
    ui.warningAnswers.push('Destroy');
    await commands.get('fleet.destroyUnit')!(Uri.file(file));
  });

  test('Replace Unit compares as fleet stores units: identical says so, a change opens the normalised diff, asks without a modal, replaces and closes the diff', async () => {
    const file = path.join(root, 'replaceme.service');
    fs.writeFileSync(file, '[Service]\nExecStart=/bin/sleep 1000\n');
    const started = await commands.get('fleet.startUnit')!(Uri.file(file));
    assert.equal((started as { ok: boolean }[])[0]!.ok, true);
    // Comments and blank lines are not stored by fleet: the same unit, no diff tab.
    fs.writeFileSync(file, '# the sleeper\n\n[Service]\n; how long\nExecStart=/bin/sleep 1000\n\n');
    ui.info.length = 0;
    ui.executed.length = 0;
    await commands.get('fleet.replaceUnit')!(Uri.file(file));
    assert.equal(ui.info.at(-1), 'replaceme.service: no differences between test and the local file (as fleet stores it); nothing to replace.');
    assert.ok(!ui.executed.includes('vscode.diff'), 'no diff tab for an identical unit');
    fs.writeFileSync(file, '# the sleeper\n[Service]\nExecStart=/bin/sleep 2000\n');
    ui.warningAnswers.push(undefined); // the notification is dismissed: nothing changes
    await commands.get('fleet.replaceUnit')!(Uri.file(file));
    const diff = tabs.find(t => t.input instanceof TabInputTextDiff);
    assert.ok(diff, 'a diff tab');
    assert.equal(diff.label, 'replaceme.service: test ↔ local file');
    const { original, modified } = diff.input as TabInputTextDiff;
    // Both sides as fleet stores them: the comment is gone, only ExecStart= differs.
    const left = await contentProviders.get('fleet-unit')!.provideTextDocumentContent(original, token);
    const right = await contentProviders.get('fleet-unit')!.provideTextDocumentContent(modified, token);
    assert.deepEqual([left, right], ['[Service]\nExecStart=/bin/sleep 1000\n', '[Service]\nExecStart=/bin/sleep 2000\n']);
    assert.equal(original.path, '/replaceme.service (test)', 'the registry side names the cluster');
    assert.equal(
      ui.warnings.at(-1),
      'Replace replaceme.service in test with the local file? The unit is launched: fleet tears it down and it is brought back to launched, possibly on another machine.',
    );
    assert.equal((await registry.getUnit('replaceme.service'))!.options.find(o => o.name === 'ExecStart')!.value, '/bin/sleep 1000');
    assert.equal(tabs.filter(t => t.input instanceof TabInputTextDiff).length, 1, 'a dismissed confirmation leaves the diff open');
    ui.warningAnswers.push('Replace');
    await commands.get('fleet.replaceUnit')!(Uri.file(file));
    assert.match(ui.info.at(-1)!, /^Unit replaceme\.service replaced; launched on \d{8}\.\.\.\/127\.0\.0\.2\d$/);
    assert.equal((await registry.getUnit('replaceme.service'))!.options.find(o => o.name === 'ExecStart')!.value, '/bin/sleep 2000');
    assert.deepEqual(
      tabs.filter(t => t.input instanceof TabInputTextDiff),
      [],
      'the replace closed the diff of what is no longer in the registry',
    );
    tabs.length = 0;
    // One unit: the dialog names the cluster by its profile name, in the singular.
    ui.warningAnswers.push('Destroy');
    await commands.get('fleet.destroyUnit')!(Uri.file(file));
    assert.equal(ui.warnings.at(-1), 'Destroy replaceme.service in test?');
  });

  test('Show Unit File opens the registry copy in a tab named for the unit and the cluster', async () => {
    tabs.length = 0;
    await commands.get('fleet.showUnitFile')!(Uri.file(path.join(samples, 'nginx.1.service')));
    assert.deepEqual(
      tabs.map(t => t.label),
      ['nginx.1.service (test)'],
    );
    const text = await contentProviders.get('fleet-unit')!.provideTextDocumentContent(tabs[0]!.input as Uri, token);
    assert.match(text, /^\[Unit\]\nDescription=Web server 1/);
    tabs.length = 0;
  });

  test("a blocking problem from fleet/validateForSubmit stops Start with the editor's message", async () => {
    const uri = Uri.file(path.join(samples, 'nginx.3.service'));
    stubState.validateAnswer = {
      name: 'nginx.3.service',
      blocking: true,
      problems: [
        {
          code: 'xfleet-bad-glob',
          message: 'Conflicts: the pattern nginx.[.service is malformed',
          severity: 'error',
          enforcedBy: 'fleet',
          range: { start: { line: 9, character: 10 }, end: { line: 9, character: 25 } },
        },
        {
          code: 'other',
          message: 'second',
          severity: 'error',
          enforcedBy: 'systemd',
          range: { start: { line: 2, character: 0 }, end: { line: 2, character: 1 } },
        },
        {
          code: 'advice',
          message: 'just advice',
          severity: 'warning',
          enforcedBy: 'advice',
          range: { start: { line: 1, character: 0 }, end: { line: 1, character: 1 } },
        },
      ],
    };
    ui.errors.length = 0;
    try {
      const results = await commands.get('fleet.startUnit')!(uri);
      assert.equal(results, undefined);
    } finally {
      stubState.validateAnswer = undefined;
    }
    assert.deepEqual(requests.at(-1), { method: 'fleet/validateForSubmit', params: { uri: uri.toString() } });
    assert.deepEqual(ui.errors, [
      'Cannot submit nginx.3.service: line 10: Conflicts: the pattern nginx.[.service is malformed (and 1 more error). Fix the errors shown in the editor first.',
    ]);
    assert.equal(
      (await registry.listUnits()).some(u => u.name === 'nginx.3.service'),
      false,
    );
  });

  test("Start asks first when no machine would take the unit; started anyway, it reports the engine's reason within seconds with one action", async () => {
    const file = path.join(root, 'mars.service');
    fs.writeFileSync(file, '[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=region=mars\n');
    ui.warningAnswers.push(undefined); // the question is closed: nothing is written
    assert.equal(await commands.get('fleet.startUnit')!(Uri.file(file)), undefined);
    assert.equal(ui.warnings.at(-1), 'No machine of test can take mars.service now: no machine has metadata region=mars. Start it anyway?');
    assert.deepEqual(ui.warningOptions.at(-1), {
      modal: true,
      detail: 'Started anyway, fleet keeps it in the registry, waiting, until a machine qualifies.',
      buttons: ['Start Anyway', 'Show Machines'],
    });
    assert.equal(await registry.getUnit('mars.service'), undefined, 'nothing submitted without an answer');
    ui.warningAnswers.push('Start Anyway');
    ui.errors.length = 0;
    const t0 = Date.now();
    const results = (await commands.get('fleet.startUnit')!(Uri.file(file))) as { ok: boolean; unplaceable?: boolean }[];
    assert.ok(Date.now() - t0 < 10_000, `reported after ${Date.now() - t0} ms, not after the ${config.get('fleet.deploy.timeoutSeconds')} s budget`);
    assert.equal(results[0]!.unplaceable, true);
    assert.deepEqual(ui.errors, ['Unit mars.service cannot be placed: no machine has metadata region=mars']);
    assert.deepEqual(ui.errorButtons.at(-1), ['Show Machines']);
    ui.warningAnswers.push('Destroy');
    await commands.get('fleet.destroyUnit')!(Uri.file(file));
  });

  test('several units that cannot be placed: one question, then one summary', async () => {
    const files = ['venus', 'pluto'].map(n => {
      const file = path.join(root, `${n}.service`);
      fs.writeFileSync(file, `[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=region=${n}\n`);
      return Uri.file(file);
    });
    ui.warningAnswers.push('Start Anyway');
    ui.errors.length = 0;
    await commands.get('fleet.startUnit')!(files[0], files);
    assert.equal(ui.warnings.at(-1), 'No machine of test can take 2 of the 2 units now. Start anyway?');
    assert.deepEqual(ui.errors, [
      '2 of 2 units failed: venus.service cannot be placed: no machine has metadata region=venus; pluto.service cannot be placed: no machine has metadata region=pluto.',
    ]);
    assert.deepEqual(ui.errorButtons.at(-1), ['Show Machines']);
    ui.warningAnswers.push('Destroy');
    await commands.get('fleet.destroyUnit')!(files[0], files);
  });

  test('Stop and Destroy from tree nodes (multi-select), Destroy asks first', async () => {
    await commands.get('fleet.startUnit')!(Uri.file(path.join(samples, 'nginx.2.service')));
    await features.model.refresh();
    const units = treeViews.get('fleet.units')!;
    const nodes = units.provider.getChildren().filter(n => /^nginx\.[12]\.service$/.test(units.provider.getTreeItem(n).label));
    assert.equal(nodes.length, 2);
    await commands.get('fleet.stopUnit')!(nodes[0], nodes);
    assert.match(ui.info.at(-1)!, /^2 units done: nginx\.1\.service stopped on .*; nginx\.2\.service stopped on /);
    ui.warningAnswers.push(undefined); // the user closes the modal
    await commands.get('fleet.destroyUnit')!(nodes[0], nodes);
    assert.equal((await registry.listUnits()).length, 2, 'nothing destroyed without confirmation');
    ui.warningAnswers.push('Destroy');
    await commands.get('fleet.destroyUnit')!(nodes[0], nodes);
    assert.equal(ui.warnings.at(-1), 'Destroy 2 units in test?');
    assert.match(ui.info.at(-1)!, /Destroyed nginx\.1\.service; Destroyed nginx\.2\.service/);
    await features.model.refresh();
    await waitFor('units gone from the tree', () => labels('fleet.units').length === 0, { timeoutMs: 15_000 });
  });

  test('every command the manifest contributes is registered (the pictures included)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } };
    const missing = manifest.contributes.commands
      .map(c => c.command)
      .filter(id => !commands.has(id) && !['fleet.restartLanguageServer', 'fleet.showLanguageServerOutput'].includes(id));
    assert.deepEqual(missing, []);
    assert.ok(commands.has('fleet.showClusterMap') && commands.has('fleet.showUnitGraph'));
  });

  test('Copy Machine ID from a machine node', async () => {
    const machines = treeViews.get('fleet.machines')!;
    await commands.get('fleet.copyMachineId')!(machines.provider.getChildren()[1]);
    assert.equal(ui.clipboard, '2'.repeat(32));
  });

  test('Create Template Instances takes names and ranges: 1..3 from the template file', async () => {
    ui.errors.length = 0;
    ui.inputs.push('1..3');
    ui.picks.push((items: { label: string }[]) => items.find(i => i.label === 'Submit'));
    await commands.get('fleet.createTemplateInstances')!(Uri.file(path.join(samples, 'web@.service')));
    assert.deepEqual(ui.errors.slice(-1), []);
    assert.match(
      ui.info.at(-1)!,
      /^3 units done: web@1\.service submitted \(inactive\); web@2\.service submitted \(inactive\); web@3\.service submitted \(inactive\)$/,
    );
    const names = (await registry.listUnits()).map(u => u.name).sort();
    assert.deepEqual(names, ['web@1.service', 'web@2.service', 'web@3.service']);
  });

  test("Create Template Instances from the palette offers the workspace's templates; 7 is the instance web@7.service", async () => {
    stubState.workspaceFiles = fs.readdirSync(samples).map(f => Uri.file(path.join(samples, f)));
    let offered: string[] = [];
    ui.picks.push((items: { label: string }[]) => {
      offered = items.map(i => i.label);
      return items.find(i => i.label === 'web@.service');
    });
    ui.inputs.push('7');
    ui.picks.push((items: { label: string }[]) => items.find(i => i.label === 'Submit'));
    try {
      await commands.get('fleet.createTemplateInstances')!();
    } finally {
      stubState.workspaceFiles = [];
    }
    assert.deepEqual(offered, ['web@.service'], 'the templates of the workspace (the registry has none)');
    assert.equal(ui.info.at(-1), 'Unit web@7.service submitted (inactive)');
    assert.ok(await registry.getUnit('web@7.service'));
    ui.warningAnswers.push('Destroy');
    await commands.get('fleet.destroyUnit')!(undefined, [Uri.from({ scheme: 'fleet-unit', path: '/web@7.service' })]);
  });

  test('Start Units Matching previews what matches, then starts it, spread by the conflicts', async () => {
    stubState.workspaceFiles = fs.readdirSync(samples).map(f => Uri.file(path.join(samples, f)));
    ui.inputs.push('nginx.*.service');
    let preview: { label: string; description: string; picked: boolean }[] = [];
    ui.picks.push((items: { label: string; description: string; picked: boolean }[]) => (preview = items));
    const results = (await commands.get('fleet.startUnitsMatching')!()) as { name: string; ok: boolean; message: string }[];
    assert.deepEqual(
      preview.map(p => [p.label, p.description, p.picked]),
      [
        ['nginx.1.service', 'from its workspace file', true],
        ['nginx.2.service', 'from its workspace file', true],
        ['nginx.3.service', 'from its workspace file', true],
      ],
    );
    assert.deepEqual(
      results.map(r => [r.name, r.ok]),
      [
        ['nginx.1.service', true],
        ['nginx.2.service', true],
        ['nginx.3.service', true],
      ],
    );
    const machines = results.map(r => /on (\d{8})\.\.\./.exec(r.message)?.[1]);
    assert.equal(new Set(machines).size, 3, results.map(r => r.message).join('; '));
    ui.inputs.push('nothing-*.service');
    assert.equal(await commands.get('fleet.startUnitsMatching')!(), undefined);
    assert.match(ui.warnings.at(-1)!, /^No unit in test or in the workspace matches nothing-\*\.service\.$/);
    // An instance nobody has yet is made from its template, as fleetctl start web@8.service does.
    ui.inputs.push('web@8.service');
    ui.picks.push((items: { label: string; description: string; picked: boolean }[]) => (preview = items));
    const made = (await commands.get('fleet.startUnitsMatching')!()) as { name: string; ok: boolean; message: string }[];
    stubState.workspaceFiles = [];
    assert.deepEqual(
      preview.map(p => [p.label, p.description]),
      [['web@8.service', 'a new instance of web@.service (workspace file)']],
    );
    assert.equal(made[0]!.ok, true, made[0]!.message);
    assert.match(made[0]!.message, /^Unit web@8\.service launched on /);
    assert.equal(
      (await registry.getUnit('web@8.service'))!.options.find(o => o.name === 'ExecStart')!.value,
      `/bin/sh -c 'while true; do echo "worker %i"; sleep 5; done'`,
    );
  });

  test('the status bar names the cluster and counts; Add Cluster saves a profile without switching to it, Select Cluster switches', async () => {
    await features.model.refresh();
    assert.match(stubState.statusBar!.text, /^\$\(server-environment\) Fleet: test \(3\/\d+\)$/);
    assert.equal(stubState.statusBar!.command, 'fleet.selectCluster');
    // The wizard: name, how to reach fleet, the API URL, no tunnel; the test fails; "Save anyway".
    ui.inputs.push('unreachable', 'http://127.0.0.1:9', '');
    ui.picks.push((items: { value: string }[]) => items.find(i => i.value === 'api'));
    ui.errorAnswers.push('Save anyway');
    await commands.get('fleet.addCluster')!();
    assert.match(ui.errors.at(-1)!, /^The connection test for "unreachable" failed: .*127\.0\.0\.1:9/);
    assert.deepEqual(config.get('fleet.clusters'), [
      { name: 'test', endpoint: server.urls[0] },
      { name: 'unreachable', endpoint: 'http://127.0.0.1:9' },
    ]);
    assert.equal(config.get('fleet.activeCluster'), 'test', 'Add Cluster never switches the active cluster unasked');
    await features.model.refresh();
    assert.match(stubState.statusBar!.text, /^\$\(server-environment\) Fleet: test /);
    ui.picks.push((items: { label: string; name?: string }[]) => items.find(i => i.name === 'unreachable'));
    await commands.get('fleet.selectCluster')!();
    assert.equal(config.get('fleet.activeCluster'), 'unreachable');
    await waitFor(
      'the unreachable cluster shows as such',
      async () => {
        await features.model.refresh();
        return stubState.statusBar!.text === '$(debug-disconnect) Fleet: unreachable unreachable';
      },
      { timeoutMs: 15_000 },
    );
    assert.ok(stubState.statusBar!.backgroundColor);
    // The views are empty: their welcome says why (connection refused), with Retry, Edit Cluster and Select Cluster.
    const units = treeViews.get('fleet.units')!;
    assert.deepEqual(units.provider.getChildren(), []);
    assert.deepEqual(treeViews.get('fleet.machines')!.provider.getChildren(), []);
    assert.equal(ui.contexts.get('fleet.clusterConnected'), false);
    assert.equal(ui.contexts.get('fleet.connectionProblem'), 'refused');
    // Edit Cluster from the welcome edits the active profile: the wizard starts from its name (cancelled here).
    ui.inputs.push(undefined);
    await commands.get('fleet.editCluster')!({ active: true });
    assert.match(ui.inputBoxes.at(-1)!.title!, /^Fleet: Edit Cluster unreachable /);
    assert.equal(ui.inputBoxes.at(-1)!.value, 'unreachable');
    // Retry while it is still down: still the same reason.
    await commands.get('fleet.retryConnection')!();
    assert.equal(ui.contexts.get('fleet.connectionProblem'), 'refused');
    ui.picks.push((items: { label: string; name?: string }[]) => {
      assert.deepEqual(
        items.map(i => i.label),
        ['test', '$(check) unreachable', '$(add) Add Cluster…', '$(edit) Edit Cluster…', '$(play) Start Local Cluster…'],
      );
      return items.find(i => i.name === 'test');
    });
    await commands.get('fleet.selectCluster')!();
    assert.equal(config.get('fleet.activeCluster'), 'test');
    await waitFor(
      'connected again',
      async () => {
        await features.model.refresh();
        return /^\$\(server-environment\) Fleet: test /.test(stubState.statusBar!.text);
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(ui.contexts.get('fleet.clusterConnected'), true);
    assert.equal(ui.contexts.get('fleet.connectionProblem'), undefined);
  });

  test('a profile that cannot be opened (its caFile is missing) stays active with its reason; Retry opens it again once the file is there', async () => {
    const ca = path.join(root, 'later', 'ca.pem');
    await vscodeStub.workspace
      .getConfiguration('fleet')
      .update('clusters', [...(config.get('fleet.clusters') as unknown[]), { name: 'needs-ca', endpoint: server.urls[0], caFile: ca }]);
    ui.picks.push((items: { name?: string }[]) => items.find(i => i.name === 'needs-ca'));
    await commands.get('fleet.selectCluster')!();
    await waitFor('the reason of the unopened profile', () => ui.contexts.get('fleet.connectionProblem') === 'config', { timeoutMs: 15_000 });
    assert.equal(features.model.view.kind, 'error');
    assert.match(
      features.model.view.kind === 'error' ? features.model.view.error : '',
      /^profile "needs-ca": cannot read caFile .*later\/ca\.pem: ENOENT.*Fix caFile in the cluster profile\.$/,
    );
    assert.match(stubState.statusBar!.text, /Fleet: needs-ca unreachable/);
    await commands.get('fleet.retryConnection')!();
    assert.equal(ui.contexts.get('fleet.connectionProblem'), 'config', 'still missing: the same reason');
    fs.mkdirSync(path.dirname(ca), { recursive: true });
    fs.writeFileSync(ca, '(an http endpoint never reads it)\n');
    await commands.get('fleet.retryConnection')!();
    await waitFor(
      'connected after Retry',
      async () => {
        await features.model.refresh();
        return features.model.view.kind === 'connected';
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(ui.contexts.get('fleet.connectionProblem'), undefined);
    assert.equal(ui.contexts.get('fleet.clusterConnected'), true);
    ui.picks.push((items: { name?: string }[]) => items.find(i => i.name === 'test'));
    await commands.get('fleet.selectCluster')!();
  });

  test('polling pauses when no Fleet view and no unit editor is visible, and resumes for a unit editor', async () => {
    treeViews.get('fleet.machines')!.setVisible(false);
    treeViews.get('fleet.units')!.setVisible(false);
    assert.equal(features.model.watching, false);
    vscodeStub.window.visibleTextEditors = [{ document: { languageId: 'fleet-unit' } }];
    visibleEditors.fire(undefined);
    assert.equal(features.model.watching, true);
    vscodeStub.window.visibleTextEditors = [];
    visibleEditors.fire(undefined);
    assert.equal(features.model.watching, false);
    treeViews.get('fleet.machines')!.setVisible(true);
    assert.equal(features.model.watching, true);
  });

  test('Start Local Cluster launches the bundled fleetd, connects to it, and Stop ends its process group', async () => {
    // The "bundled fleetd" prints the ready line for the in-process API, and keeps a child in its group.
    const childPidFile = path.join(root, 'child.pid');
    fs.writeFileSync(
      path.join(root, 'extension', 'dist', 'fleetd.js'),
      `const { spawn } = require('node:child_process');
       if (!process.argv.includes('--embedded') && !process.argv.includes('--etcd-binary')) process.exit(9);
       const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
       require('node:fs').writeFileSync(${JSON.stringify(childPidFile)}, String(child.pid));
       process.on('SIGTERM', () => { child.kill(); process.exit(0); });
       console.log('fleetd: API ready at ${server.urls[0]}');
       setInterval(() => {}, 1000);`,
    );
    config.set('fleet.localCluster.etcdPath', '');
    const url = await commands.get('fleet.startLocalCluster')!({ machines: 2, metadata: ['region=a', 'region=b'], quiet: true });
    assert.equal(url, server.urls[0]);
    assert.equal(ui.contexts.get('fleet.localClusterRunning'), true);
    const childPid = Number(fs.readFileSync(childPidFile, 'utf8'));
    process.kill(childPid, 0); // alive
    assert.equal(features.model.view.kind !== 'disconnected' && features.model.view.label, `Local cluster (${server.urls[0]})`);
    // After Stop, the explorer falls back to the configured profile; this one cannot be read, so the
    // views say "not connected" (with Start Local Cluster), not its error.
    config.set('fleet.activeCluster', 'unreachable');
    await commands.get('fleet.stopLocalCluster')!();
    assert.equal(ui.contexts.get('fleet.localClusterRunning'), false);
    assert.throws(() => process.kill(childPid, 0), /ESRCH/);
    await waitFor(
      'the fallback was read and failed',
      async () => {
        await features.model.refresh();
        return features.model.view.kind === 'error';
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(features.model.view.kind === 'error' && features.model.view.problem, 'refused');
    assert.equal(ui.contexts.get('fleet.clusterConnected'), false);
    assert.equal(ui.contexts.get('fleet.connectionProblem'), undefined, 'the welcome is "not connected", not the fallback\'s error');
    // Choosing that cluster makes its error the views' message again.
    ui.picks.push((items: { name?: string }[]) => items.find(i => i.name === 'unreachable'));
    await commands.get('fleet.selectCluster')!();
    await waitFor(
      "the chosen cluster's reason is shown",
      async () => {
        await features.model.refresh();
        return ui.contexts.get('fleet.connectionProblem') === 'refused';
      },
      { timeoutMs: 15_000 },
    );
    config.set('fleet.activeCluster', 'test');
  });
});
