/** Definition and references for unit names across the workspace. */
import { UnitNameInfo } from '../../../unitfile/src';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Location } from 'vscode-languageserver-types';
import { refAt, refMatches, unitRefs } from './unitRefs';
import { rangeOf, type IndexedUnit, type ServiceContext, type UnitDocument } from './types';

const fileStart = (uri: string): Location => ({ uri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } });

/** The files a unit-name reference points at (a glob may point at several; an instance at its template's file). */
export function definition(doc: UnitDocument, offset: number, ctx: ServiceContext): Location[] {
  if (!ctx.index) return [];
  const ref = refAt(unitRefs(doc.file, doc.unitName, ctx.catalog), offset);
  if (!ref) return [];
  const hits: IndexedUnit[] = [];
  if (ref.glob) {
    for (const u of ctx.index.units()) if (u.name !== doc.unitName && refMatches(ref, u.name)) hits.push(u);
  } else {
    const exact = ctx.index.get(ref.name);
    const template = UnitNameInfo.parse(ref.name)?.template;
    const target = exact ?? (template !== undefined ? ctx.index.get(template) : undefined);
    if (target) hits.push(target);
  }
  return hits
    .filter(u => u.uri !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(u => fileStart(u.uri!));
}

/**
 * Every mention of a unit name across the workspace: of the unit name under the cursor when the
 * cursor is on one (an exact name, not a glob), else of this file's own unit name.
 */
export function references(doc: UnitDocument, ctx: ServiceContext, offset?: number): Location[] {
  const under = offset !== undefined ? refAt(unitRefs(doc.file, doc.unitName, ctx.catalog), offset) : undefined;
  const name = under && !under.glob ? under.name : doc.unitName;
  if (name === undefined || !ctx.index) return [];
  const out: Location[] = [];
  const own = { name, file: doc.file, uri: doc.document.uri };
  const units = [own, ...[...ctx.index.units()].filter(u => u.name !== doc.unitName).sort((a, b) => a.name.localeCompare(b.name))];
  for (const u of units) {
    if (u.uri === undefined) continue;
    const refs = unitRefs(u.file, u.name, ctx.catalog).filter(r => refMatches(r, name));
    if (refs.length === 0) continue;
    const td = u === own ? doc.document : TextDocument.create(u.uri, 'fleet-unit', 0, u.file.text);
    for (const r of refs) out.push({ uri: u.uri, range: rangeOf(td, r.start, r.end) });
  }
  return out;
}
