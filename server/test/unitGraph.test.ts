/**
 * The unit graph from a workspace index: the samples/ folder as a user has it, plus small inline
 * workspaces for the problems. Messages must be the language server's own (its diagnostics for
 * the same files are computed here too and compared).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { diagnostics, defaultCatalog, unitGraph, WorkspaceIndex } from '../src/service';
import { context, indexed, unitDoc } from './fixture';

const SAMPLES = join(__dirname, '../../samples');
const samples = readdirSync(SAMPLES)
  .filter(f => f.endsWith('.service'))
  .map(f => indexed(f, readFileSync(join(SAMPLES, f), 'utf8')));
const edgeList = (g: ReturnType<typeof unitGraph>) => g.edges.map(e => `${e.from} ${e.kind} ${e.to}`).sort();

describe('unitGraph', () => {
  test('the samples: systemd and fleet edges, globs resolved, never to itself', () => {
    const g = unitGraph(WorkspaceIndex.of(samples), defaultCatalog);
    const edges = edgeList(g);
    for (const e of [
      'nginx-discovery.1.service BindsTo nginx.1.service',
      'nginx-discovery.1.service After nginx.1.service',
      'nginx-discovery.1.service MachineOf nginx.1.service',
      'nginx.1.service Conflicts nginx.2.service',
      'nginx.1.service Conflicts nginx.3.service',
    ]) {
      assert.ok(edges.includes(e), `missing ${e} in\n${edges.join('\n')}`);
    }
    assert.ok(!edges.some(e => /^(\S+) \S+ \1$/.test(e)));
    const conflict = g.edges.find(e => e.from === 'nginx.1.service' && e.kind === 'Conflicts')!;
    assert.equal(conflict.written, 'nginx.*.service');
    assert.ok(
      g.nodes.every(n => n.uri?.startsWith('file:///ws/')),
      'every node is a workspace file',
    );
    assert.ok(g.nodes.every(n => n.problems.length === 0));
  });

  test('a unit outside the workspace is a node without a file; templates group with their instances', () => {
    const g = unitGraph(
      WorkspaceIndex.of([
        indexed('web@.service', '[Unit]\nRequires=docker.service\nAfter=docker.service\n[X-Fleet]\nConflicts=web@*.service\n'),
        indexed('web@1.service', '[Unit]\nWants=db.service\n[X-Fleet]\nConflicts=web@*.service\n'),
        indexed('web@2.service', '[Unit]\nPartOf=web@1.service\nBefore=db.service\n[X-Fleet]\nReplaces=web@1.service\n'),
        indexed('db.service', '[Unit]\nDescription=db\n'),
      ]),
      defaultCatalog,
    );
    const docker = g.nodes.find(n => n.name === 'docker.service')!;
    assert.equal(docker.uri, undefined);
    assert.deepEqual(
      g.nodes.filter(n => n.group === 'web@.service').map(n => n.name),
      ['web@.service', 'web@1.service', 'web@2.service'],
    );
    assert.deepEqual(edgeList(g), [
      'web@.service After docker.service',
      'web@.service Conflicts web@1.service',
      'web@.service Conflicts web@2.service',
      'web@.service Requires docker.service',
      'web@1.service Conflicts web@.service',
      'web@1.service Conflicts web@2.service',
      'web@1.service Wants db.service',
      'web@2.service Before db.service',
      'web@2.service PartOf web@1.service',
      'web@2.service Replaces web@1.service',
    ]);
  });

  test('a MachineOf cycle: the nodes and edges carry the diagnostic the editor shows', () => {
    const ws = [
      indexed('a.service', '[X-Fleet]\nMachineOf=b.service\n'),
      indexed('b.service', '[X-Fleet]\nMachineOf=a.service\n'),
      indexed('c.service', '[X-Fleet]\nMachineOf=a.service\n'),
    ];
    const g = unitGraph(WorkspaceIndex.of(ws), defaultCatalog);
    const editor = diagnostics(unitDoc(ws[0]!.file.text, 'a.service'), context({}, ws)).find(d => d.code === 'xfleet-machineof-cycle')!;
    assert.ok(editor, 'the editor reports the cycle');
    assert.deepEqual(g.nodes.find(n => n.name === 'a.service')!.problems, [editor.message]);
    assert.match(String(editor.message), /^MachineOf cycle: ([ab])\.service → [ab]\.service → \1\.service; fleet can never schedule these units$/);
    assert.match(g.edges.find(e => e.from === 'a.service')!.problem!, /^MachineOf cycle: /);
    assert.match(g.edges.find(e => e.from === 'b.service')!.problem!, /^MachineOf cycle: /);
    assert.equal(g.edges.find(e => e.from === 'c.service')!.problem, undefined);
    assert.deepEqual(g.nodes.find(n => n.name === 'c.service')!.problems, []);
  });

  test("a MachineOf peer matched by a Conflicts glob: both edges carry fleet's message", () => {
    const ws = [
      indexed('side.service', '[X-Fleet]\nMachineOf=app.1.service\nConflicts=app.*.service\n'),
      indexed('app.1.service', ''),
      indexed('app.2.service', ''),
    ];
    const g = unitGraph(WorkspaceIndex.of(ws), defaultCatalog);
    const editor = diagnostics(unitDoc(ws[0]!.file.text, 'side.service'), context({}, ws))
      .filter(d => d.code === 'fleet-options')
      .map(d => String(d.message));
    const message = 'unresolvable requirements: peer "app.1.service" matches conflict "app.*.service"';
    assert.ok(editor.includes(message), `the editor says: ${editor.join(' | ')}`);
    assert.deepEqual(g.nodes.find(n => n.name === 'side.service')!.problems, [message]);
    const flagged = g.edges
      .filter(e => e.problem === message)
      .map(e => `${e.kind} ${e.to}`)
      .sort();
    assert.deepEqual(flagged, ['Conflicts app.1.service', 'MachineOf app.1.service']);
    assert.equal(g.edges.find(e => e.kind === 'Conflicts' && e.to === 'app.2.service')!.problem, undefined);
  });
});
