import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompletionItem, TextEdit } from 'vscode-languageserver-types';
import type { ClusterContext } from '../../protocol/src/lsp';
import { complete, defaultCatalog as systemdCatalog, type ServiceContext } from '../src/service';
import { applyEdits, context, cursor, indexed, unitDoc } from './fixture';

function completions(fixture: string, ctx: ServiceContext = context(), name = 'web.service') {
  const { text, offset } = cursor(fixture);
  const doc = unitDoc(text, name);
  const items = complete(doc, offset, ctx).items;
  for (const i of items) {
    assert.ok(
      i.documentation && typeof i.documentation === 'object' && i.documentation.kind === 'markdown' && i.documentation.value.length > 0,
      `${i.label} has markdown documentation`,
    );
  }
  return { doc, items, labels: items.map(i => i.label) };
}

/** The document after accepting the item (snippet syntax left as is). */
function accept(fixture: string, label: string, ctx: ServiceContext = context(), name = 'web.service'): string {
  const { doc, items } = completions(fixture, ctx, name);
  const item = items.find(i => i.label === label);
  assert.ok(item, `no item ${label} in ${items.map(i => i.label).join(', ')}`);
  return applyEdits(doc, [item.textEdit as TextEdit]);
}

const byLabel = (items: CompletionItem[], label: string) => items.find(i => i.label === label)!;

describe('completion', () => {
  test('section names after [, for the unit type, sections already present left out', () => {
    assert.deepEqual(completions('[Unit]\nDescription=x\n[$0').labels, ['Install', 'Service', 'X-Fleet']);
    assert.deepEqual(completions('[$0', context(), 'backup.timer').labels, ['Unit', 'Install', 'Timer', 'X-Fleet']);
    assert.equal(accept('[Unit]\n[Se$0', 'Service'), '[Unit]\n[Service]');
    assert.equal(accept('[Unit]\n[Se$0]\n', 'Service'), '[Unit]\n[Service]\n');
  });

  test('section headers on an empty line before any section', () => {
    assert.equal(accept('$0', '[Unit]'), '[Unit]');
  });

  test('[X-Fleet] keys (current spellings only) with value snippets', () => {
    const { labels } = completions('[Unit]\nDescription=x\n\n[X-Fleet]\nMach$0\n');
    assert.deepEqual(labels, ['MachineID', 'MachineOf', 'MachineMetadata', 'Conflicts', 'Global', 'Replaces']);
    assert.equal(accept('[X-Fleet]\nMach$0\n', 'MachineOf'), '[X-Fleet]\nMachineOf=$0\n');
    assert.equal(accept('[X-Fleet]\nGl$0\n', 'Global'), '[X-Fleet]\nGlobal=${1|true,false|}\n');
  });

  test('renaming an existing key keeps its value (no second =)', () => {
    assert.equal(accept('[X-Fleet]\nMach$0Of=db.service\n', 'MachineID'), '[X-Fleet]\nMachineID=db.service\n');
  });

  test('directives of the section, with choice snippets for enums and booleans', () => {
    const { labels, items } = completions('[Service]\nType=simple\n$0\n');
    assert.ok(labels.includes('ExecStart') && labels.includes('Restart') && !labels.includes('Description'), labels.join());
    // Already set and not repeatable: sorted last.
    assert.equal(byLabel(items, 'Type').sortText, '1Type');
    assert.equal(byLabel(items, 'ExecStart').sortText, '0ExecStart');
    assert.equal(accept('[Service]\nRest$0\n', 'Restart'), '[Service]\nRestart=${1|no,on-success,on-failure,on-abnormal,on-watchdog,on-abort,always|}\n');
    assert.equal(accept('[Service]\nRem$0\n', 'RemainAfterExit'), '[Service]\nRemainAfterExit=${1|yes,no,true,false,on,off,1,0|}\n');
    assert.equal(accept('[Service]\nExecSt$0\n', 'ExecStart'), '[Service]\nExecStart=$0\n');
  });

  test('enum values and booleans after =', () => {
    assert.deepEqual(completions('[Service]\nRestart=on-$0\n').labels, ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always']);
    assert.equal(accept('[Service]\nRestart=on-$0\n', 'on-failure'), '[Service]\nRestart=on-failure\n');
    assert.deepEqual(completions('[Service]\nRemainAfterExit=$0').labels, ['yes', 'no', 'true', 'false', 'on', 'off', '1', '0']);
    assert.deepEqual(completions('[Service]\nExecStart=/bin/$0').labels, []);
  });

  test('each enum value carries a one-line explanation beside it', () => {
    // The catalog the server runs with (generated from systemd's tables).
    const real = context({ catalog: systemdCatalog });
    const { items } = completions('[Service]\nRestart=$0\n', real);
    const onFailure = byLabel(items, 'on-failure');
    assert.deepEqual(onFailure.labelDetails, { description: 'Restarted on a non-zero exit, a signal, a timeout or a watchdog timeout.' });
    assert.match((onFailure.documentation as { value: string }).value, /^\*\*Restart=on-failure\*\* — Restarted on a non-zero exit/);
    assert.equal(new Set(items.map(i => i.labelDetails?.description)).size, items.length, 'a different line for each value');
    assert.equal(
      byLabel(completions('[Service]\nType=$0\n', real).items, 'oneshot').labelDetails?.description,
      'Started once the process has exited: a task that runs and ends.',
    );
  });

  test("specifiers after %, with this file's values", () => {
    const { items } = completions('[Service]\nExecStart=/bin/echo %$0', context(), 'web@1.service');
    assert.ok(items.length >= 10);
    const i = byLabel(items, '%i');
    assert.deepEqual(i.documentation, { kind: 'markdown', value: '**%i** — Instance name (the part after @, escaped).\n\nIn `web@1.service`: `1`' });
    assert.equal(accept('[Service]\nExecStart=/bin/echo %$0', '%p', context(), 'web@1.service'), '[Service]\nExecStart=/bin/echo %p');
    // In [X-Fleet], only the four fleet substitutes.
    assert.deepEqual(completions('[X-Fleet]\nMachineOf=db@%$0', context(), 'web@1.service').labels, ['%n', '%N', '%p', '%i']);
  });

  test('unit names from the workspace and the cluster for dependencies and MachineOf', () => {
    const ctx = context({ cluster: { machines: [], units: ['cache.service', 'db.service'] } }, [
      indexed('db.service', '[Unit]\n'),
      indexed('web.service', '[Unit]\n'),
      indexed('log.socket', '[Socket]\n'),
    ]);
    assert.deepEqual(completions('[Unit]\nAfter=network.target d$0\n', ctx).labels, ['cache.service', 'db.service', 'log.socket']);
    assert.equal(accept('[Unit]\nAfter=network.target d$0\n', 'db.service', ctx), '[Unit]\nAfter=network.target db.service\n');
    assert.deepEqual(completions('[X-Fleet]\nMachineOf=$0', ctx).labels, ['cache.service', 'db.service', 'log.socket']);
    assert.deepEqual(completions('[Install]\nWantedBy=$0', ctx).labels, ['cache.service', 'db.service', 'log.socket']);
    // Inside fleet's quoted list: the name goes between the quotes.
    assert.equal(accept('[X-Fleet]\nMachineOf="log.socket" "d$0"\n', 'db.service', ctx), '[X-Fleet]\nMachineOf="log.socket" "db.service"\n');
    assert.equal(byLabel(completions('[X-Fleet]\nConflicts=$0', ctx).items, 'cache.service').detail, 'cluster unit');
  });

  test('MachineOf= offers only units fleet places on one machine: no templates, no global units', () => {
    const ctx = context({ cluster: { machines: [], units: ['cache.service', 'worker@.service', 'worker@1.service'] } }, [
      indexed('db.service', '[Service]\nExecStart=/bin/db\n'),
      indexed('web@.service', '[Service]\nExecStart=/bin/web\n'),
      indexed('logs.service', '[Service]\nExecStart=/bin/logs\n[X-Fleet]\nGlobal=true\n'),
    ]);
    assert.deepEqual(completions('[X-Fleet]\nMachineOf=$0', ctx).labels, ['cache.service', 'db.service', 'worker@1.service']);
    // Conflicts= and Replaces= still offer every unit.
    assert.deepEqual(completions('[X-Fleet]\nConflicts=$0', ctx).labels, [
      'cache.service',
      'db.service',
      'logs.service',
      'web@.service',
      'worker@.service',
      'worker@1.service',
    ]);
  });

  test('MachineID and MachineMetadata from the cluster context', () => {
    const cluster: ClusterContext = {
      machines: [
        { id: '4d389537d9d14bdabe8be54a9c29f68d', primaryIP: '10.0.0.1', metadata: { region: 'us', disk: 'ssd' } },
        { id: 'b2a1c3d4e5f60718293a4b5c6d7e8f90', metadata: { region: 'eu' } },
      ],
      units: [],
    };
    const ids = completions('[X-Fleet]\nMachineID=$0', context({ cluster }));
    assert.deepEqual(ids.labels, ['4d389537d9d14bdabe8be54a9c29f68d', 'b2a1c3d4e5f60718293a4b5c6d7e8f90']);
    assert.equal(ids.items[0]!.detail, '4d389537 (10.0.0.1) region=us,disk=ssd');
    assert.deepEqual(completions('[X-Fleet]\nMachineMetadata=$0', context({ cluster })).labels, ['disk=ssd', 'region=eu', 'region=us']);
    assert.deepEqual(completions('[X-Fleet]\nMachineID=$0').labels, []);
  });

  test('Global values', () => {
    assert.deepEqual(completions('[X-Fleet]\nGlobal=$0').labels, ['true', 'false']);
  });

  test('nothing in comments or after a closed header', () => {
    assert.deepEqual(completions('[Unit]\n# Desc$0\n').labels, []);
    assert.deepEqual(completions('[Unit] $0\n').labels, []);
  });
});
