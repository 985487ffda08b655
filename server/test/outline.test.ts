import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SymbolKind } from 'vscode-languageserver-types';
import { documentSymbols, foldingRanges } from '../src/service';
import { unitDoc } from './fixture';

const r = (l0: number, c0: number, l1: number, c1: number) => ({ start: { line: l0, character: c0 }, end: { line: l1, character: c1 } });

const TEXT = [
  '# header comment', //                0
  '# second line', //                   1
  '[Unit]', //                          2
  'Description=Web', //                 3
  '', //                                4
  '[Service]', //                       5
  'ExecStart=/bin/sh -c \\', //         6
  '  "echo hi"', //                     7
  'Restart=always', //                  8
  '', //                                9
  '',
].join('\n');

describe('document symbols', () => {
  test('sections with their directives as children', () => {
    assert.deepEqual(documentSymbols(unitDoc(TEXT)), [
      {
        name: '[Unit]',
        kind: SymbolKind.Namespace,
        range: r(2, 0, 3, 15),
        selectionRange: r(2, 0, 2, 6),
        children: [{ name: 'Description', detail: 'Web', kind: SymbolKind.Property, range: r(3, 0, 3, 15), selectionRange: r(3, 0, 3, 11) }],
      },
      {
        name: '[Service]',
        kind: SymbolKind.Namespace,
        range: r(5, 0, 8, 14),
        selectionRange: r(5, 0, 5, 9),
        children: [
          { name: 'ExecStart', detail: '/bin/sh -c "echo hi"', kind: SymbolKind.Property, range: r(6, 0, 7, 11), selectionRange: r(6, 0, 6, 9) },
          { name: 'Restart', detail: 'always', kind: SymbolKind.Property, range: r(8, 0, 8, 14), selectionRange: r(8, 0, 8, 7) },
        ],
      },
    ]);
  });

  test('long values are shortened; broken files still give an outline', () => {
    const long = 'x'.repeat(200);
    const [s] = documentSymbols(unitDoc(`[Unit]\nDescription=${long}\n`));
    assert.equal(s!.children![0]!.detail, `${'x'.repeat(79)}…`);
    const broken = documentSymbols(unitDoc('[Unit\nDescription=x'));
    assert.deepEqual(
      broken.map(x => [x.name, x.children!.map(c => c.name)]),
      [['[Unit]', ['Description']]],
    );
    assert.deepEqual(documentSymbols(unitDoc('')), []);
  });
});

describe('folding ranges', () => {
  test('sections, continuations and comment blocks', () => {
    assert.deepEqual(foldingRanges(unitDoc(TEXT)), [
      { startLine: 0, endLine: 1, kind: 'comment' },
      { startLine: 2, endLine: 3 },
      { startLine: 5, endLine: 8 },
      { startLine: 6, endLine: 7 },
    ]);
  });

  test('single lines do not fold', () => {
    assert.deepEqual(foldingRanges(unitDoc('# one\n[Unit]\n')), []);
  });
});
