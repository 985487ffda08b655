/**
 * How completion lists go over the wire. The pure service returns whole items; this adapter
 * keeps lists small, because a list is sent (and parsed twice) on every keystroke that triggers
 * completion, while only the item the user looks at needs its documentation:
 *
 * - `documentation` (and `detail`, when the client resolves it lazily) is kept here and added
 *   back by `completionItem/resolve`, for items of the latest list;
 * - the edit range, insert text format and resolve data every item shares become the list's
 *   `itemDefaults` (LSP 3.17) when the client supports them: an item then carries only what is
 *   its own (`textEditText` when the inserted text is not the label).
 *
 * A [Unit] directive list is ~5 KB this way, ~34 KB with a range, format and detail per item.
 */
import { InsertTextFormat, type ClientCapabilities, type CompletionItem, type CompletionList, type Range, type TextEdit } from 'vscode-languageserver';

type Lazy = Pick<CompletionItem, 'documentation' | 'detail'>;

interface DocRef {
  fleetDoc: number;
}

const sameRange = (a: Range, b: Range) =>
  a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;

export class CompletionWire {
  private defaults = new Set<string>();
  private lazyDetail = false;
  private listId = 0;
  /** The latest list's deferred properties by label (labels of one list are unique in practice; a repeat keeps its own data). */
  private lazy = new Map<string, Lazy>();
  private lazyByIndex: Lazy[] = [];

  configure(capabilities: ClientCapabilities): void {
    const completion = capabilities.textDocument?.completion;
    this.defaults = new Set(completion?.completionList?.itemDefaults ?? []);
    this.lazyDetail = completion?.completionItem?.resolveSupport?.properties.includes('detail') ?? false;
  }

  /** Strips the list for sending (mutates and returns it). */
  compact(list: CompletionList): CompletionList {
    const id = ++this.listId;
    this.lazy = new Map();
    this.lazyByIndex = [];
    const useDataDefault = this.defaults.has('data');
    for (const item of list.items) {
      const deferred: Lazy = {};
      if (item.documentation !== undefined) {
        deferred.documentation = item.documentation;
        delete item.documentation;
      }
      if (this.lazyDetail && item.detail !== undefined) {
        deferred.detail = item.detail;
        delete item.detail;
      }
      if (deferred.documentation === undefined && deferred.detail === undefined) continue;
      if (useDataDefault && item.data === undefined && !this.lazy.has(item.label)) {
        this.lazy.set(item.label, deferred); // found by label through itemDefaults.data
      } else {
        item.data = { fleetDoc: id, index: this.lazyByIndex.length };
        this.lazyByIndex.push(deferred);
      }
    }
    const itemDefaults: NonNullable<CompletionList['itemDefaults']> = {};
    if (useDataDefault && this.lazy.size > 0) itemDefaults.data = { fleetDoc: id } satisfies DocRef;
    if (this.defaults.has('editRange')) this.shareEditRange(list, itemDefaults);
    if (this.defaults.has('insertTextFormat')) this.shareInsertTextFormat(list, itemDefaults);
    if (Object.keys(itemDefaults).length > 0) list.itemDefaults = itemDefaults;
    return list;
  }

  /** completionItem/resolve: adds back what `compact` kept, for items of the latest list. */
  resolve(item: CompletionItem): CompletionItem {
    const data = item.data as { fleetDoc?: unknown; index?: unknown } | undefined;
    if (!data || data.fleetDoc !== this.listId) return item;
    const deferred = typeof data.index === 'number' ? this.lazyByIndex[data.index] : this.lazy.get(item.label);
    if (!deferred) return item;
    if (item.documentation === undefined && deferred.documentation !== undefined) item.documentation = deferred.documentation;
    if (item.detail === undefined && deferred.detail !== undefined) item.detail = deferred.detail;
    return item;
  }

  private shareEditRange(list: CompletionList, defaults: NonNullable<CompletionList['itemDefaults']>): void {
    let range: Range | undefined;
    for (const item of list.items) {
      const edit = item.textEdit;
      if (!edit || !('range' in edit) || item.textEditText !== undefined) return; // an InsertReplaceEdit, or none: keep as is
      if (range === undefined) range = edit.range;
      else if (!sameRange(range, edit.range)) return;
    }
    if (range === undefined) return;
    defaults.editRange = range;
    for (const item of list.items) {
      const newText = (item.textEdit as TextEdit).newText;
      delete item.textEdit;
      if (newText !== item.label) item.textEditText = newText;
    }
  }

  private shareInsertTextFormat(list: CompletionList, defaults: NonNullable<CompletionList['itemDefaults']>): void {
    const first = list.items[0]?.insertTextFormat ?? InsertTextFormat.PlainText;
    if (!list.items.every(i => (i.insertTextFormat ?? InsertTextFormat.PlainText) === first)) return;
    if (first !== InsertTextFormat.PlainText) defaults.insertTextFormat = first; // plain text is the default anyway
    for (const item of list.items) delete item.insertTextFormat;
  }
}
