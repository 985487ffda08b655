/**
 * fleetd in v2 mode against what fleet itself writes and reads, on a real etcd 3.4 with v2:
 *
 *  - fleetctl's etcd driver: its exact requests (captured from fleetctl v1.0.0, pinned in
 *    registry/test/fixtures/fleet-v1.0.0-keyspace.json) are replayed over etcd's HTTP API, and a
 *    fleetd engine and agent (real processes) schedule and run the unit; the keys fleetctl then
 *    reads give its `currentState` (fleet's determineJobState) at each step: launched, loaded
 *    after stop (the state stays, the job-state goes), gone after destroy.
 *  - a genuine fleet machine's presence, as fleet's heart writes it, is a machine fleetd's engine
 *    schedules onto.
 *  - the watch survives etcd dropping its place in the event history (401): it re-reads and wakes
 *    every machine, so nothing is missed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Etcd2Registry } from '../../registry/src/etcd2/etcd2Registry';
import { startAgent, type RunningAgent } from '../src/agent';
import { startEngine, type Engine } from '../src/engine';
import { etcdAvailable, freePorts, skipUnlessAvailable, useEtcd, waitFor, type EtcdFixture } from '../../test/support';
import { scheduleUnit } from '../../registry/test/registryOps';

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '../../registry/test/fixtures/fleet-v1.0.0-keyspace.json'), 'utf8'));
const skip = skipUnlessAvailable(etcdAvailable());
let fixture: Promise<EtcdFixture> | undefined;
const etcd = () => (fixture ??= useEtcd('etcd2-interop'));
after(async () => {
  if (fixture) await (await fixture).stop();
});

/** etcd's v2 keys API the way fleetctl's vendored client talks to it (form bodies, conditions in the query). */
class V2 {
  constructor(
    readonly url: string,
    readonly prefix: string,
  ) {}
  async put(key: string, value: string, query = '', ttl?: number): Promise<number> {
    const body = new URLSearchParams(ttl === undefined ? { value } : { ttl: String(ttl), value });
    const res = await fetch(`${this.url}/v2/keys${this.prefix}${key}${query ? `?${query}` : ''}`, {
      method: 'PUT',
      body: body.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    await res.text();
    return res.status;
  }
  async del(key: string, query = ''): Promise<number> {
    const res = await fetch(`${this.url}/v2/keys${this.prefix}${key}${query ? `?${query}` : ''}`, { method: 'DELETE' });
    await res.text();
    return res.status;
  }
  async get(key: string): Promise<string | undefined> {
    const res = await fetch(`${this.url}/v2/keys${this.prefix}${key}?quorum=true`);
    const json = (await res.json()) as { node?: { value?: string } };
    return res.status === 200 ? json.node?.value : undefined;
  }
  async list(key: string): Promise<string[]> {
    const res = await fetch(`${this.url}/v2/keys${this.prefix}${key}?recursive=true`);
    const json = (await res.json()) as { node?: { nodes?: { key: string }[] } };
    return (json.node?.nodes ?? []).map(n => n.key.slice(`${this.prefix}${key}/`.length));
  }
  /** fleet's determineJobState, from the keys as fleetctl reads them. */
  async currentState(name: string): Promise<string> {
    const target = await this.get(`job/${name}/target`);
    if (!target || (await this.get(`states/${name}/${target}`)) === undefined) return 'inactive';
    return (await this.get(`job/${name}/job-state`)) === target ? 'launched' : 'loaded';
  }
}

describe('fleetd on fleet v1.0 etcd v2 keyspace', { skip }, () => {
  test("fleetctl's etcd-driver writes are scheduled and run by fleetd; fleetctl's reads see fleet's states at each step", async () => {
    const { endpoint, prefix: base } = await etcd();
    const prefix = `${base}${randomBytes(4).toString('hex')}/`;
    const v2 = new V2(`http://${endpoint}`, prefix.slice(0, -1) + '/');
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-v2-'));
    const registry = new Etcd2Registry({ endpoints: [`http://${endpoint}`], prefix });
    let engine: Engine | undefined;
    let agent: RunningAgent | undefined;
    const machineId = 'f1ee7d0000000000000000000000000a';
    try {
      engine = await startEngine({ registry, machineId, intervalMs: 200 });
      agent = await startAgent({
        registry,
        machine: { id: machineId, publicIP: '127.0.0.2', metadata: { role: 'web' } },
        stateDir,
        ttlMs: 5_000,
        intervalMs: 500,
      });

      // fleetctl --driver=etcd submit hello.service, then start: its exact writes.
      for (const w of fx.fleetctlSubmit.writes) assert.equal(await v2.put(w.key, w.value, w.query), 201, w.key);
      for (const w of fx.fleetctlSubmit.startWrites) await v2.put(w.key, w.value);
      await waitFor(
        'hello.service launched (fleet: target = job-state, a state under the target)',
        async () => (await v2.currentState('hello.service')) === 'launched',
        { timeoutMs: 20_000 },
      );
      assert.equal(await v2.get('job/hello.service/target'), machineId);
      const state = JSON.parse((await v2.get(`states/hello.service/${machineId}`))!);
      assert.deepEqual(
        { load: state.loadState, active: state.activeState, machine: state.machineState.ID, hash: state.unitHash },
        { load: 'loaded', active: 'active', machine: machineId, hash: fx.fleetctlSubmit.writes[0].key.slice('unit/'.length) },
        "fleetctl start's active check reads the first state: it must be loaded/active",
      );
      assert.equal(await v2.get('engine/version'), '1');
      assert.deepEqual(JSON.parse((await v2.get('lease/engine-leader'))!), { MachineID: machineId, Version: 1 });
      // The unit really runs.
      await waitFor('the unit process', () => agent!.unitManager.states().then(s => s.some(x => x.name === 'hello.service' && x.activeState === 'active')), {
        timeoutMs: 5_000,
      });

      // fleetctl stop: target-state=loaded; fleetctl waits for `loaded` (state kept, job-state gone).
      for (const w of fx.fleetctlSubmit.stopWrites) await v2.put(w.key, w.value);
      await waitFor('hello.service loaded after stop', async () => (await v2.currentState('hello.service')) === 'loaded', { timeoutMs: 20_000 });
      assert.ok(await v2.get(`states/hello.service/${machineId}`), 'the state stays on stop, or fleetctl stop never sees `loaded`');

      // fleetctl destroy: the job directory goes; the agent unloads within its periodic pass.
      const d = fx.fleetctlSubmit.destroy;
      assert.equal(await v2.del(d.key, d.query), 200);
      await waitFor('the state of the destroyed unit removed', async () => (await v2.list('states')).length === 0, { timeoutMs: 20_000 });
      assert.ok(await v2.get(fx.fleetctlSubmit.writes[0].key), 'unit blobs are never deleted (fleet)');
    } finally {
      await agent?.stop();
      await engine?.stop();
      await registry.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test("a genuine fleet machine's presence (as fleet's heart writes it) is a machine fleetd's engine schedules onto", async () => {
    const { endpoint, prefix: base } = await etcd();
    const prefix = `${base}${randomBytes(4).toString('hex')}/`;
    const v2 = new V2(`http://${endpoint}`, prefix);
    const registry = new Etcd2Registry({ endpoints: [`http://${endpoint}`], prefix });
    let engine: Engine | undefined;
    try {
      const m = fx.fleetMachine;
      assert.equal(await v2.put(m.key, m.value, 'prevExist=false', 30), 201);
      const machines = await registry.listMachines();
      assert.deepEqual(
        machines.map(x => [x.id, x.publicIP, x.metadata, x.version]),
        [[m.key.split('/')[1], '127.0.0.11', { role: 'fleet' }, 'v1.0.0']],
      );
      engine = await startEngine({ registry, machineId: 'f1ee7d0000000000000000000000000b', intervalMs: 200 });
      await registry.putUnit({
        name: 'onfleet.service',
        options: [
          { section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' },
          { section: 'X-Fleet', name: 'MachineMetadata', value: 'role=fleet' },
        ],
        desiredState: 'launched',
      });
      await waitFor('scheduled onto the fleet machine', async () => (await v2.get('job/onfleet.service/target')) === m.key.split('/')[1], {
        timeoutMs: 10_000,
      });
      // What fleet's agent then writes is what fleetd reads as launched.
      await v2.put(fx.fleetState.key.replace('onfleet.service', 'onfleet.service'), fx.fleetState.value, '', 30);
      await v2.put(fx.fleetJobState.key, fx.fleetJobState.value, '', 30);
      const states = await registry.listUnitStates();
      assert.deepEqual(
        states.map(s => [s.name, s.machineId, s.activeState]),
        [['onfleet.service', m.key.split('/')[1], 'active']],
      );
      assert.equal((await registry.getSchedule()).get('onfleet.service')?.launchedOn, m.key.split('/')[1]);
    } finally {
      await engine?.stop();
      await registry.close();
    }
  });

  test('the watch resumes after etcd cleared its index (401): a full re-read, every machine woken, nothing missed', async () => {
    const { endpoint, prefix: base } = await etcd();
    const prefix = `${base}${randomBytes(4).toString('hex')}/`;
    const [port] = await freePorts(1);
    // A proxy that holds watch requests while `hold` is set: meanwhile more than etcd's 1000
    // remembered events happen, so the held watch arrives with an index etcd has dropped.
    let hold = false;
    let held = 0;
    const proxy = http.createServer((req, res) => {
      const forward = () => {
        const up = http.request({ host: '127.0.0.1', port: Number(endpoint.split(':')[1]), method: req.method, path: req.url, headers: req.headers }, r => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      };
      if (hold && /wait=true/.test(req.url ?? '')) {
        held++;
        const t = setInterval(() => {
          if (!hold) {
            clearInterval(t);
            forward();
          }
        }, 20);
        req.on('close', () => clearInterval(t));
      } else {
        forward();
      }
    });
    await new Promise<void>(r => proxy.listen(port, '127.0.0.1', () => r()));
    const logs: string[] = [];
    const watched = new Etcd2Registry({ endpoints: [`http://127.0.0.1:${port}`], prefix, log: (l, msg) => logs.push(`${l} ${msg}`) });
    const writer = new Etcd2Registry({ endpoints: [`http://${endpoint}`], prefix });
    try {
      let wakes = 0;
      watched.watchMachine('m1', () => wakes++);
      await writer.putUnit({ name: 'warmup.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], desiredState: 'inactive' });
      await waitFor('the watch to be live', async () => (await watched.machineView('m1')).units.length === 0 && logs.length === 0, { timeoutMs: 5_000 });
      hold = true;
      await writer.patchMachineMetadata([{ machineId: 'other', key: 'k', value: 'v0' }]);
      await waitFor('a held watch', async () => held > 0, { timeoutMs: 5_000 });
      // 1100 changes that concern nobody, then one that concerns m1.
      for (let i = 0; i < 1100; i += 50) {
        await writer.patchMachineMetadata(Array.from({ length: 50 }, (_, j) => ({ machineId: 'other', key: `k${(i + j) % 7}`, value: String(i + j) })));
      }
      await writer.putUnit({ name: 'mine.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], desiredState: 'launched' });
      await scheduleUnit(writer, 'mine.service', 'm1');
      wakes = 0;
      hold = false;
      await waitFor('m1 woken after the resync', async () => wakes > 0, { timeoutMs: 10_000 });
      assert.ok(
        logs.some(l => /no longer in etcd's history/.test(l)),
        `expected a 401 resync, log: ${logs.join('\n')}`,
      );
      await waitFor(
        "m1's view has the unit scheduled while the watch was behind",
        async () => (await watched.machineView('m1')).units.map(u => u.name).join() === 'mine.service',
        { timeoutMs: 5_000 },
      );
    } finally {
      await watched.close();
      await writer.close();
      await new Promise(r => proxy.close(r));
    }
  });
});
