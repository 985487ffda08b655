/**
 * Formatting that never changes meaning: `Key = Value` → `Key=Value`, no indentation before keys,
 * no trailing whitespace. Values, order, comments' text and continuation lines are left alone, and
 * whitespace is kept where removing it would create a continuation (a line that would then end in `\`).
 */
import type { TextEdit } from 'vscode-languageserver-types';
import type { TextEdit as OffsetEdit } from '../../../unitfile/src';
import { rangeOf, type UnitDocument } from './types';

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

export function formattingEdits(doc: UnitDocument, range?: { start: number; end: number }): TextEdit[] {
  const { file, document } = doc;
  const text = file.text;
  const edits: OffsetEdit[] = [];
  // Lines that belong to continuations (of options or comments) are never touched.
  const frozen: { start: number; end: number }[] = [];
  for (const o of file.options) {
    if (o.lineCount > 1) frozen.push({ start: text.indexOf('\n', o.start) + 1, end: o.end });
  }
  for (const c of file.comments) {
    if (c.swallows && c.swallowedStart !== undefined) frozen.push({ start: c.swallowedStart, end: c.end });
  }
  // A header's name is everything up to `]`, across lines (fleet's lexer), or to the line end when there
  // is no `]` at all: whitespace there is part of the name.
  for (const sec of file.sections) {
    if (!sec.closed || text.slice(sec.start, sec.headerEnd).includes('\n')) frozen.push({ start: sec.start, end: sec.headerEnd });
  }
  const isFrozen = (lineStart: number, lineEnd: number) => frozen.some(f => f.start <= lineEnd && lineStart <= f.end);

  for (const o of file.options) {
    const lineStart = text.lastIndexOf('\n', o.start - 1) + 1;
    if (o.start > lineStart && /^[ \t]+$/.test(text.slice(lineStart, o.start))) edits.push({ start: lineStart, end: o.start, newText: '' });
    if (o.eq > o.nameEnd && /^[ \t]+$/.test(text.slice(o.nameEnd, o.eq))) edits.push({ start: o.nameEnd, end: o.eq, newText: '' });
    const firstLineEnd = text.indexOf('\n', o.eq);
    const valueStart = Math.min(o.valueStart, firstLineEnd < 0 ? text.length : firstLineEnd);
    if (valueStart > o.eq + 1 && o.valueEnd > o.valueStart && /^[ \t]+$/.test(text.slice(o.eq + 1, valueStart))) {
      edits.push({ start: o.eq + 1, end: valueStart, newText: '' });
    }
  }
  for (const s of file.sections) {
    const lineStart = text.lastIndexOf('\n', s.start - 1) + 1;
    if (s.start > lineStart && /^[ \t]+$/.test(text.slice(lineStart, s.start))) edits.push({ start: lineStart, end: s.start, newText: '' });
  }
  // Trailing whitespace.
  for (let lineStart = 0; lineStart <= text.length;) {
    const nl = text.indexOf('\n', lineStart);
    let end = nl < 0 ? text.length : nl;
    if (end > lineStart && text[end - 1] === '\r') end--;
    let s = end;
    while (s > lineStart && isBlank(text[s - 1])) s--;
    if (s < end && text[s - 1] !== '\\' && !isFrozen(lineStart, end)) edits.push({ start: s, end, newText: '' });
    if (nl < 0) break;
    lineStart = nl + 1;
  }
  const inRange = (e: OffsetEdit) => !range || (e.start >= range.start && e.end <= range.end) || (e.start <= range.end && e.end >= range.start);
  return edits
    .filter(inRange)
    .sort((a, b) => a.start - b.start)
    .filter((e, i, all) => i === 0 || all[i - 1]!.end <= e.start)
    .map(e => ({ range: rangeOf(document, e.start, e.end), newText: e.newText }));
}
