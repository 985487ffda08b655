/**
 * Where the cursor is, in unit-file terms: a section header, a key, a value (with the word under
 * the cursor), a comment, or nothing. Works on the text and the parsed model; never throws.
 */
import type { SectionNode, UnitFile, UnitOptionNode } from '../../../unitfile/src';

export type CursorContext =
  | { kind: 'sectionHeader'; /** Replace span (inside the brackets). */ start: number; end: number; prefix: string; closed: boolean }
  | { kind: 'key'; section: SectionNode | undefined; start: number; end: number; prefix: string; option: UnitOptionNode | undefined }
  | { kind: 'value'; section: SectionNode | undefined; option: UnitOptionNode; word: Word; valueBefore: string }
  | { kind: 'comment' }
  | { kind: 'none' };

export interface Word {
  start: number;
  end: number;
  /** Text of the word up to the cursor. */
  prefix: string;
  text: string;
}

const isWordBreak = (c: string) => c === ' ' || c === '\t' || c === '"' || c === '\n' || c === '\r' || c === '\\';

/** The whitespace/quote-delimited word around `offset`, within [min, max). */
export function wordAt(text: string, offset: number, min: number, max: number): Word {
  let s = offset;
  while (s > min && !isWordBreak(text[s - 1]!)) s--;
  let e = offset;
  while (e < max && !isWordBreak(text[e]!)) e++;
  return { start: s, end: e, prefix: text.slice(s, offset), text: text.slice(s, e) };
}

export function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

export function lineEndOf(text: string, offset: number): number {
  const i = text.indexOf('\n', offset);
  let e = i < 0 ? text.length : i;
  if (e > 0 && text[e - 1] === '\r') e--;
  return e;
}

/** The section containing `offset` (by header position), if any. */
export function sectionAt(file: UnitFile, offset: number): SectionNode | undefined {
  let found: SectionNode | undefined;
  for (const s of file.sections) {
    if (s.start < offset) found = s;
    else break;
  }
  return found;
}

/** The option whose text (name through last continuation line) contains `offset`. */
export function optionAt(file: UnitFile, offset: number): UnitOptionNode | undefined {
  // Options are in text order: binary search on start.
  const list = file.options;
  let lo = 0,
    hi = list.length - 1,
    found: UnitOptionNode | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const o = list[mid]!;
    if (o.start <= offset) {
      found = o;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found && offset <= found.end ? found : undefined;
}

export function cursorContext(file: UnitFile, offset: number): CursorContext {
  const text = file.text;
  offset = Math.max(0, Math.min(offset, text.length));
  if (file.comments.some(c => c.start < offset && offset <= c.end)) return { kind: 'comment' };
  const option = optionAt(file, offset);
  const section = sectionAt(file, offset);
  if (option && offset > option.eq) {
    const word = wordAt(text, offset, option.eq + 1, option.end);
    return { kind: 'value', section, option, word, valueBefore: text.slice(option.eq + 1, offset).trimStart() };
  }
  const lineStart = lineStartOf(text, offset);
  const lineEnd = lineEndOf(text, offset);
  const before = text.slice(lineStart, offset);
  const trimmed = before.trimStart();
  if (trimmed.startsWith('[')) {
    const open = lineStart + before.indexOf('[');
    const close = text.indexOf(']', open);
    const closed = close >= 0 && close < lineEnd;
    if (closed && offset > close) return { kind: 'none' };
    return { kind: 'sectionHeader', start: open + 1, end: closed ? close : lineEnd, prefix: text.slice(open + 1, offset), closed };
  }
  if (trimmed.startsWith('#') || trimmed.startsWith(';')) return { kind: 'comment' };
  if (/[\s"]/.test(trimmed)) return { kind: 'none' };
  const start = offset - trimmed.length;
  let end = offset;
  while (end < lineEnd && /[\w.-]/.test(text[end]!)) end++;
  if (option && offset <= option.eq)
    return { kind: 'key', section, start: option.nameStart, end: option.nameEnd, prefix: text.slice(option.nameStart, offset), option };
  return { kind: 'key', section, start, end, prefix: trimmed, option: undefined };
}
