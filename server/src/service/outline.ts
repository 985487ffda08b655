/** Document symbols (sections with their directives) and folding ranges. */
import { FoldingRangeKind, SymbolKind, type DocumentSymbol, type FoldingRange } from 'vscode-languageserver-types';
import { rangeOf, type UnitDocument } from './types';

const MAX_DETAIL = 80;

/** The end of the last non-blank character before `end`. */
function trimEnd(text: string, start: number, end: number): number {
  let e = end;
  while (e > start && /\s/.test(text[e - 1]!)) e--;
  return e;
}

export function documentSymbols(doc: UnitDocument): DocumentSymbol[] {
  const { file, document } = doc;
  return file.sections.map(s => {
    const children: DocumentSymbol[] = s.options.map(o => {
      const value = o.value.replace(/\\\n/g, ' ').replace(/\s+/g, ' ').trim();
      return {
        name: o.name || '(empty name)',
        detail: value.length > MAX_DETAIL ? `${value.slice(0, MAX_DETAIL - 1)}…` : value,
        kind: SymbolKind.Property,
        range: rangeOf(document, o.start, Math.max(o.end, o.nameEnd)),
        selectionRange: rangeOf(document, o.nameStart, o.nameEnd),
      };
    });
    return {
      name: `[${s.name}]`,
      kind: SymbolKind.Namespace,
      range: rangeOf(document, s.start, Math.max(trimEnd(file.text, s.start, s.end), s.headerEnd)),
      selectionRange: rangeOf(document, s.start, s.headerEnd),
      children,
    };
  });
}

export function foldingRanges(doc: UnitDocument): FoldingRange[] {
  const { file, document } = doc;
  const line = (offset: number) => document.positionAt(offset).line;
  const out: FoldingRange[] = [];
  for (const s of file.sections) {
    const startLine = line(s.start);
    const endLine = line(trimEnd(file.text, s.start, s.end));
    if (endLine > startLine) out.push({ startLine, endLine });
  }
  for (const o of file.options) {
    if (o.lineCount > 1) {
      const startLine = line(o.start),
        endLine = line(o.end);
      if (endLine > startLine) out.push({ startLine, endLine });
    }
  }
  // Runs of comment lines (a swallowing comment counts as its whole span).
  let runStart = -1,
    runEnd = -1;
  const flush = () => {
    if (runStart >= 0 && runEnd > runStart) out.push({ startLine: runStart, endLine: runEnd, kind: FoldingRangeKind.Comment });
  };
  for (const c of file.comments) {
    const a = line(c.start),
      b = line(c.end);
    if (runStart >= 0 && a === runEnd + 1) runEnd = b;
    else {
      flush();
      runStart = a;
      runEnd = b;
    }
  }
  flush();
  return out.sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
}
