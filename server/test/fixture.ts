/** Test helpers: inline fixtures with `$0` for the cursor (or `$0…$0` for a range). */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TextEdit } from 'vscode-languageserver-types';
import { parseUnitFile } from '../../unitfile/src';
import { FleetLanguageSettings } from '../../protocol/src/settings';
import { defaultCatalog, WorkspaceIndex, type IndexedUnit, type ServiceContext, type UnitDocument } from '../src/service';

export const MARKER = '$0';

/** Strips `$0` markers; returns the text and the marker offsets. Throws when there is none. */
export function cursor(fixture: string): { text: string; offset: number; end: number } {
  const first = fixture.indexOf(MARKER);
  if (first < 0) throw new Error(`fixture has no ${MARKER} marker:\n${fixture}`);
  const rest = fixture.slice(0, first) + fixture.slice(first + MARKER.length);
  const second = rest.indexOf(MARKER);
  if (second < 0) return { text: rest, offset: first, end: first };
  return { text: rest.slice(0, second) + rest.slice(second + MARKER.length), offset: first, end: second };
}

export function unitDoc(text: string, name: string | undefined = 'web.service', uri = `file:///ws/${name ?? 'Untitled-1'}`): UnitDocument {
  return { document: TextDocument.create(uri, 'fleet-unit', 1, text), file: parseUnitFile(text), unitName: name };
}

export function indexed(name: string, text: string): IndexedUnit {
  return { name, file: parseUnitFile(text), uri: `file:///ws/${name}` };
}

export function context(extra: Partial<ServiceContext> = {}, index: IndexedUnit[] = []): ServiceContext {
  return { settings: FleetLanguageSettings.defaults, catalog: defaultCatalog, index: WorkspaceIndex.of(index), ...extra };
}

/** Applies LSP edits to a document's text (edits must not overlap). */
export function applyEdits(doc: UnitDocument, edits: readonly TextEdit[]): string {
  return TextDocument.applyEdits(doc.document, edits as TextEdit[]);
}
