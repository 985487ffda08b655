/**
 * Document highlight (a unit name's occurrences in this file), selection ranges (value → line →
 * section → file) and workspace symbols (units and their sections across the workspace).
 */
import { DocumentHighlightKind, SymbolKind, type DocumentHighlight, type SelectionRange, type SymbolInformation } from 'vscode-languageserver-types';
import { cursorContext, lineEndOf, lineStartOf, optionAt, sectionAt } from './cursor';
import { refAt, refMatches, unitRefs } from './unitRefs';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

/** Every occurrence in this file of the unit name under the cursor (exact references, globs that match it). */
export function documentHighlights(doc: UnitDocument, offset: number, ctx: ServiceContext): DocumentHighlight[] {
  const refs = unitRefs(doc.file, doc.unitName, ctx.catalog);
  const under = refAt(refs, offset);
  if (!under) return [];
  if (under.glob) return [{ range: rangeOf(doc.document, under.start, under.end), kind: DocumentHighlightKind.Read }];
  return refs
    .filter(r => r.name === under.name || refMatches(r, under.name))
    .map(r => ({ range: rangeOf(doc.document, r.start, r.end), kind: DocumentHighlightKind.Read }));
}

const trimEnd = (text: string, start: number, end: number) => {
  let e = end;
  while (e > start && /\s/.test(text[e - 1]!)) e--;
  return e;
};

/** For each position: the word or value, the whole line(s) of the option, the section, the file. */
export function selectionRanges(doc: UnitDocument, offsets: readonly number[]): SelectionRange[] {
  const { file, document } = doc;
  const text = file.text;
  return offsets.map(offset => {
    const spans: [number, number][] = [[0, trimEnd(text, 0, text.length)]];
    const section = sectionAt(file, offset + 1) ?? sectionAt(file, offset);
    if (section && offset >= section.start) spans.push([section.start, Math.max(section.headerEnd, trimEnd(text, section.start, section.end))]);
    const o = optionAt(file, offset);
    if (o) {
      spans.push([o.start, o.end]);
      if (offset >= o.valueStart && offset <= o.valueEnd && o.valueEnd > o.valueStart) {
        spans.push([o.valueStart, o.valueEnd]);
        const c = cursorContext(file, offset);
        if (c.kind === 'value' && c.word.end > c.word.start && (c.word.start > o.valueStart || c.word.end < o.valueEnd)) spans.push([c.word.start, c.word.end]);
      } else if (offset >= o.nameStart && offset <= o.nameEnd) spans.push([o.nameStart, o.nameEnd]);
    } else {
      spans.push([lineStartOf(text, offset), lineEndOf(text, offset)]);
    }
    let parent: SelectionRange | undefined;
    let last: [number, number] | undefined;
    for (const [s, e] of spans) {
      if (last && s === last[0] && e === last[1]) continue;
      if (last && (s < last[0] || e > last[1])) continue; // each range must contain the next
      parent = { range: rangeOf(document, s, e), ...(parent ? { parent } : {}) };
      last = [s, e];
    }
    return parent!;
  });
}

/** Does `query` match `name` as a case-insensitive subsequence (VS Code's filter)? */
function fuzzy(query: string, name: string): boolean {
  if (query === '') return true;
  const n = name.toLowerCase();
  let i = 0;
  for (let k = 0; k < n.length && i < query.length; k++) if (n[k] === query[i]) i++;
  return i === query.length;
}

/** The line of each offset (ascending offsets), counting line breaks once. */
function linesOf(text: string, offsets: readonly number[]): number[] {
  const out: number[] = [];
  let line = 0,
    at = 0;
  for (const off of offsets) {
    for (let i = text.indexOf('\n', at); i >= 0 && i < off; i = text.indexOf('\n', i + 1)) {
      line++;
      at = i + 1;
    }
    out.push(line);
  }
  return out;
}

/** Units (files) and their sections whose names match the query; at most `limit` results. */
export function workspaceSymbols(query: string, ctx: ServiceContext, limit = 500): SymbolInformation[] {
  if (!ctx.index) return [];
  const q = query.toLowerCase();
  const out: SymbolInformation[] = [];
  const units = [...ctx.index.units()].filter(u => u.uri !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  const zero = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  for (const u of units) {
    if (out.length >= limit) break;
    if (fuzzy(q, u.name)) out.push({ name: u.name, kind: SymbolKind.File, location: { uri: u.uri!, range: zero } });
    const sections = u.file.sections.filter(s => fuzzy(q, `[${s.name}]`) || fuzzy(q, `${u.name} ${s.name}`));
    if (sections.length === 0) continue;
    const lines = linesOf(
      u.file.text,
      sections.map(s => s.start),
    );
    sections.forEach((s, i) => {
      if (out.length >= limit) return;
      const line = lines[i]!;
      const character = s.start - lineStartOf(u.file.text, s.start);
      out.push({
        name: `[${s.name}]`,
        kind: SymbolKind.Namespace,
        containerName: u.name,
        location: { uri: u.uri!, range: { start: { line, character }, end: { line, character: character + (s.headerEnd - s.start) } } },
      });
    });
  }
  return out;
}
