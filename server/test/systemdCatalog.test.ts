/** The service over the generated systemd catalog (the one the server ships with). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CompletionItemTag, type MarkupContent, type TextEdit } from 'vscode-languageserver-types';
import { FleetLanguageSettings } from '../../protocol/src/settings';
import { complete, defaultCatalog, diagnostics, hover } from '../src/service';
import { systemdCatalog as catalog } from '../src/service/systemdCatalog';
import { applyEdits, context, cursor, unitDoc } from './fixture';

const ctx = (systemdVersion = 252) => context({ catalog, settings: FleetLanguageSettings.from({ systemdVersion }) });
const labels = (fixture: string, version?: number) => {
  const { text, offset } = cursor(fixture);
  return complete(unitDoc(text), offset, ctx(version)).items.map(i => i.label);
};

describe('with the generated systemd catalog', () => {
  test('is the default catalog', () => {
    assert.equal(defaultCatalog, catalog);
    assert.deepEqual(catalog.booleanValues, ['yes', 'no', 'true', 'false', 'on', 'off', '1', '0']);
  });

  test('enum values follow fleet.systemdVersion', () => {
    assert.deepEqual(labels('[Service]\nType=$0', 252), ['simple', 'forking', 'oneshot', 'dbus', 'notify', 'idle', 'exec']);
    assert.ok(labels('[Service]\nType=$0', 254).includes('notify-reload'));
    assert.ok(!labels('[Service]\nType=$0', 240).includes('exec'));
  });

  test('value prefixes and enums that accept booleans', () => {
    const out = labels('[Service]\nStandardOutput=$0');
    assert.ok(out.includes('journal') && out.includes('file:') && out.includes('append:'), out.join());
    assert.deepEqual(labels('[Service]\nProtectSystem=$0'), ['no', 'yes', 'full', 'strict', 'true', 'false', 'on', 'off', '1', '0']);
  });

  test('directives of [Service], deprecated ones tagged and last; unit types decide the sections', () => {
    const { text, offset } = cursor('[Service]\n$0');
    const items = complete(unitDoc(text), offset, ctx()).items;
    const exec = items.find(i => i.label === 'ExecStart')!;
    assert.equal(exec.sortText, '0ExecStart');
    const old = items.find(i => i.label === 'BlockIOAccounting')!;
    assert.deepEqual(old.tags, [CompletionItemTag.Deprecated]);
    assert.equal(old.sortText, '2BlockIOAccounting');
    assert.match((old.documentation as MarkupContent).value, /_deprecated since systemd 252, use `IOAccounting=`; ignored since systemd 258_/);
    assert.deepEqual(labels('[$0', 252), ['Unit', 'Install', 'Service', 'X-Fleet']);
    const t = cursor('[Unit]\n[Ti$0');
    const timer = unitDoc(t.text, 'backup.timer');
    const item = complete(timer, t.offset, ctx()).items.find(i => i.label === 'Timer')!;
    assert.equal(applyEdits(timer, [item.textEdit as TextEdit]), '[Unit]\n[Timer]');
  });

  test("systemd problems link to the directive's manual entry", () => {
    const got = diagnostics(unitDoc('[Service]\nExecStart=/bin/true\nRestart=sometimes\n'), ctx());
    const d = got.find(x => x.range.start.line === 2);
    assert.ok(d, JSON.stringify(got));
    assert.equal(d.codeDescription?.href, 'https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html#Restart=');
  });

  test('hover shows the catalog entry with its link', () => {
    const { text, offset } = cursor('[Unit]\nAf$0ter=db.service\n');
    const h = hover(unitDoc(text), offset, ctx());
    assert.equal(
      (h!.contents as MarkupContent).value,
      [
        '**After=** in `[Unit]` — unit names, may repeat',
        '',
        'Ordering: this unit starts only after the listed units have finished starting.',
        '',
        '[systemd documentation](https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html#After=)',
      ].join('\n'),
    );
  });

  test('specifiers from the catalog, with values for this file', () => {
    const { text, offset } = cursor('[Service]\nExecStart=/bin/echo %$0');
    const items = complete(unitDoc(text, 'web@7.service'), offset, ctx()).items;
    assert.equal(items.length, 40);
    assert.deepEqual(items.find(i => i.label === '%i')!.documentation, {
      kind: 'markdown',
      value: '**%i** — Instance name (the part after @, escaped).\n\nIn `web@7.service`: `7`',
    });
  });
});
