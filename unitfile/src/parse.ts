/**
 * The unit-file parser. A faithful port of the go-systemd lexer that fleet vendors
 * (fleet-reference §1): the same options, values and error texts, plus recovery so an editor
 * still gets a model after an error, and offsets for every section, key and value.
 * It never throws.
 */
import { goByteSlice, goTrimLeftLength, goTrimSpace, isGoSpace } from './goText';
import { Problem } from './problem';
import { utf8Length } from './sha1';

export const LINE_MAX = 2048;

export const ParseMessages = {
  lineTooLong: `line too long (max ${LINE_MAX} bytes)`,
  noSectionEnd: 'unable to find end of section',
  garbage: (garbage: string) => `found garbage after section name : ${goByteSlice(garbage)}`,
  newlineInName: 'unexpected newline encountered while parsing option name',
  eof: 'EOF',
} as const;

/** The parser's problems all carry this code: fleet (and fleetctl) reject such a file. */
export const PARSE_CODE = 'fleet-parse';

export interface UnitOptionNode {
  section: string;
  name: string;
  value: string;
  /** Index into UnitFile.sections of the section this option belongs to. */
  sectionIndex: number;
  /** First character of the option line (its name, after indentation). */
  start: number;
  nameStart: number;
  nameEnd: number;
  /** Offset of the `=`. */
  eq: number;
  /** Span of the trimmed value in the text. `text.slice(valueStart, valueEnd)` equals `value` (minus a kept trailing "\n"). */
  valueStart: number;
  valueEnd: number;
  /** End of the option's last physical line (before its line break). */
  end: number;
  /** Physical lines the option spans (continuations). */
  lineCount: number;
}

export interface SectionNode {
  /** As written between the brackets, untrimmed (fleet does not trim). */
  name: string;
  /** Offset of `[`. */
  start: number;
  nameStart: number;
  nameEnd: number;
  /** Offset just after `]` (or after the header line when `]` is missing). */
  headerEnd: number;
  /** Offset where the section's content ends: the next section's `[` or the end of text. */
  end: number;
  options: UnitOptionNode[];
  /** False when the header had no closing bracket (recovered). */
  closed: boolean;
}

export interface CommentNode {
  start: number;
  /** End of the comment, including lines a trailing `\` swallowed. */
  end: number;
  /** The comment's first physical line ends in `\` and swallows following lines. */
  swallows: boolean;
  /** The swallowed lines' span (when swallows). */
  swallowedStart?: number;
}

export interface UnitFile {
  text: string;
  sections: SectionNode[];
  options: UnitOptionNode[];
  comments: CommentNode[];
  /** Non-blank text before the first section header, which fleet ignores. */
  ignored: { start: number; end: number }[];
  /** Parser errors (fleet-reference §1.3), in the order fleet's lexer would meet them. */
  problems: Problem[];
}

export namespace UnitFile {
  /** The first parser error, as fleet reports it; undefined when fleet accepts the text. */
  export function fleetError(file: UnitFile): string | undefined {
    return file.problems[0]?.message;
  }
}

/** End of the physical line containing `pos` (index of its \n, or text length). */
/** True when text[start, end) is empty or only Go white space. */
function isBlank(text: string, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (!isGoSpace(text.charCodeAt(k))) return false;
  return true;
}

function lineEnd(text: string, pos: number): number {
  const i = text.indexOf('\n', pos);
  return i < 0 ? text.length : i;
}

export function parseUnitFile(text: string): UnitFile {
  const n = text.length;
  const sections: SectionNode[] = [];
  const options: UnitOptionNode[] = [];
  const comments: CommentNode[] = [];
  const ignored: { start: number; end: number }[] = [];
  const errors: Problem[] = [];
  const error = (start: number, end: number, message: string) => errors.push(Problem.make(PARSE_CODE, 'error', 'fleet', start, Math.max(end, start), message));

  // fleet checks the line length at every lexer step; the simple rule it approximates is
  // "no physical line (split on CR or LF) of LINE_MAX bytes or more" (§1.2).
  for (let s = 0; s < n;) {
    let e = s;
    while (e < n) {
      const c = text.charCodeAt(e);
      if (c === 10 || c === 13) break;
      e++;
    }
    if (e - s >= LINE_MAX || (3 * (e - s) >= LINE_MAX && utf8Length(text, s, e) >= LINE_MAX)) error(s, e, ParseMessages.lineTooLong);
    s = e + 1;
  }

  /** go-systemd's toEOL from `pos`: the line without its "\n"; a "\r" is dropped only at end of input. */
  const toEOL = (pos: number) => {
    const nl = text.indexOf('\n', pos);
    const eof = nl < 0;
    let contentEnd = eof ? n : nl;
    if (eof && contentEnd > pos && text.charCodeAt(contentEnd - 1) === 13) contentEnd--;
    return { line: text.slice(pos, contentEnd), contentEnd, next: eof ? n : nl + 1, eof };
  };

  /** A comment from `start` (the `#`/`;`); returns the offset after it. */
  const comment = (start: number): number => {
    let pos = start + 1;
    let first = true;
    const node: CommentNode = { start, end: start + 1, swallows: false };
    for (;;) {
      const { line, contentEnd, next } = toEOL(pos);
      node.end = contentEnd;
      const trimmed = line.endsWith(' ') ? line.slice(0, -1) : line; // TrimSuffix of ONE space (quirk)
      pos = next;
      if (!trimmed.endsWith('\\') || pos >= n) break;
      if (first) {
        node.swallows = true;
        node.swallowedStart = pos;
      }
      first = false;
    }
    comments.push(node);
    return pos;
  };

  let i = 0;
  let current: SectionNode | undefined;

  /** Section header at `i` (the `[`); returns the offset after the header line. */
  const header = (open: number): number => {
    const close = text.indexOf(']', open + 1);
    let section: SectionNode;
    let pos: number;
    if (close < 0) {
      const end = lineEnd(text, open);
      error(open, end, ParseMessages.noSectionEnd);
      const nameEnd = end > open + 1 && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      section = { name: text.slice(open + 1, nameEnd), start: open, nameStart: open + 1, nameEnd, headerEnd: end, end: n, options: [], closed: false };
      pos = end;
    } else {
      section = {
        name: text.slice(open + 1, close),
        start: open,
        nameStart: open + 1,
        nameEnd: close,
        headerEnd: close + 1,
        end: n,
        options: [],
        closed: true,
      };
      const { line, next } = toEOL(close + 1);
      const garbage = goTrimSpace(line);
      if (garbage.length > 0) {
        const gs = close + 1 + goTrimLeftLength(line);
        error(gs, gs + garbage.length, ParseMessages.garbage(garbage));
      }
      pos = next;
    }
    if (current) current.end = open;
    current = section;
    sections.push(section);
    return pos;
  };

  // Before the first section: everything is ignored, `[` anywhere opens a section, `#`/`;` anywhere starts a comment.
  while (i < n && !current) {
    const c = text.charCodeAt(i);
    if (c === 91 /* [ */) i = header(i);
    else if (c === 35 || c === 59) i = comment(i);
    else {
      if (!isGoSpace(c)) {
        const last = ignored[ignored.length - 1];
        const nl = text.lastIndexOf('\n', i - 1);
        if (last && last.end > nl) last.end = i + 1;
        else ignored.push({ start: i, end: i + 1 });
      }
      i++;
    }
  }

  while (i < n && current) {
    const c = text.charCodeAt(i);
    if (isGoSpace(c)) {
      i++;
      continue;
    }
    if (c === 91) {
      i = header(i);
      continue;
    }
    if (c === 35 || c === 59) {
      i = comment(i);
      continue;
    }
    // Option name: everything up to the first "=" on this line.
    let j = i;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === 61 || d === 10 || d === 13) break;
      j++;
    }
    if (j >= n) {
      error(i, n, ParseMessages.eof);
      i = n;
      break;
    }
    if (text.charCodeAt(j) !== 61) {
      error(i, j, ParseMessages.newlineInName);
      i = j + 1; // recover on the next line
      continue;
    }
    const rawName = text.slice(i, j);
    const nameStart = i + goTrimLeftLength(rawName);
    const name = goTrimSpace(rawName);
    // Option value: line by line while lines end in a backslash. Offsets, not slices, until the
    // end: most values are one line, and this loop runs for every option of every keystroke.
    let pos = j + 1;
    let partial: string | undefined; // only for continued values
    let firstStart = pos;
    let firstEnd = pos;
    let lastContentEnd = j + 1;
    let lineCount = 0;
    for (;;) {
      // go-systemd's toEOL from `pos`, inlined (see toEOL above).
      const nl = text.indexOf('\n', pos);
      const eof = nl < 0;
      let contentEnd = eof ? n : nl;
      if (eof && contentEnd > pos && text.charCodeAt(contentEnd - 1) === 13) contentEnd--;
      const lineStart = pos;
      pos = eof ? n : nl + 1;
      if (isBlank(text, lineStart, contentEnd)) break;
      if (lineCount === 0) {
        firstStart = lineStart;
        firstEnd = contentEnd;
      } else {
        partial = (partial ?? text.slice(firstStart, firstEnd)) + text.slice(lineStart, contentEnd);
      }
      lastContentEnd = contentEnd;
      lineCount++;
      if (contentEnd === lineStart || text.charCodeAt(contentEnd - 1) !== 92 /* \\ */) break;
      if (eof) break;
      partial = (partial ?? text.slice(firstStart, firstEnd)) + '\n';
      if (pos >= n) break; // the next toEOL would read "" at EOF
    }
    if (partial === undefined) partial = lineCount === 0 ? '' : text.slice(firstStart, firstEnd);
    const keepNewline = partial.endsWith('\n');
    const trimmed = goTrimSpace(partial);
    const value = keepNewline ? trimmed + '\n' : trimmed;
    const lead = goTrimLeftLength(partial);
    const valueStart = j + 1 + lead;
    const valueEnd = valueStart + trimmed.length;
    const opt: UnitOptionNode = {
      section: current.name,
      name,
      value,
      sectionIndex: sections.length - 1,
      start: i,
      nameStart,
      nameEnd: nameStart + name.length,
      eq: j,
      valueStart,
      valueEnd,
      end: Math.max(lastContentEnd, j + 1),
      lineCount: Math.max(lineCount, 1),
    };
    current.options.push(opt);
    options.push(opt);
    i = pos;
  }

  // fleet stops at the first error its lexer meets: order by position, a long line first on its own line.
  errors.sort((a, b) => a.start - b.start || (a.message === ParseMessages.lineTooLong ? -1 : b.message === ParseMessages.lineTooLong ? 1 : 0));
  return { text, sections, options, comments, ignored, problems: errors };
}
