/**
 * systemd's command-line and environment syntax for Exec*= lines (systemd.service(5) "Command
 * lines"): words split on whitespace with '…' and "…" quoting and C escapes, the `-` `@` `:` `+`
 * `!` `!!` prefixes, `$VAR` (a whole word, split at whitespace) and `${VAR}` (one word)
 * expansion, and Environment= / EnvironmentFile= parsing.
 */

export type WordsResult = { words: string[]; error?: undefined } | { words?: undefined; error: string };

const ESCAPES: Record<string, string> = {
  ' ': ' ',
  ';': ';',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  s: ' ',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** Split like systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE). */
export function splitWords(text: string): WordsResult {
  const words: string[] = [];
  let i = 0;
  const n = text.length;
  while (true) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) return { words };
    let word = '';
    let quote: '"' | "'" | undefined;
    for (; i < n; i++) {
      const ch = text[i]!;
      if (!quote && /\s/.test(ch)) break;
      if (ch === '\\') {
        if (i + 1 >= n) return { error: 'a trailing backslash ends the line' };
        const next = text[i + 1]!;
        const simple = ESCAPES[next];
        if (simple !== undefined) {
          word += simple;
          i++;
        } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
          word += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (/^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
          word += String.fromCharCode(parseInt(text.slice(i + 1, i + 4), 8));
          i += 3;
        } else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          word += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 5;
        } else if (next === 'U' && /^[0-9a-fA-F]{8}$/.test(text.slice(i + 2, i + 10))) {
          word += String.fromCodePoint(parseInt(text.slice(i + 2, i + 10), 16));
          i += 9;
        } else {
          // Unknown escapes are kept as written (systemd's EXTRACT_RELAX).
          word += ch + next;
          i++;
        }
        continue;
      }
      if (quote) {
        if (ch === quote) quote = undefined;
        else word += ch;
        continue;
      }
      if (ch === '"' || ch === "'") {
        quote = ch;
        continue;
      }
      word += ch;
    }
    if (quote) return { error: `unbalanced quotes (${quote} is never closed)` };
    words.push(word);
  }
}

export interface ExecCommand {
  /** As written in the unit (after specifiers), for messages. */
  line: string;
  /** The program to execute. */
  path: string;
  /** argv, argv[0] included (the path, or the word after it with the `@` prefix). */
  argv: string[];
  /** `-`: a failure exit status is recorded but ignored. */
  ignoreFailure: boolean;
  /** `:`: no environment variable expansion. */
  noEnvExpansion: boolean;
  /** Prefixes parsed but not implemented (`+`, `!`, `!!`: privilege handling). */
  unsupportedPrefixes: string[];
}

export type ExecParseResult = { command: ExecCommand; error?: undefined } | { command?: undefined; error: string };

export function parseExecLine(line: string): ExecParseResult {
  const split = splitWords(line);
  if (split.error !== undefined) return { error: split.error };
  const words = split.words;
  if (words.length === 0) return { error: 'the command line is empty' };
  let first = words[0]!;
  let ignoreFailure = false;
  let argv0 = false;
  let noEnvExpansion = false;
  const unsupportedPrefixes: string[] = [];
  for (;;) {
    if (first.startsWith('!!')) {
      unsupportedPrefixes.push('!!');
      first = first.slice(2);
      continue;
    }
    const c = first[0];
    if (c === '-') ignoreFailure = true;
    else if (c === '@') argv0 = true;
    else if (c === ':') noEnvExpansion = true;
    else if (c === '+' || c === '!' || c === '|') unsupportedPrefixes.push(c);
    else break;
    first = first.slice(1);
  }
  if (first === '') return { error: 'no program named after the prefixes' };
  let argv: string[];
  if (argv0) {
    if (words.length < 2) return { error: 'the @ prefix needs a second word to use as argv[0]' };
    argv = words.slice(1);
  } else {
    argv = [first, ...words.slice(1)];
  }
  return { command: { line, path: first, argv, ignoreFailure, noEnvExpansion, unsupportedPrefixes } };
}

const WHOLE_VAR = /^\$([A-Za-z_][A-Za-z0-9_]*)$/;

/** systemd's replace_env_argv: `$VAR` alone splits into words, `${VAR}` substitutes in place, `$$` is `$`. */
export function expandEnvArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const a of args) {
    const whole = WHOLE_VAR.exec(a);
    if (whole) {
      const v = env[whole[1]!];
      if (v !== undefined) out.push(...v.split(/\s+/).filter(Boolean));
      continue;
    }
    out.push(a.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string | undefined) => (m === '$$' ? '$' : (env[name!] ?? ''))));
  }
  return out;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment= value: quoted `NAME=value` words. Invalid words are returned in `invalid`. */
export function parseEnvironment(value: string): { vars: [string, string][]; invalid: string[] } {
  const split = splitWords(value);
  if (split.error !== undefined) return { vars: [], invalid: [value] };
  const vars: [string, string][] = [];
  const invalid: string[] = [];
  for (const w of split.words) {
    const eq = w.indexOf('=');
    const name = eq === -1 ? '' : w.slice(0, eq);
    if (!ENV_NAME.test(name)) invalid.push(w);
    else vars.push([name, w.slice(eq + 1)]);
  }
  return { vars, invalid };
}

/** An EnvironmentFile's text: `NAME=value` lines, `#`/`;` comments, quotes, `\` continuation, optional `export `. */
export function parseEnvironmentFile(text: string): { vars: [string, string][]; invalid: string[] } {
  const vars: [string, string][] = [];
  const invalid: string[] = [];
  const rawLines = text.split(/\r?\n/);
  for (let i = 0; i < rawLines.length; i++) {
    let line = rawLines[i]!;
    while (line.endsWith('\\') && i + 1 < rawLines.length) line = line.slice(0, -1) + rawLines[++i]!;
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const body = t.startsWith('export ') ? t.slice(7).trimStart() : t;
    const eq = body.indexOf('=');
    const name = eq === -1 ? '' : body.slice(0, eq).trim();
    if (!ENV_NAME.test(name)) {
      invalid.push(t);
      continue;
    }
    let v = body.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    else if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    vars.push([name, v]);
  }
  return { vars, invalid };
}
