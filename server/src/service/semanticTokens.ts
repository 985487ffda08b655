/**
 * Semantic tokens: sections, keys (deprecated/legacy keys marked), values by kind, specifiers,
 * unit names in dependency and [X-Fleet] values, Exec prefixes and comments. Tokens never span a
 * line break (continuation lines of a value are left to the TextMate grammar). Delta: one edit
 * replacing the differing middle of the previous data.
 */
import type { SemanticTokensEdit, SemanticTokensLegend } from 'vscode-languageserver-types';
import { XFLEET_SECTION, xfleetKey, type UnitOptionNode } from '../../../unitfile/src';
import { unitRefs } from './unitRefs';
import type { ServiceContext, UnitDocument } from './types';

export const TOKEN_TYPES = ['namespace', 'property', 'number', 'enumMember', 'keyword', 'macro', 'type', 'operator', 'function', 'comment', 'string'] as const;
export const TOKEN_MODIFIERS = ['deprecated', 'declaration'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];
export const SEMANTIC_TOKENS_LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

const TYPE_INDEX = new Map<string, number>(TOKEN_TYPES.map((t, i) => [t, i]));
const DEPRECATED = 1;
const DECLARATION = 2;

/** A decoded token (tests and the e2e read these). */
export interface SemanticToken {
  line: number;
  character: number;
  length: number;
  type: TokenType;
  modifiers: string[];
}

const KIND_TOKEN: Record<string, TokenType | undefined> = {
  boolean: 'keyword',
  timespan: 'number',
  size: 'number',
  integer: 'number',
  percent: 'number',
  mode: 'number',
  enum: 'enumMember',
  signal: 'enumMember',
  path: 'string',
  paths: 'string',
};
const EXEC_PREFIX = /^(?:[@\-:+|]|!!?)+/;
const SPECIFIER = /%./g;

interface Raw {
  start: number;
  end: number;
  type: number;
  mods: number;
}

/** The encoded token data of the whole document (LSP relative encoding). */
export function semanticTokens(doc: UnitDocument, ctx: ServiceContext): number[] {
  const { file } = doc;
  const text = file.text;
  const raw: Raw[] = [];
  /** Emits [start, end) on one line, with specifiers inside it as macros. */
  const push = (start: number, end: number, type: TokenType, mods = 0, specifiers = true) => {
    // A token ends at a line break (LSP's: \n, \r\n or a lone \r).
    for (let k = start; k < end; k++) {
      const c = text.charCodeAt(k);
      if (c === 10 || c === 13) {
        end = k;
        break;
      }
    }
    if (end <= start) return;
    const t = TYPE_INDEX.get(type)!;
    if (!specifiers) return void raw.push({ start, end, type: t, mods });
    SPECIFIER.lastIndex = 0;
    const slice = text.slice(start, end);
    let at = start;
    for (let m = SPECIFIER.exec(slice); m; m = SPECIFIER.exec(slice)) {
      const s = start + m.index;
      if (s > at) raw.push({ start: at, end: s, type: t, mods });
      raw.push({ start: s, end: s + 2, type: TYPE_INDEX.get('macro')!, mods: 0 });
      at = s + 2;
    }
    if (end > at) raw.push({ start: at, end, type: t, mods });
  };
  const refs = unitRefs(file, doc.unitName, ctx.catalog);
  let r = 0;
  for (const s of file.sections) {
    push(s.nameStart, s.nameEnd, 'namespace', DECLARATION, false);
    for (const o of s.options) {
      push(o.nameStart, o.nameEnd, 'property', isDeprecatedKey(o, ctx) ? DEPRECATED : 0, false);
      while (r < refs.length && refs[r]!.option.start < o.start) r++;
      if (r < refs.length && refs[r]!.option === o) {
        for (; r < refs.length && refs[r]!.option === o; r++) push(refs[r]!.start, refs[r]!.end, 'type');
        continue;
      }
      valueTokens(o, ctx, text, push);
    }
  }
  for (const c of file.comments) {
    // A comment that swallows lines spans several: one token per physical line.
    let at = c.start;
    while (at < c.end) {
      let lineEnd = at;
      while (lineEnd < c.end && text.charCodeAt(lineEnd) !== 10 && text.charCodeAt(lineEnd) !== 13) lineEnd++;
      push(at, lineEnd, 'comment', 0, false);
      at = lineEnd + 1;
    }
  }
  raw.sort((a, b) => a.start - b.start);
  return encode(text, raw);
}

function valueTokens(o: UnitOptionNode, ctx: ServiceContext, text: string, push: (s: number, e: number, t: TokenType, m?: number) => void) {
  if (o.valueEnd <= o.valueStart) return;
  if (o.section === XFLEET_SECTION) {
    const kind = xfleetKey(o.name)?.kind;
    if (kind === 'global') push(o.valueStart, o.valueEnd, 'keyword');
    else if (kind === 'machineId') push(o.valueStart, o.valueEnd, 'number');
    else push(o.valueStart, o.valueEnd, 'string');
    return;
  }
  const d = ctx.catalog.lookupDirective(o.section, o.name);
  if (d?.kind === 'command') {
    const value = text.slice(o.valueStart, o.valueEnd);
    const prefix = EXEC_PREFIX.exec(value)?.[0].length ?? 0;
    if (prefix > 0) push(o.valueStart, o.valueStart + prefix, 'operator');
    const rest = value.slice(prefix);
    const exe = /^\S+/.exec(rest)?.[0].length ?? 0;
    if (exe > 0) push(o.valueStart + prefix, o.valueStart + prefix + exe, 'function');
    // Arguments: only their specifiers.
    SPECIFIER.lastIndex = 0;
    const args = rest.slice(exe);
    const base = o.valueStart + prefix + exe;
    const found: number[] = [];
    for (let m = SPECIFIER.exec(args); m; m = SPECIFIER.exec(args)) found.push(base + m.index);
    for (const s of found) push(s, s + 2, 'macro');
    return;
  }
  const type = d ? KIND_TOKEN[d.kind] : undefined;
  if (type) push(o.valueStart, o.valueEnd, type);
  else {
    // Any other value: its specifiers only.
    const value = text.slice(o.valueStart, o.valueEnd);
    for (let i = value.indexOf('%'); i >= 0 && i < value.length - 1; i = value.indexOf('%', i + 2)) push(o.valueStart + i, o.valueStart + i + 2, 'macro');
  }
}

export function isDeprecatedKey(o: UnitOptionNode, ctx: ServiceContext): boolean {
  if (o.section === XFLEET_SECTION) {
    const k = xfleetKey(o.name);
    return !!k && k.status !== 'current';
  }
  const d = ctx.catalog.lookupDirective(o.section, o.name);
  if (!d) return false;
  const version = ctx.settings.systemdVersion;
  return (d.removed !== undefined && d.removed <= version) || (d.deprecated !== undefined && d.deprecated.since <= version);
}

function encode(text: string, raw: readonly Raw[]): number[] {
  const data: number[] = new Array<number>(raw.length * 5);
  let prevLine = 0,
    prevChar = 0,
    n = 0,
    lastEnd = -1;
  // One pass over the text for line breaks as LSP counts them (\n, \r\n and a lone \r; fleet
  // counts only \n): tokens never contain one, so scanning up to each token's start suffices.
  let line = 0,
    lineStart = 0,
    scan = 0;
  for (const t of raw) {
    if (t.start < lastEnd) continue; // overlapping (never expected): keep the first
    lastEnd = t.end;
    for (; scan < t.start; scan++) {
      const c = text.charCodeAt(scan);
      if (c === 10 || c === 13) {
        if (c === 13 && text.charCodeAt(scan + 1) === 10) scan++;
        line++;
        lineStart = scan + 1;
      }
    }
    const character = t.start - lineStart;
    data[n++] = line - prevLine;
    data[n++] = line === prevLine ? character - prevChar : character;
    data[n++] = t.end - t.start;
    data[n++] = t.type;
    data[n++] = t.mods;
    prevLine = line;
    prevChar = character;
  }
  data.length = n;
  return data;
}

/** Decodes token data (tests, and readers of a result). */
export function decodeTokens(data: readonly number[]): SemanticToken[] {
  const out: SemanticToken[] = [];
  let line = 0,
    char = 0;
  for (let i = 0; i + 4 < data.length; i += 5) {
    line += data[i]!;
    char = data[i]! === 0 ? char + data[i + 1]! : data[i + 1]!;
    const mods = data[i + 4]!;
    out.push({ line, character: char, length: data[i + 2]!, type: TOKEN_TYPES[data[i + 3]!]!, modifiers: TOKEN_MODIFIERS.filter((_, k) => mods & (1 << k)) });
  }
  return out;
}

/** The edits turning `previous` into `next`: at most one, replacing the differing middle. */
export function semanticTokensEdits(previous: readonly number[], next: readonly number[]): SemanticTokensEdit[] {
  let start = 0;
  const min = Math.min(previous.length, next.length);
  while (start < min && previous[start] === next[start]) start++;
  if (start === previous.length && start === next.length) return [];
  let endPrev = previous.length,
    endNext = next.length;
  while (endPrev > start && endNext > start && previous[endPrev - 1] === next[endNext - 1]) {
    endPrev--;
    endNext--;
  }
  return [{ start, deleteCount: endPrev - start, data: next.slice(start, endNext) }];
}
