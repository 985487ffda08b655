import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterPhrase, clusterTitle, LOCAL_CLUSTER_NAME, registryCopyTitle, unitOfTitle } from '../src/cluster/clusterName';

describe('how the UI names the active cluster', () => {
  test('by profile name; the local cluster as such; the API label only without a name', () => {
    assert.equal(clusterTitle(LOCAL_CLUSTER_NAME, 'Local cluster (unix:///run/fleet.sock)'), 'local cluster');
    assert.equal(clusterPhrase(LOCAL_CLUSTER_NAME, 'Local cluster (unix:///run/fleet.sock)'), 'the local cluster');
    assert.equal(clusterTitle('prod', 'core@bastion:22 → unix:///var/run/fleet.sock'), 'prod');
    assert.equal(clusterPhrase('prod', 'x'), 'prod');
    assert.equal(clusterTitle(undefined, 'http://10.0.0.5:49153'), 'http://10.0.0.5:49153');
  });

  test('a registry copy is titled with its cluster, and the unit name is read back from the title', () => {
    assert.equal(registryCopyTitle('nginx.1.service', 'local cluster'), 'nginx.1.service (local cluster)');
    assert.equal(unitOfTitle('nginx.1.service (local cluster)'), 'nginx.1.service');
    assert.equal(unitOfTitle('web@1.service (local file, as fleet stores it)'), 'web@1.service');
    assert.equal(unitOfTitle('nginx.1.service'), 'nginx.1.service');
  });
});
