/** Parse once per document version: URI → { version, parsed document }. */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { parseUnitFile } from '../../../unitfile/src';
import type { UnitDocument } from '../service';
import { dropInOf, unitNameOf } from './uris';

export class ParseCache {
  private readonly entries = new Map<string, { version: number; doc: UnitDocument }>();

  get(document: TextDocument): UnitDocument {
    const hit = this.entries.get(document.uri);
    if (hit && hit.version === document.version && hit.doc.document === document) return hit.doc;
    const unit = dropInOf(document.uri);
    const doc: UnitDocument =
      unit !== undefined
        ? { document, file: parseUnitFile(document.getText()), unitName: unit, dropIn: true }
        : { document, file: parseUnitFile(document.getText()), unitName: unitNameOf(document.uri) };
    this.entries.set(document.uri, { version: document.version, doc });
    return doc;
  }

  delete(uri: string): void {
    this.entries.delete(uri);
  }

  get size(): number {
    return this.entries.size;
  }
}
