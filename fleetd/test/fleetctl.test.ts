/**
 * fleetctl's exact request sequences (fleet-reference §4.2, cases 53–57) replayed against the API
 * over real HTTP, with a small stand-in for the engine and one agent writing the registry, and the
 * answers checked as fleetctl reads them: the waits it does (currentState, /state), the fields it
 * prints, the hash it computes from the returned options, and its output lines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseUnitFile, shortHash, toOptions, unitHash, type UnitOption } from '../../unitfile/src';
import type { ApiMachine, ApiUnit, ApiUnitState, MachinePage, UnitPage, UnitStatePage } from '../../protocol/src/api';
import type { MemoryRegistry } from '../src/registry/memoryRegistry';
import { ApiClient, startApi, type ApiFixture, type Reply } from './apiHarness';
import { saveUnitState, scheduleUnit, setLaunched, unscheduleUnit } from '../../registry/test/registryOps';

const MACHINE = { id: '4d389537d9d14bdabe8be54a9c29f68d', publicIP: '172.17.8.101', metadata: { region: 'us-west', az: 'a' }, version: 'test' };
const OTHER = { id: '113f16a7c8e34a1b9c2d3e4f5a6b7c8d', publicIP: '', metadata: {}, version: 'test' };
const HELLO = '[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 1000\n';

/** What fleetctl's generated client sends with every request. */
class Fleetctl {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly requests: string[] = [];
  constructor(private readonly api: ApiClient) {}

  private async call(method: string, path: string, body?: unknown): Promise<Reply> {
    const url = `/fleet/v1/${path}${path.includes('?') ? '&' : '?'}alt=json`;
    this.requests.push(`${method} ${url}`);
    const headers: [string, string][] = [['User-Agent', 'google-api-go-client/0.5']];
    // Go's json.Encoder ends the body with a newline.
    if (body !== undefined) headers.push(['Content-Type', 'application/json']);
    return this.api.request(method, url, body === undefined ? { headers } : { headers, body: `${JSON.stringify(body)}\n` });
  }

  private check(r: Reply, ...ok: number[]): void {
    if (!ok.includes(r.status)) {
      const e = (r.json as { error?: { code: number; message: string } }).error;
      throw new Error(`googleapi: Error ${e?.code}: ${e?.message}`);
    }
  }

  async unit(name: string): Promise<ApiUnit | undefined> {
    const r = await this.call('GET', `units/${encodeURIComponent(name)}`);
    if (r.status === 404) return undefined;
    this.check(r, 200);
    return r.json as ApiUnit;
  }

  async units(): Promise<ApiUnit[]> {
    const out: ApiUnit[] = [];
    for (let token: string | undefined, pages = 0; pages < 100; pages++) {
      const r = await this.call('GET', token ? `units?nextPageToken=${encodeURIComponent(token)}` : 'units');
      this.check(r, 200);
      const page = r.json as UnitPage;
      out.push(...(page.units ?? []));
      if (!page.nextPageToken) return out;
      token = page.nextPageToken;
    }
    throw new Error('too many pages');
  }

  async states(): Promise<ApiUnitState[]> {
    const r = await this.call('GET', 'state');
    this.check(r, 200);
    return (r.json as UnitStatePage).states ?? [];
  }

  async machines(): Promise<ApiMachine[]> {
    const r = await this.call('GET', 'machines');
    this.check(r, 200);
    return (r.json as MachinePage).machines ?? [];
  }

  /** Polls as fleetctl does (every 250 ms), bounded. */
  private async waitFor(name: string, wanted: string): Promise<ApiUnit> {
    for (let i = 0; i < 80; i++) {
      const u = await this.unit(name);
      if (u?.currentState === wanted) return u;
      await new Promise(r => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${name} to be ${wanted}`);
  }

  private async machineLabel(machineId: string | undefined): Promise<string> {
    const m = (await this.machines()).find(x => x.id === machineId);
    const short = `${(machineId ?? '').slice(0, 8)}...`;
    return m?.primaryIP ? `${short}/${m.primaryIP}` : short;
  }

  async submit(name: string, text: string): Promise<void> {
    if (await this.unit(name)) return;
    const options = toOptions(parseUnitFile(text));
    const r = await this.call('PUT', `units/${encodeURIComponent(name)}`, { name, options });
    this.check(r, 201, 204);
    // fleetctl ignores currentState of units it recognises as global (a single GET omits it).
    const global = options.some(o => o.section === 'X-Fleet' && o.name === 'Global' && o.value === 'true');
    if (!global) await this.waitFor(name, 'inactive');
    this.stdout.push(`Unit ${name} inactive`);
  }

  async setState(name: string, desiredState: 'inactive' | 'loaded' | 'launched'): Promise<void> {
    const r = await this.call('PUT', `units/${encodeURIComponent(name)}`, { desiredState, name });
    this.check(r, 204);
  }

  async load(name: string, text: string): Promise<void> {
    await this.submit(name, text);
    await this.setState(name, 'loaded');
    const u = await this.waitFor(name, 'loaded');
    this.stdout.push(`Unit ${name} loaded on ${await this.machineLabel(u.machineID)}`);
  }

  async start(name: string, text: string): Promise<void> {
    await this.submit(name, text);
    await this.setState(name, 'launched');
    const u = await this.waitFor(name, 'launched');
    this.stdout.push(`Unit ${name} launched on ${await this.machineLabel(u.machineID)}`);
    // Then the systemd wait: GET /state/{name} until active and loaded (a 404 here crashes fleetctl).
    for (let i = 0; ; i++) {
      const r = await this.call('GET', `state/${encodeURIComponent(name)}`);
      assert.equal(r.status, 200, 'fleetctl start crashes when /state answers 404 after launched');
      const s = r.json as ApiUnitState;
      if (s.systemdActiveState === 'active' && s.systemdLoadState === 'loaded') return;
      if (i > 80) throw new Error(`timed out waiting for ${name} to be active`);
      await new Promise(r2 => setTimeout(r2, 50));
    }
  }

  async stop(name: string): Promise<void> {
    const u = (await this.units()).find(x => x.name === name);
    if (!u) throw new Error(`Unit ${name} not found`);
    if (u.currentState === 'inactive') throw new Error(`Unable to stop unit ${name} in state inactive`);
    await this.setState(name, 'loaded');
    const loaded = await this.waitFor(name, 'loaded');
    this.stdout.push(`Unit ${name} loaded on ${await this.machineLabel(loaded.machineID)}`);
    this.stderr.push(`Successfully stopped units [${name}].`);
  }

  async unload(name: string): Promise<void> {
    await this.setState(name, 'inactive');
    await this.waitFor(name, 'inactive');
    this.stdout.push(`Unit ${name} inactive`);
    this.stderr.push(`Successfully unloaded units [${name}].`);
  }

  async destroy(name: string): Promise<void> {
    const r = await this.call('DELETE', `units/${encodeURIComponent(name)}`);
    this.check(r, 204, 404);
    this.stdout.push(`Destroyed ${name}`);
  }
}

/** Go's text/tabwriter as fleetctl configures it (minwidth 0, tabwidth 8, padding 1, padchar '\t'). */
function tabwrite(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.slice(0, -1).forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, Math.ceil((cell.length + 1) / 8) * 8)));
  return rows
    .map(row => row.map((cell, i) => (i === row.length - 1 ? cell : cell + '\t'.repeat(Math.ceil((widths[i]! - cell.length) / 8)))).join(''))
    .join('\n');
}

/**
 * The engine and one agent, reduced to what fleetctl observes: schedule active units on MACHINE,
 * publish a state when loaded, heartbeat "launched" when launched, tear down when inactive.
 */
function simulateCluster(registry: MemoryRegistry): { stop(): void } {
  let running = true;
  const tick = async () => {
    const [units, schedule, states] = await Promise.all([registry.listUnits(), registry.getSchedule(), registry.listUnitStates()]);
    // Destroyed units: the agent unloads them and their state goes.
    for (const s of states) if (!units.some(u => u.name === s.name)) await registry.removeUnitState(s.name, s.machineId);
    for (const u of units) {
      const target = schedule.get(u.name)?.machineId;
      const state = { name: u.name, machineId: MACHINE.id, hash: u.hash, loadState: 'loaded', activeState: 'inactive', subState: 'dead' };
      if (u.desiredState === 'inactive') {
        if (target) await unscheduleUnit(registry, u.name, target);
        await registry.clearLaunched(u.name, MACHINE.id);
        await registry.removeUnitState(u.name, MACHINE.id);
        continue;
      }
      if (!target) await scheduleUnit(registry, u.name, MACHINE.id);
      if (u.desiredState === 'loaded') {
        await registry.clearLaunched(u.name, MACHINE.id);
        await saveUnitState(registry, state, 60_000);
      } else {
        // Publish the state before (or with) the launched heartbeat: see the reference's addendum.
        await saveUnitState(registry, { ...state, activeState: 'active', subState: 'running' }, 60_000);
        await setLaunched(registry, u.name, MACHINE.id, 60_000);
      }
    }
  };
  void (async () => {
    while (running) {
      await tick();
      await new Promise(r => setTimeout(r, 20));
    }
  })();
  return { stop: () => void (running = false) };
}

describe('fleetctl request sequences against fleetd', () => {
  let f: ApiFixture;
  let cluster: { stop(): void };
  before(async () => {
    f = await startApi();
    await f.registry.registerMachine(MACHINE, 60_000);
    await f.registry.registerMachine(OTHER, 60_000);
    cluster = simulateCluster(f.registry);
  });
  after(async () => {
    cluster.stop();
    await f.close();
  });

  test('submit, load, start, stop, unload, destroy (cases 53–56)', async () => {
    const ctl = new Fleetctl(f.api);
    await ctl.submit('hello.service', HELLO);
    assert.deepEqual(ctl.requests.slice(0, 3), [
      'GET /fleet/v1/units/hello.service?alt=json',
      'PUT /fleet/v1/units/hello.service?alt=json',
      'GET /fleet/v1/units/hello.service?alt=json',
    ]);
    await ctl.load('hello.service', HELLO);
    await ctl.start('hello.service', HELLO);
    await ctl.stop('hello.service');
    await ctl.unload('hello.service');
    await ctl.destroy('hello.service');
    await ctl.destroy('hello.service');
    assert.deepEqual(ctl.stdout, [
      'Unit hello.service inactive',
      'Unit hello.service loaded on 4d389537.../172.17.8.101',
      'Unit hello.service launched on 4d389537.../172.17.8.101',
      'Unit hello.service loaded on 4d389537.../172.17.8.101',
      'Unit hello.service inactive',
      'Destroyed hello.service',
      'Destroyed hello.service',
    ]);
    assert.deepEqual(ctl.stderr, ['Successfully stopped units [hello.service].', 'Successfully unloaded units [hello.service].']);
    assert.equal(await f.registry.getUnit('hello.service'), undefined);
  });

  test('stop of an inactive unit is refused by fleetctl from what GET /units says', async () => {
    const ctl = new Fleetctl(f.api);
    await ctl.submit('idle.service', HELLO);
    await assert.rejects(ctl.stop('idle.service'), /Unable to stop unit idle.service in state inactive/);
    await ctl.destroy('idle.service');
  });

  test('templates: %40 in paths; an instance starts, the template cannot (case 57)', async () => {
    const ctl = new Fleetctl(f.api);
    await ctl.submit('tmpl@.service', HELLO);
    assert.ok(ctl.requests.includes('PUT /fleet/v1/units/tmpl%40.service?alt=json'));
    await assert.rejects(ctl.setState('tmpl@.service', 'launched'), /googleapi: Error 400: cannot activate template "tmpl@.service"/);
    await ctl.start('tmpl@1.service', HELLO);
    assert.equal(ctl.stdout.at(-1), 'Unit tmpl@1.service launched on 4d389537.../172.17.8.101');
    await ctl.destroy('tmpl@1.service');
    await ctl.destroy('tmpl@.service');
  });

  test('submit of an existing unit with desiredState only: the 409 fleetctl users know', async () => {
    const ctl = new Fleetctl(f.api);
    await ctl.submit('x.service', HELLO);
    const r = await f.api.request('PUT', '/fleet/v1/units/x.service?alt=json', { body: '{"name":"x.service"}\n' });
    assert.equal(r.status, 409);
    assert.equal(
      `googleapi: Error 409: ${(r.json as { error: { message: string } }).error.message}`,
      'googleapi: Error 409: must provide DesiredState to update existing unit',
    );
    await ctl.destroy('x.service');
  });

  test('list-unit-files, list-units, list-machines: the fields fleetctl prints', async () => {
    const ctl = new Fleetctl(f.api);
    await ctl.submit('a.service', HELLO);
    await ctl.start('b.service', '[Service]\nExecStart=/bin/sleep 100\n');
    await ctl.submit('g.service', '[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n');

    // list-unit-files: fleetctl hashes the options it gets back; it must equal the stored hash.
    const files = await ctl.units();
    for (const u of files) {
      const options = (u.options ?? []).map(o => ({ section: o.section, name: o.name, value: o.value ?? '' })) as UnitOption[];
      assert.equal(unitHash(options), (await f.registry.getUnit(u.name))?.hash, u.name);
    }
    const global = (u: ApiUnit) => (u.options ?? []).some(o => o.section === 'X-Fleet' && o.name === 'Global' && o.value === 'true');
    const rows = [['UNIT', 'HASH', 'DSTATE', 'STATE', 'TARGET']];
    for (const u of files) {
      const options = (u.options ?? []).map(o => ({ section: o.section, name: o.name, value: o.value ?? '' }));
      rows.push([
        u.name,
        shortHash(unitHash(options)),
        u.desiredState ?? '-',
        global(u) ? '-' : (u.currentState ?? '-'),
        global(u) ? 'global' : u.machineID ? `${u.machineID.slice(0, 8)}.../172.17.8.101` : '-',
      ]);
    }
    const helloHash = shortHash(unitHash(toOptions(parseUnitFile(HELLO))));
    const globalHash = shortHash((await f.registry.getUnit('g.service'))!.hash);
    assert.equal(
      tabwrite(rows),
      [
        'UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET',
        `a.service\t${helloHash}\tinactive\tinactive\t-`,
        'b.service\t1c6fb6f\tlaunched\tlaunched\t4d389537.../172.17.8.101',
        `g.service\t${globalHash}\tinactive\t-\t\tglobal`,
      ].join('\n'),
    );

    // list-units: only units with published state; hash sliced to 7 (so it must be 40 long).
    const states = await ctl.states();
    assert.deepEqual(
      states.map(s => s.name),
      ['b.service'],
    );
    assert.equal(states[0]?.hash?.length, 40);
    assert.deepEqual([states[0]?.machineID, states[0]?.systemdActiveState, states[0]?.systemdSubState], [MACHINE.id, 'active', 'running']);

    // list-machines.
    const machines = await ctl.machines();
    const mrows = [
      ['MACHINE', 'IP', 'METADATA'],
      ...machines.map(m => [
        `${m.id.slice(0, 8)}...`,
        m.primaryIP ?? '-',
        Object.entries(m.metadata ?? {})
          .sort()
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '-',
      ]),
    ];
    assert.equal(tabwrite(mrows), 'MACHINE\t\tIP\t\tMETADATA\n113f16a7...\t-\t\t-\n4d389537...\t172.17.8.101\taz=a,region=us-west');
    for (const n of ['a.service', 'b.service', 'g.service']) await ctl.destroy(n);
  });

  test('bad requests get fleet errors; the server keeps serving and the registry is unchanged', async () => {
    const ctl = new Fleetctl(f.api);
    await ctl.submit('keep.service', HELLO);
    const before = await f.registry.snapshot();
    const bad: [string, string, string | undefined, number, RegExp][] = [
      ['PUT', '/fleet/v1/units/keep.service', '{"name":"keep.service","options":[', 400, /^unable to decode body: unexpected EOF$/],
      ['PUT', '/fleet/v1/units/keep.service', '{"desiredState":"started"}', 400, /^invalid desiredState "started"/],
      ['PUT', '/fleet/v1/units/../etc.service', '{}', 404, /^$/],
      ['PUT', '/fleet/v1/units/a%2Fb.service', '{}', 404, /^$/],
      [
        'PUT',
        '/fleet/v1/units/bad!.service',
        '{"options":[{"section":"Service","name":"ExecStart","value":"x"}]}',
        400,
        /^invalid character "!" in unit name$|^invalid character '!' in unit name$/,
      ],
      ['PUT', '/fleet/v1/units/keep.socket%40x', '{}', 400, /^invalid unit type: /],
      ['PATCH', '/fleet/v1/machines', '{"op":"add"}', 400, /cannot unmarshal object/],
      ['GET', '/fleet/v1/units?nextPageToken=zz', undefined, 400, /illegal base64 data at input byte 0/],
      ['GET', '/fleet/v1/units/%zz', undefined, 400, /invalid URL escape/],
    ];
    for (const [method, path, body, code, message] of bad) {
      const r = await f.api.request(method, path, body === undefined ? {} : { body });
      assert.equal(r.status, code, `${method} ${path}`);
      assert.match((r.json as { error: { message: string } }).error.message, message, `${method} ${path}`);
    }
    const afterSnap = await f.registry.snapshot();
    assert.deepEqual(afterSnap.units, before.units);
    assert.equal((await ctl.unit('keep.service'))?.currentState, 'inactive');
    await ctl.destroy('keep.service');
  });
});
