/**
 * fleet/unitGraph over stdio: the built language server scans a workspace folder (samples/) and
 * answers with the graph of its index.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { UnitGraphRequest, type UnitGraph } from '../protocol/src/lsp';
import { ensureBuilt, LspHarness, ROOT } from '../server/test/lspHarness';

describe('fleet/unitGraph (built server)', () => {
  let h: LspHarness;
  const samples = pathToFileURL(path.join(ROOT, 'samples')).href;
  before(async () => {
    ensureBuilt();
    h = await LspHarness.start({ workspaceFolders: [{ uri: samples, name: 'samples' }] });
  });
  after(async () => {
    await h?.stop();
  });

  test('the samples folder: nodes with their files, the sidekick bound to nginx.1', async () => {
    let graph: UnitGraph = { nodes: [], edges: [] };
    // The scan runs after initialized: ask until the index has the samples (bounded).
    for (let i = 0; i < 50 && !graph.nodes.some(n => n.name === 'nginx-discovery.1.service'); i++) {
      graph = await h.withTimeout('fleet/unitGraph', h.connection.sendRequest(UnitGraphRequest.type), 5000);
      if (!graph.nodes.some(n => n.name === 'nginx-discovery.1.service')) await new Promise(r => setTimeout(r, 100));
    }
    const names = graph.nodes.map(n => n.name);
    for (const n of ['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-discovery.1.service', 'web@.service'])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    // samples/ and samples/docker/ both have nginx.1.service: the index keeps one (the first by URI).
    assert.match(graph.nodes.find(n => n.name === 'nginx.1.service')!.uri!, new RegExp(`^${samples}/(docker/)?nginx\\.1\\.service$`));
    const edges = graph.edges.map(e => `${e.from} ${e.kind} ${e.to}`);
    assert.ok(edges.includes('nginx-discovery.1.service MachineOf nginx.1.service'));
    assert.ok(edges.includes('nginx-discovery.1.service BindsTo nginx.1.service'));
  });
});
