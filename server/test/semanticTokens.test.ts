import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeTokens, defaultCatalog, semanticTokens, semanticTokensEdits, SEMANTIC_TOKENS_LEGEND } from '../src/service';
import { context, unitDoc } from './fixture';

/** Every token as `line:character text type[.modifiers]`. */
function tokens(text: string, name = 'web@1.service', ctx = context()): string[] {
  const lines = text.split('\n');
  return decodeTokens(semanticTokens(unitDoc(text, name), ctx)).map(
    t => `${t.line}:${t.character} ${lines[t.line]!.slice(t.character, t.character + t.length)} ${[t.type, ...t.modifiers].join('.')}`,
  );
}

describe('semantic tokens', () => {
  test('the legend lists the types and modifiers the data indexes', () => {
    assert.deepEqual(SEMANTIC_TOKENS_LEGEND.tokenModifiers, ['deprecated', 'declaration']);
    assert.equal(SEMANTIC_TOKENS_LEGEND.tokenTypes[0], 'namespace');
  });

  test('sections, keys, values by kind, specifiers, unit names, Exec prefixes, comments', () => {
    const text = [
      '# web',
      '[Unit]',
      'Description=Web %n',
      'After=db.service web@%i.service',
      '[Service]',
      'ExecStart=-/usr/bin/web --name %i',
      'TimeoutStartSec=90',
      'Restart=always',
      'RemainAfterExit=yes',
      'LimitNOFILE=4096',
      '[X-Fleet]',
      'X-Conflicts=web@*.service',
      'MachineOf=db.service',
      'Global=true',
      '',
    ].join('\n');
    assert.deepEqual(tokens(text), [
      '0:0 # web comment',
      '1:1 Unit namespace.declaration',
      '2:0 Description property',
      '2:16 %n macro',
      '3:0 After property',
      '3:6 db.service type',
      '3:17 web@ type',
      '3:21 %i macro',
      '3:23 .service type',
      '4:1 Service namespace.declaration',
      '5:0 ExecStart property',
      '5:10 - operator',
      '5:11 /usr/bin/web function',
      '5:31 %i macro',
      '6:0 TimeoutStartSec property',
      '6:16 90 number',
      '7:0 Restart property',
      '7:8 always enumMember',
      '8:0 RemainAfterExit property',
      '8:16 yes keyword',
      '9:0 LimitNOFILE property',
      '10:1 X-Fleet namespace.declaration',
      '11:0 X-Conflicts property.deprecated',
      '11:12 web@*.service type',
      '12:0 MachineOf property',
      '12:10 db.service type',
      '13:0 Global property',
      '13:7 true keyword',
    ]);
  });

  test('deprecated systemd directives carry the modifier; tokens never span a continuation line', () => {
    const text = '[Service]\nPermissionsStartOnly=yes\nExecStart=/bin/a \\\n  --flag\n# swallows \\\nnext line\n';
    assert.deepEqual(tokens(text, 'web.service', context({ catalog: defaultCatalog })), [
      '0:1 Service namespace.declaration',
      '1:0 PermissionsStartOnly property.deprecated',
      '1:21 yes keyword',
      '2:0 ExecStart property',
      '2:10 /bin/a function',
      '4:0 # swallows \\ comment',
      '5:0 next line comment',
    ]);
  });

  test('delta: one edit for the changed middle, none when equal', () => {
    const a = semanticTokens(unitDoc('[Unit]\nAfter=a.service\n[Service]\nType=simple\n'), context());
    const b = semanticTokens(unitDoc('[Unit]\nAfter=a.service b.service\n[Service]\nType=simple\n'), context());
    assert.deepEqual(semanticTokensEdits(a, a), []);
    const edits = semanticTokensEdits(a, b);
    assert.deepEqual(edits, [{ start: 15, deleteCount: 0, data: [0, 10, 9, 6, 0] }]);
    const applied = [...a];
    applied.splice(edits[0]!.start, edits[0]!.deleteCount, ...edits[0]!.data!);
    assert.deepEqual(applied, b);
  });
});
