/**
 * `GET /units/{name}` on etcd reads the unit's own keys (EtcdRegistry.unitDetail: its job keys
 * and its states in one transaction, and the reasons), not the whole schedule and every state;
 * what it answers is exactly what the full read answered: scheduled and launched, unscheduled with
 * a reason, global, a name that is a prefix of another's, a missing unit (404).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Registry, UnitStateRecord } from '../../registry/src/registry';
import { ApiError } from '../../registry/src/api/errors';
import { UnitsResource } from '../../registry/src/api/units';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { etcdBinary, skipUnlessAvailable, useEtcd } from '../../test/support';
import { saveUnitState, scheduleUnit, setLaunched } from '../../registry/test/registryOps';

const M1 = '1'.repeat(32);
const M2 = '2'.repeat(32);
const service = (exec: string, extra: { section: string; name: string; value: string }[] = []) => [
  { section: 'Service', name: 'ExecStart', value: exec },
  ...extra,
];
const state = (name: string, machineId: string, activeState: string): UnitStateRecord => ({
  name,
  machineId,
  hash: 'a'.repeat(40),
  loadState: 'loaded',
  activeState,
  subState: activeState === 'active' ? 'running' : 'dead',
});

test("on etcd: GET /units/{name} from the unit's own keys answers what the full read answered", { skip: skipUnlessAvailable(etcdBinary()) }, async () => {
  const etcd = await useEtcd('api-unit-detail');
  const registry = await EtcdRegistry.connect({ endpoints: [etcd.endpoint], prefix: etcd.prefix, callTimeoutMs: 5_000 });
  try {
    await registry.putUnit({ name: 'web.service', options: service('/bin/sleep 1'), desiredState: 'launched' });
    await registry.putUnit({ name: 'web.service.d.service', options: service('/bin/sleep 2'), desiredState: 'loaded' });
    await registry.putUnit({
      name: 'waiting.service',
      options: service('/bin/sleep 3', [{ section: 'X-Fleet', name: 'MachineMetadata', value: 'disk=none' }]),
      desiredState: 'launched',
    });
    await registry.putUnit({
      name: 'everywhere.service',
      options: service('/bin/sleep 4', [{ section: 'X-Fleet', name: 'Global', value: 'true' }]),
      desiredState: 'launched',
    });
    assert.equal(await scheduleUnit(registry, 'web.service', M1), true);
    assert.equal(await scheduleUnit(registry, 'web.service.d.service', M2), true);
    await setLaunched(registry, 'web.service', M1, 30_000);
    await saveUnitState(registry, state('web.service', M1, 'active'), 30_000);
    await saveUnitState(registry, state('web.service.d.service', M2, 'inactive'), 30_000);
    await saveUnitState(registry, state('everywhere.service', M1, 'active'), 30_000);
    await saveUnitState(registry, state('everywhere.service', M2, 'active'), 30_000);
    await registry.setUnitReasons(new Map([['waiting.service', 'no machine has disk=none']]));

    // The old way, for comparison: the same resource over a registry without unitDetail.
    const withoutDetail = new Proxy(registry, {
      get: (target, prop) => (prop === 'unitDetail' ? undefined : (Reflect.get(target, prop, target) as unknown)),
    }) as unknown as Registry;
    let ranges = 0;
    const counting = new Proxy(registry, {
      get: (target, prop) => {
        if (prop === 'getSchedule' || prop === 'listUnitStates' || prop === 'listUnits') ranges++;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as unknown as Registry;
    const fast = new UnitsResource(counting, 100);
    const full = new UnitsResource(withoutDetail, 100);
    for (const name of ['web.service', 'web.service.d.service', 'waiting.service', 'everywhere.service']) {
      assert.deepEqual(await fast.get(name), await full.get(name), name);
    }
    assert.equal(ranges, 0, 'no whole-cluster read for one unit');
    const web = await fast.get('web.service');
    assert.deepEqual([web.currentState, web.machineID], ['launched', M1]);
    assert.equal((await fast.get('waiting.service')).reason, 'no machine has disk=none');
    assert.equal((await fast.get('web.service.d.service')).currentState, 'loaded', "a name that starts with another's keeps its own states");
    await assert.rejects(fast.get('gone.service'), (err: unknown) => err instanceof ApiError && err.status === 404);
  } finally {
    await registry.close();
    await etcd.stop();
  }
});
