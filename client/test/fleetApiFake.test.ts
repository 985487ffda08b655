import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeFleetApi } from '../src/api/fake';
import { FleetApiError, type FleetApi } from '../src/api/types';

const exec = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];
const M1 = '11111111aaaaaaaaaaaaaaaaaaaaaaaa';
const M2 = '22222222bbbbbbbbbbbbbbbbbbbbbbbb';

describe('FakeFleetApi', () => {
  it('is a FleetApi', () => {
    const api: FleetApi = new FakeFleetApi();
    assert.equal(api.label, 'fake://fleet');
  });

  it('moves units through fleetctl\'s states and publishes unit states', async () => {
    const api = new FakeFleetApi({ machines: [{ id: M2 }, { id: M1, primaryIP: '10.0.0.1' }] });
    await api.createUnit('a.service', exec, 'inactive');
    assert.deepEqual(await api.getUnit('a.service'), { name: 'a.service', options: exec, desiredState: 'inactive', currentState: 'inactive' });
    assert.deepEqual(await api.listUnitStates(), []);

    await api.setUnitTargetState('a.service', 'launched');
    const launched = await api.getUnit('a.service');
    assert.equal(launched?.currentState, 'launched');
    assert.equal(launched?.machineID, M1, 'least loaded, ties to the smallest ID');
    const [state] = await api.listUnitStates();
    assert.deepEqual({ ...state, hash: undefined }, { name: 'a.service', hash: undefined, machineID: M1, systemdLoadState: 'loaded', systemdActiveState: 'active', systemdSubState: 'running' });
    assert.match(state!.hash!, /^[0-9a-f]{40}$/);

    await api.setUnitTargetState('a.service', 'loaded');
    assert.equal((await api.getUnit('a.service'))?.machineID, M1, 'stays on its machine');
    assert.equal((await api.listUnitStates())[0]?.systemdActiveState, 'inactive');

    await api.createUnit('b.service', exec, 'launched');
    assert.equal((await api.getUnit('b.service'))?.machineID, M2, 'spreads load');

    await api.setUnitTargetState('a.service', 'inactive');
    assert.equal((await api.getUnit('a.service'))?.machineID, undefined);
    assert.deepEqual((await api.listUnitStates()).map(s => s.name), ['b.service']);

    assert.equal(await api.destroyUnit('b.service'), true);
    assert.equal(await api.destroyUnit('b.service'), false);
    assert.deepEqual(await api.listUnitStates(), []);
    assert.deepEqual((await api.listUnits()).map(u => u.name), ['a.service']);
  });

  it('honours MachineID (also the short ID) and explains an impossible one', async () => {
    const api = new FakeFleetApi({ machines: [{ id: M1 }, { id: M2 }] });
    await api.createUnit('pinned.service', [...exec, { section: 'X-Fleet', name: 'MachineID', value: '22222222' }], 'launched');
    assert.equal((await api.getUnit('pinned.service'))?.machineID, M2);
    await api.createUnit('nowhere.service', [...exec, { section: 'X-Fleet', name: 'MachineID', value: 'ffffffff' }], 'launched');
    const nowhere = await api.getUnit('nowhere.service');
    assert.equal(nowhere?.currentState, 'inactive');
    assert.equal(nowhere?.reason, 'no machine with ID ffffffff');
  });

  it('global units run everywhere and list as inactive, as fleet shows them', async () => {
    const api = new FakeFleetApi({ machines: [{ id: M1 }, { id: M2 }] });
    await api.createUnit('g.service', [...exec, { section: 'X-Fleet', name: 'Global', value: 'true' }], 'launched');
    assert.equal((await api.getUnit('g.service'))?.currentState, 'inactive');
    assert.deepEqual((await api.listUnitStates()).map(s => s.machineID), [M1, M2]);
  });

  it('settles only on settle() when asked to', async () => {
    const api = new FakeFleetApi({ settleImmediately: false });
    await api.createUnit('slow.service', exec, 'launched');
    assert.equal((await api.getUnit('slow.service'))?.currentState, 'inactive');
    api.settle();
    assert.equal((await api.getUnit('slow.service'))?.currentState, 'launched');
  });

  it('rejects what fleet rejects, with fleet\'s messages', async () => {
    const api = new FakeFleetApi();
    await assert.rejects(api.setUnitTargetState('ghost.service', 'launched'), { message: 'fleet API 409: unit does not exist and options field empty', status: 409 });
    await assert.rejects(api.createUnit('empty.service', [], 'inactive'), { message: 'fleet API 409: unit does not exist and options field empty' });
    await assert.rejects(api.createUnit('web@.service', exec, 'launched'), { message: 'fleet API 400: cannot activate template "web@.service"', status: 400 });
  });

  it('injects failures once per call and records every call', async () => {
    const api = new FakeFleetApi();
    api.failNext('listUnits');
    api.failNext('listUnits', new FleetApiError('fleet API 503: fleet server unable to communicate with etcd', 503));
    await assert.rejects(api.listUnits(), (err: FleetApiError) => err.kind === 'network');
    await assert.rejects(api.listUnits(), { status: 503 });
    assert.deepEqual(await api.listUnits(), []);
    assert.deepEqual(api.calls.map(c => c.method), ['listUnits', 'listUnits', 'listUnits']);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(api.listMachines(aborted.signal), { name: 'AbortError' });
    api.dispose();
    await assert.rejects(api.listMachines(), { kind: 'config' });
  });

  it('returns copies, so callers cannot change the cluster by accident', async () => {
    const api = new FakeFleetApi();
    await api.createUnit('a.service', exec, 'inactive');
    const unit = await api.getUnit('a.service');
    unit!.options![0]!.value = 'changed';
    assert.equal((await api.getUnit('a.service'))?.options?.[0]?.value, '/bin/sleep 1000');
  });

  it('serves and follows journals', async () => {
    const api = new FakeFleetApi();
    for (const text of ['one', 'two', 'three']) api.appendJournal('a.service', { text, machineID: M1, time: 1 });
    api.appendJournal('a.service', { text: 'elsewhere', machineID: M2, time: 2 });
    assert.deepEqual((await api.journal('a.service', { lines: 2 })).map(l => l.text), ['three', 'elsewhere']);
    assert.deepEqual((await api.journal('a.service', { machineId: M1, lines: 0 })).map(l => l.text), []);
    assert.deepEqual((await api.journal('a.service', { machineId: M1 })).map(l => l.text), ['one', 'two', 'three']);
    const controller = new AbortController();
    const seen: string[] = [];
    // As fleetd: the backlog first (here the last 2 lines of machine M1), then what follows, once.
    const following = api.followJournal('a.service', l => seen.push(l.text), controller.signal, { lines: 2, machineId: M1 });
    assert.equal(api.followerCount('a.service'), 1);
    api.appendJournal('a.service', { text: 'live', stream: 'stderr', machineID: M1 });
    api.appendJournal('a.service', { text: 'live elsewhere', machineID: M2 });
    controller.abort();
    await following;
    assert.deepEqual(seen, ['two', 'three', 'live']);
    assert.equal(api.followerCount('a.service'), 0);
  });
});
