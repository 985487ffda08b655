/**
 * What the cluster map's webview is sent (client/src/maps/mapDelta.ts): the whole map the first
 * time and after a reset, then only the parts that changed, numbered so that a delta applies only
 * to the map it was made from; applied, it gives the whole map.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterMap, type ClusterMap } from '../src/cluster/clusterMap';
import { ClusterSnapshot } from '../src/cluster/snapshot';
import { applyMapDelta, MapSender, type MapPayload } from '../src/maps/mapDelta';
import type { ApiUnit } from '../../protocol/src/api';
import { syntheticCluster } from '../../test/support/syntheticCluster';

/** The benchmarks' synthetic cluster (test/support/syntheticCluster.ts) as the model holds it. */
const cluster = (machines: number, units: number): ClusterSnapshot => ClusterSnapshot.normalize(syntheticCluster(machines, units));

/** The webview's side: the map it has and its message number. */
function receive(have: { map?: ClusterMap; seq?: number }, payload: MapPayload): { map: ClusterMap; seq: number } {
  if ('map' in payload) return { map: payload.map, seq: payload.seq };
  assert.equal(payload.delta.base, have.seq, 'a delta from the map the webview has');
  return { map: applyMapDelta(have.map!, payload.delta), seq: payload.seq };
}

describe('MapSender and applyMapDelta', () => {
  test("5,000 units: a unit's state change sends its machine box, a few hundred bytes instead of the whole map; applied, it is the whole map", () => {
    const snapshot = cluster(100, 5000);
    const sender = new MapSender();
    const first = sender.next(clusterMap(snapshot));
    assert.ok('map' in first, 'the first map goes whole');
    let have = receive({}, first);
    const failed = ClusterSnapshot.normalize({
      ...snapshot,
      states: snapshot.states.map((s, i) => (i === 1234 ? { ...s, systemdActiveState: 'failed' } : s)),
    });
    const next = clusterMap(failed);
    const payload = sender.next(next);
    assert.ok('delta' in payload);
    assert.deepEqual(
      payload.delta.machines.map(([i]) => i),
      [next.machines.findIndex(m => m.id === failed.states[1234]!.machineID)],
    );
    assert.deepEqual(Object.keys(payload.delta).sort(), ['base', 'machines'], 'relations, the band and the lane are unchanged: not sent');
    const whole = JSON.stringify(first).length;
    const sent = JSON.stringify(payload).length;
    assert.ok(whole > 90_000 && sent < 1_000, `${sent} bytes instead of ${whole}`);
    have = receive(have, payload);
    assert.deepEqual(have.map, next);
  });

  test('every part that changes is sent (band, lane, relations, what if and its end); other machines or a reset send the whole map', () => {
    const snapshot = cluster(3, 30);
    const sender = new MapSender();
    let have = receive({}, sender.next(clusterMap(snapshot)));
    const steps: ClusterMap[] = [];
    const global: ApiUnit = { name: 'g.service', desiredState: 'launched', options: [{ section: 'X-Fleet', name: 'Global', value: 'true' }] };
    const waiting: ApiUnit = { name: 'w.service', desiredState: 'launched', reason: 'no machine has metadata role=db' };
    const conflict: ApiUnit = {
      name: 'c.service',
      desiredState: 'launched',
      machineID: snapshot.machines[0]!.id,
      options: [{ section: 'X-Fleet', name: 'Conflicts', value: 'app-1.*' }],
    };
    const more = ClusterSnapshot.normalize({ ...snapshot, units: [...snapshot.units, global, waiting, conflict] });
    steps.push(clusterMap(more));
    steps.push(clusterMap(more, { hide: snapshot.machines[1]!.id }));
    steps.push(clusterMap(more));
    const parts: string[][] = [];
    for (const map of steps) {
      const payload = sender.next(map);
      assert.ok('delta' in payload);
      parts.push(
        Object.keys(payload.delta)
          .filter(k => k !== 'base' && k !== 'machines')
          .sort(),
      );
      if ('whatIf' in payload.delta && !map.whatIf) assert.equal(payload.delta.whatIf, null, 'the end of "what if" is sent as null');
      have = receive(have, payload);
      assert.deepEqual(have.map, map);
    }
    assert.deepEqual(parts, [['global', 'relations', 'waiting'], ['whatIf'], ['whatIf']]);
    const fewer = ClusterSnapshot.normalize({ ...more, machines: more.machines.slice(1) });
    assert.ok('map' in sender.next(clusterMap(fewer)), 'other machines: whole');
    sender.reset();
    assert.ok('map' in sender.next(clusterMap(fewer)), 'after a reset (the webview was reloaded): whole');
  });
});
