import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MarkupContent } from 'vscode-languageserver-types';
import { parseUnitFile } from '../../unitfile/src';
import { applicableDropIns, complete, computeProblems, defaultCatalog, hover, type DropIn, type ServiceContext, type UnitDocument } from '../src/service';
import { context, cursor, indexed, unitDoc } from './fixture';

const drop = (unit: string, name: string, text: string): DropIn => ({ unit, name, file: parseUnitFile(text), uri: `file:///ws/${unit}.d/${name}` });

const DROP_INS = [
  drop('web@.service', '10-env.conf', '[Service]\nEnvironment=A=1\nRestart=always\n'),
  drop('web@1.service', '20-more.conf', '[Service]\nEnvironment=B=2\n'),
  drop('web@1.service', '30-reset.conf', '[Service]\nExecStartPre=\nExecStartPre=/bin/prep\n'),
  drop('db.service', 'override.conf', '[Service]\nRestart=on-failure\n'),
];

function ctx(): ServiceContext {
  const index = [
    indexed('web@.service', '[Service]\nExecStart=/bin/web\nExecStartPre=/bin/old\nRestart=no\n'),
    indexed('db.service', '[Service]\nExecStart=/bin/db\n'),
  ];
  return context({ catalog: defaultCatalog, dropIns: unit => DROP_INS.filter(d => d.unit === unit) }, index);
}

/** A drop-in document of `unit` (its unitName is the unit; dropIn set). */
function dropInDoc(text: string, unit: string, name: string): UnitDocument {
  const d = unitDoc(text, unit, `file:///ws/${unit}.d/${name}`);
  return { ...d, dropIn: true };
}

const hoverText = (doc: UnitDocument, offset: number) => (hover(doc, offset, ctx())!.contents as MarkupContent).value.split('\n---\n')[0]!.trim();

describe('drop-ins', () => {
  test("the order systemd applies them: by file name, an instance's own after (and over) its template's", () => {
    assert.deepEqual(
      applicableDropIns('web@1.service', u => DROP_INS.filter(d => d.unit === u)).map(d => `${d.unit}.d/${d.name}`),
      ['web@.service.d/10-env.conf', 'web@1.service.d/20-more.conf', 'web@1.service.d/30-reset.conf'],
    );
  });

  test('diagnostics against the unit type of the directory, without whole-unit rules', () => {
    const text = '[Service]\nRestart=sometimes\nOnCalendar=daily\n';
    const codes = (doc: UnitDocument) => computeProblems(doc, ctx()).map(p => [p.code, p.severity, doc.file.text.slice(p.start, p.end)]);
    assert.deepEqual(codes(dropInDoc(text, 'db.service', 'x.conf')), [
      ['invalid-value', 'warning', 'sometimes'],
      ['directive-wrong-section', 'warning', 'OnCalendar'],
    ]);
    // The same text as a unit file of its own: it also misses ExecStart=.
    assert.ok(codes(unitDoc(text, 'db.service')).some(c => c[0] === 'missing-required'));
    // In a timer's drop-in, [Service] is the unknown section.
    assert.deepEqual(codes(dropInDoc('[Timer]\nOnCalendar=daily\n', 'backup.timer', 'x.conf')), []);
  });

  test('a required setting in a drop-in counts for the unit (systemd loads the merged configuration)', () => {
    const codes = (name: string) => computeProblems(unitDoc('[Unit]\nDescription=x\n[Service]\nType=simple\n', name), ctx()).map(p => p.code);
    assert.deepEqual(codes('other.service'), ['missing-required']);
    const withExec = context({
      catalog: defaultCatalog,
      dropIns: u => (u === 'svc.service' ? [drop('svc.service', 'exec.conf', '[Service]\nExecStart=/bin/svc\n')] : []),
    });
    assert.deepEqual(
      computeProblems(unitDoc('[Unit]\nDescription=x\n[Service]\nType=simple\n', 'svc.service'), withExec).map(p => p.code),
      [],
    );
    // Drop-ins only lift a missing-required of the unit file; one that resets ExecStart= is not
    // reported on the unit (hover on ExecStart= shows the effective, empty, value).
    const reset = context({ catalog: defaultCatalog, dropIns: u => (u === 'svc.service' ? [drop('svc.service', 'x.conf', '[Service]\nExecStart=\n')] : []) });
    assert.deepEqual(
      computeProblems(unitDoc('[Service]\nExecStart=/bin/a\n', 'svc.service'), reset).map(p => p.code),
      [],
    );
  });

  test("completion offers the directives of the directory's unit type", () => {
    const { text, offset } = cursor('[$0');
    assert.deepEqual(
      complete(dropInDoc(text, 'backup.timer', 'x.conf'), offset, ctx()).items.map(i => i.label),
      ['Unit', 'Install', 'Timer', 'X-Fleet'],
    );
  });

  test('hover shows the effective configuration with the drop-ins merged (lists accumulate, empty resets)', () => {
    const unit = unitDoc('[Service]\nExecStart=/bin/web\nExecStartPre=/bin/old\nRestart=no\nEnvironment=Z=0\n', 'web@1.service');
    const at = (needle: string) => unit.file.text.indexOf(needle) + 1;
    assert.equal(
      hoverText(unit, at('Restart')),
      [
        '**Effective in `web@1.service`** (merged from `web@1.service`, `web@.service.d/10-env.conf`, `web@1.service.d/20-more.conf`, `web@1.service.d/30-reset.conf`):',
        '',
        '- `Restart=always` — from `web@.service.d/10-env.conf`',
      ].join('\n'),
    );
    assert.equal(
      hoverText(unit, at('Environment')),
      [
        '**Effective in `web@1.service`** (merged from `web@1.service`, `web@.service.d/10-env.conf`, `web@1.service.d/20-more.conf`, `web@1.service.d/30-reset.conf`):',
        '',
        '- `Environment=Z=0` — from `web@1.service`',
        '- `Environment=A=1` — from `web@.service.d/10-env.conf`',
        '- `Environment=B=2` — from `web@1.service.d/20-more.conf`',
      ].join('\n'),
    );
    assert.equal(hoverText(unit, at('ExecStartPre')).split('\n').at(-1), '- `ExecStartPre=/bin/prep` — from `web@1.service.d/30-reset.conf`');
    // In a drop-in being edited: its own text counts, the unit file comes from the workspace.
    const d = dropInDoc('[Service]\nRestart=on-abort\n', 'db.service', 'override.conf');
    assert.equal(
      hoverText(d, 12),
      [
        '**Effective in `db.service`** (merged from `db.service`, `db.service.d/override.conf`):',
        '',
        '- `Restart=on-abort` — from `db.service.d/override.conf`',
      ].join('\n'),
    );
    // A unit without drop-ins: the plain directive hover.
    assert.doesNotMatch(hoverText(unitDoc('[Service]\nRestart=no\n', 'other.service'), 12), /Effective/);
  });
});
