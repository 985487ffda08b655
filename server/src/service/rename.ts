/**
 * Rename of a unit across the workspace: the file itself (a RenameFile), every exact reference in
 * dependency keys and [X-Fleet] MachineOf=/Conflicts=/Replaces=, instances of a renamed template
 * (`web@1.service` → `api@1.service`), and a report of what was left alone: globs that matched
 * the old name and not the new one, and references written with specifiers.
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Range, TextEdit, WorkspaceEdit } from 'vscode-languageserver-types';
import { globMatch, UnitNameInfo, unitTypeOf, validateUnitName } from '../../../unitfile/src';
import { refAt, unitRefs } from './unitRefs';
import { rangeOf, type IndexedUnit, type ServiceContext, type UnitDocument } from './types';

export interface RenameResult {
  edit: WorkspaceEdit;
  /** References the rename did not change, with why (the adapter shows them to the user). */
  notChanged: { uri: string; range: Range; text: string; reason: string }[];
}

/** The unit name under the cursor and its range, or undefined when the cursor is not on an exact unit name. */
export function prepareRename(doc: UnitDocument, offset: number, ctx: ServiceContext): { range: Range; placeholder: string } | undefined {
  const ref = refAt(unitRefs(doc.file, doc.unitName, ctx.catalog), offset);
  if (!ref || ref.glob || ref.text !== ref.name || validateUnitName(ref.name) !== undefined) return undefined;
  return { range: rangeOf(doc.document, ref.start, ref.end), placeholder: ref.name };
}

/** Why `next` cannot replace `old`, or undefined. */
export function renameProblem(old: string, next: string): string | undefined {
  const invalid = validateUnitName(next);
  if (invalid) return `Cannot rename ${old} to "${next}": ${invalid}.`;
  if (unitTypeOf(old) !== unitTypeOf(next))
    return `Cannot rename ${old} to ${next}: the unit type changes (.${unitTypeOf(old)} → .${unitTypeOf(next)}); keep the suffix.`;
  const o = UnitNameInfo.parse(old),
    n = UnitNameInfo.parse(next);
  if (UnitNameInfo.isTemplate(o) !== UnitNameInfo.isTemplate(n))
    return `Cannot rename ${old} to ${next}: a template must stay a template (name@.type) and a unit a unit.`;
  return undefined;
}

/** Maps a referenced name under the rename: the name itself, or an instance of the renamed template. */
function renamed(name: string, old: string, next: string): string | undefined {
  if (name === old) return next;
  const info = UnitNameInfo.parse(name);
  if (info && UnitNameInfo.isInstance(info) && info.template === old) {
    const n = UnitNameInfo.parse(next)!;
    return `${n.prefix}@${info.instance}${n.suffix}`;
  }
  return undefined;
}

export function rename(doc: UnitDocument, offset: number, newName: string, ctx: ServiceContext): RenameResult {
  const ref = refAt(unitRefs(doc.file, doc.unitName, ctx.catalog), offset);
  if (!ref || ref.glob) throw new Error('Put the cursor on a unit name in a dependency or [X-Fleet] value to rename that unit.');
  const old = ref.name;
  const invalid = validateUnitName(old);
  if (invalid) throw new Error(`${old} is not a unit name (${invalid}), so there is nothing to rename; fix the reference first.`);
  const next = newName.trim();
  const problem = renameProblem(old, next);
  if (problem) throw new Error(problem);
  const changes: Record<string, TextEdit[]> = {};
  const notChanged: RenameResult['notChanged'] = [];
  const own: IndexedUnit = { name: doc.unitName ?? '', file: doc.file, uri: doc.document.uri };
  const units = [own, ...[...(ctx.index?.units() ?? [])].filter(u => u.uri !== undefined && u.uri !== own.uri)].sort((a, b) => a.uri!.localeCompare(b.uri!));
  for (const u of units) {
    const td = u === own ? doc.document : TextDocument.create(u.uri!, 'fleet-unit', 0, u.file.text);
    for (const r of unitRefs(u.file, u.name || undefined, ctx.catalog)) {
      if (r.glob) {
        if (globMatch(r.name, old) && !globMatch(r.name, next))
          notChanged.push({
            uri: u.uri!,
            range: rangeOf(td, r.start, r.end),
            text: r.text,
            reason: `the glob ${r.text} matched ${old} and does not match ${next}`,
          });
        continue;
      }
      const to = renamed(r.name, old, next);
      if (to === undefined) continue;
      if (r.text !== r.name) {
        notChanged.push({ uri: u.uri!, range: rangeOf(td, r.start, r.end), text: r.text, reason: `${r.text} names ${old} through specifiers` });
        continue;
      }
      (changes[u.uri!] ??= []).push({ range: rangeOf(td, r.start, r.end), newText: to });
    }
  }
  const documentChanges: WorkspaceEdit['documentChanges'] = Object.entries(changes).map(([uri, edits]) => ({ textDocument: { uri, version: null }, edits }));
  const file = ctx.index?.get(old)?.uri;
  if (file !== undefined) {
    const slash = file.lastIndexOf('/');
    documentChanges.push({ kind: 'rename', oldUri: file, newUri: `${file.slice(0, slash + 1)}${encodeURIComponent(next).replace(/%40/g, '@')}` });
  }
  return { edit: { documentChanges }, notChanged };
}
