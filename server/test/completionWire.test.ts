import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CompletionItemKind, InsertTextFormat, MarkupKind, type CompletionItem, type CompletionList } from 'vscode-languageserver';
import { CompletionWire } from '../src/lsp/completionWire';

const range = { start: { line: 3, character: 0 }, end: { line: 3, character: 4 } };
const doc = (v: string) => ({ kind: MarkupKind.Markdown, value: v });
const list = (): CompletionList => ({
  isIncomplete: false,
  items: [
    {
      label: 'After',
      kind: CompletionItemKind.Property,
      detail: 'ordering',
      documentation: doc('after'),
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: { range, newText: 'After=$0' },
    },
    {
      label: 'Wants',
      kind: CompletionItemKind.Property,
      detail: 'weak dependency',
      documentation: doc('wants'),
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: { range, newText: 'Wants' },
    },
    {
      label: 'Wants',
      kind: CompletionItemKind.Property,
      detail: 'again',
      documentation: doc('wants 2'),
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: { range, newText: 'Wants' },
    },
  ],
});
/** What a client does with an item before resolving it: itemDefaults.data when it has none. */
const asClientSends = (l: CompletionList, item: CompletionItem): CompletionItem => ({ ...item, data: item.data ?? l.itemDefaults?.data });

describe('CompletionWire', () => {
  test('a client without itemDefaults or lazy detail gets whole items, minus documentation (resolved by index)', async () => {
    const wire = new CompletionWire();
    wire.configure({});
    const l = wire.compact(list());
    assert.equal(l.itemDefaults, undefined);
    assert.deepEqual(l.items[0], {
      label: 'After',
      kind: CompletionItemKind.Property,
      detail: 'ordering',
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: { range, newText: 'After=$0' },
      data: { fleetDoc: 1, index: 0 },
    });
    assert.deepEqual(wire.resolve(l.items[2]!).documentation, doc('wants 2'));
  });

  test('with itemDefaults and lazy detail: shared range, format and data move to the list; resolve adds detail and documentation', () => {
    const wire = new CompletionWire();
    wire.configure({
      textDocument: {
        completion: {
          completionItem: { resolveSupport: { properties: ['documentation', 'detail'] } },
          completionList: { itemDefaults: ['editRange', 'insertTextFormat', 'data'] },
        },
      },
    });
    const l = wire.compact(list());
    assert.deepEqual(l.itemDefaults, { data: { fleetDoc: 1 }, editRange: range, insertTextFormat: InsertTextFormat.Snippet });
    assert.deepEqual(l.items, [
      { label: 'After', kind: CompletionItemKind.Property, textEditText: 'After=$0' },
      { label: 'Wants', kind: CompletionItemKind.Property },
      // A repeated label cannot be found by label: it keeps its own data.
      { label: 'Wants', kind: CompletionItemKind.Property, data: { fleetDoc: 1, index: 0 } },
    ]);
    const after = wire.resolve(asClientSends(l, l.items[0]!));
    assert.equal(after.detail, 'ordering');
    assert.deepEqual(after.documentation, doc('after'));
    assert.equal(wire.resolve(asClientSends(l, l.items[1]!)).detail, 'weak dependency');
    assert.equal(wire.resolve(asClientSends(l, l.items[2]!)).detail, 'again');
    // A newer list makes older items resolve to themselves.
    wire.compact(list());
    assert.equal(wire.resolve(asClientSends(l, l.items[0]!)).documentation, undefined);
  });

  test('items with different ranges or formats keep their own', () => {
    const wire = new CompletionWire();
    wire.configure({ textDocument: { completion: { completionList: { itemDefaults: ['editRange', 'insertTextFormat'] } } } });
    const input = list();
    input.items[1]!.textEdit = { range: { ...range, end: { line: 3, character: 2 } }, newText: 'Wants' };
    input.items[2]!.insertTextFormat = InsertTextFormat.PlainText;
    const l = wire.compact(input);
    assert.equal(l.itemDefaults, undefined);
    assert.ok(l.items.every(i => i.textEdit !== undefined && i.insertTextFormat !== undefined));
  });
});
