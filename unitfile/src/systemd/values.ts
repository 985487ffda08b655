/**
 * Value checks by kind, following systemd's own parsers (parse_boolean, parse_sec, parse_size,
 * the Exec line parser, the string tables). A value that contains a specifier (%i, %n, …) is
 * never reported: systemd expands it on the host, so only the host can judge the result.
 */
import type { Directive } from './types';

export interface ValueProblem {
  message: string;
  /** Offsets into the value (absent: the whole value). */
  start?: number;
  end?: number;
  /** Set when the value is valid only from this systemd version on. */
  since?: number;
}

/** Every spelling systemd's parse_boolean accepts (case-insensitive), true ones first. */
export const BOOLEAN_VALUES = ['1', 'yes', 'y', 'true', 't', 'on', '0', 'no', 'n', 'false', 'f', 'off'] as const;
const BOOLEANS = new Set<string>(BOOLEAN_VALUES);
export const isBoolean = (v: string) => BOOLEANS.has(v.toLowerCase());

const SIZE = /^(?:\s*(?:\d+(?:\.\d*)?|\.\d+)\s*[KMGTPEB]?)+\s*$/;
const PERCENT = /^\d+(?:\.\d+)?[%‰‱]$/;

export { isTimespan } from './timespan';
import { isTimespan } from './timespan';
export const isSize = (v: string) => SIZE.test(v);

/** The signals systemd's signal_from_string knows (without SIG). */
const SIGNALS = new Set([
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'IOT',
  'BUS',
  'FPE',
  'KILL',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'STKFLT',
  'CHLD',
  'CONT',
  'STOP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'POLL',
  'PWR',
  'SYS',
]);

export function isSignal(v: string): boolean {
  const name = v.startsWith('SIG') ? v.slice(3) : v;
  if (SIGNALS.has(name)) return true;
  if (/^\d+$/.test(v)) return Number(v) >= 1 && Number(v) <= 64;
  const rt = /^RTM(IN|AX)(?:([+-])(\d+))?$/.exec(name);
  return rt !== null && (rt[3] === undefined || Number(rt[3]) <= 30);
}

export interface Word {
  text: string;
  start: number;
  end: number;
}

/**
 * Splits a value into words the way systemd's extract_first_word does with quotes:
 * whitespace separates, "…" and '…' group (quotes removed), a backslash escapes the next character.
 * `unbalanced` is set when a quote is left open.
 */
export function splitWords(value: string): { words: Word[]; unbalanced: boolean } {
  const words: Word[] = [];
  if (!/["'\\]/.test(value)) {
    // Fast path: no quoting, words are the runs of non-space.
    for (const m of value.matchAll(/\S+/g)) words.push({ text: m[0], start: m.index, end: m.index + m[0].length });
    return { words, unbalanced: false };
  }
  let i = 0;
  while (i < value.length) {
    while (i < value.length && /\s/.test(value[i]!)) i++;
    if (i >= value.length) break;
    const start = i;
    let text = '';
    let quote = '';
    for (; i < value.length; i++) {
      const ch = value[i]!;
      if (quote) {
        if (ch === '\\' && i + 1 < value.length) text += value[++i];
        else if (ch === quote) quote = '';
        else text += ch;
      } else if (/\s/.test(ch)) break;
      else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '\\' && i + 1 < value.length) text += value[++i];
      else text += ch;
    }
    if (quote) return { words, unbalanced: true };
    words.push({ text, start, end: i });
  }
  return { words, unbalanced: false };
}

/** A specifier, or a build-time placeholder of a unit template (@bindir@, {{LIBEXECDIR}}): judged only after expansion. */
const hasSpecifier = (v: string) => /%[a-zA-Z%]|@[A-Za-z_][A-Za-z0-9_]*@|\{\{/.test(v);
const isAbsolute = (p: string) => p.startsWith('/');
const UNIT_SUFFIXES = new Set(['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope']);

/** A unit name as systemd's unit_name_is_valid accepts it (plain, template or instance). */
export function isUnitName(n: string): boolean {
  if (n.length > 255) return false;
  const dot = n.lastIndexOf('.');
  if (dot <= 0 || !UNIT_SUFFIXES.has(n.slice(dot + 1))) return false;
  const stem = n.slice(0, dot);
  if (!/^[A-Za-z0-9:_.\\@-]+$/.test(stem)) return false;
  const at = stem.indexOf('@');
  return at !== 0 && (at < 0 || stem.indexOf('@', at + 1) < 0);
}

const EXEC_PREFIXES = '@-:+!|';
/** The first catalogued systemd version that accepts each Exec prefix (upstream: + 231, ! and !! 236, : 243, | 258). */
export const EXEC_PREFIX_SINCE: Readonly<Record<string, number>> = { '@': 219, '-': 219, '+': 232, '!': 239, '!!': 239, ':': 245, '|': 258 };

/** The common case: one command, no quotes, an absolute executable after simple prefixes. */
const SIMPLE_COMMAND = /^(?:[-@:|]|\+|!!?)?[-@:|]?\/[^\s"'\\;]*(?:\s[^"'\\;]*)?$/;

function checkCommand(value: string, version: number | undefined): ValueProblem | undefined {
  const plainPrefixes = version === undefined || version >= 258 || /^[-@]*\//.test(value);
  if (plainPrefixes && SIMPLE_COMMAND.test(value) && !/^(.)\1/.test(value)) return undefined;
  const { words, unbalanced } = splitWords(value);
  if (unbalanced) return { message: 'has an unbalanced quote, so systemd refuses the whole command line' };
  // Commands may be chained with a lone ";" (older style); check each command's executable.
  let expectCommand = true;
  for (const w of words) {
    if (w.text === ';' && value[w.start] === ';') {
      expectCommand = true;
      continue;
    }
    if (!expectCommand) continue;
    expectCommand = false;
    let p = 0;
    const seen = new Set<string>();
    while (p < w.text.length && EXEC_PREFIXES.includes(w.text[p]!)) {
      const c = w.text.startsWith('!!', p) ? '!!' : w.text[p]!;
      if (seen.has(c) || (c === '+' && (seen.has('!') || seen.has('!!'))) || ((c === '!' || c === '!!') && seen.has('+'))) {
        return {
          message: `has conflicting or repeated prefixes ${JSON.stringify(w.text.slice(0, p + c.length))}`,
          start: w.start,
          end: w.start + p + c.length,
        };
      }
      seen.add(c);
      const since = EXEC_PREFIX_SINCE[c]!;
      if (version !== undefined && since > version) {
        return {
          message: `The ${c} prefix needs systemd ${since} or later (the target is ${version})`,
          start: w.start + p,
          end: w.start + p + c.length,
          since,
        };
      }
      p += c.length;
    }
    const exe = w.text.slice(p);
    const at = { start: w.start + (w.end - w.start === w.text.length ? p : 0), end: w.end };
    if (exe === '') return { message: 'has prefixes but no command', ...at };
    if (hasSpecifier(exe) || exe.startsWith('$')) continue;
    if (isAbsolute(exe)) continue;
    if (exe.includes('/')) return { message: `runs ${JSON.stringify(exe)}: the executable must be an absolute path or a plain command name`, ...at };
    if (version !== undefined && version < 239) {
      return { message: `runs ${JSON.stringify(exe)}: systemd before 239 needs an absolute path (write /usr/bin/${exe} or the right directory)`, ...at };
    }
  }
  return undefined;
}

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

function checkEnvironment(value: string): ValueProblem | undefined {
  const plain = plainWords(value);
  if (plain && plain.every(w => ENV_ASSIGNMENT.test(w))) return undefined;
  const { words, unbalanced } = splitWords(value);
  if (unbalanced) return { message: 'has an unbalanced quote' };
  for (const w of words) {
    const eq = w.text.indexOf('=');
    const key = eq < 0 ? w.text : w.text.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      if (hasSpecifier(key)) continue;
      return {
        message: `${JSON.stringify(w.text)} is not a KEY=VALUE assignment (quote assignments that contain spaces: "KEY=a b")`,
        start: w.start,
        end: w.end,
      };
    }
  }
  return undefined;
}

function checkInteger(v: string, format: Directive['format']): string | undefined {
  if (format === 'weight' && v === 'idle') return undefined;
  if (format === 'tasks' && (v === 'infinity' || PERCENT.test(v))) return undefined;
  if (!/^[+-]?\d+$/.test(v)) return 'is not a number';
  const n = Number(v);
  const range: Partial<Record<NonNullable<Directive['format']>, [number, number]>> = {
    unsigned: [0, 4294967295],
    nice: [-20, 19],
    oom: [-1000, 1000],
    ioprio: [0, 7],
    weight: [1, 10000],
    tasks: [0, Infinity],
  };
  const r = format ? range[format] : undefined;
  if (r && (n < r[0] || n > r[1])) return `is out of range (${r[0]} to ${r[1] === Infinity ? 'unlimited' : r[1]})`;
  return undefined;
}

function checkRlimit(v: string): string | undefined {
  const parts = v.split(':');
  if (parts.length > 2) return 'is not a limit (a value, or soft:hard)';
  for (const p of parts) {
    const t = p.trim();
    if (t === 'infinity' || /^[+-]?\d+$/.test(t) || isSize(t) || isTimespan(t)) continue;
    return 'is not a limit: use a number (with a size or time unit where it fits), infinity, or soft:hard';
  }
  return undefined;
}

const URL_SCHEMES = /^(https?:\/\/\S+|file:\/\S*|info:\S+|man:\S+)$/;

/** Checks one directive value; undefined when systemd accepts it (or cannot be judged here). */
const fail = (message: string): ValueProblem => ({ message });

/** Words of a value without quotes or escapes (the common case), without positions. */
const plainWords = (v: string): string[] | undefined => (/["'\\]/.test(v) ? undefined : v.split(/\s+/));

export function validateValue(directive: Directive, value: string, version?: number): ValueProblem | undefined {
  const v = value.trim();
  if (v === '') {
    // An empty assignment resets most settings; some parsers refuse it.
    return directive.emptyInvalid ? { message: 'is empty, which systemd cannot parse for this setting (it has no reset form); remove the line' } : undefined;
  }
  if (v.includes('%') || v.includes('@') || v.includes('{{')) {
    if (hasSpecifier(v) && directive.kind !== 'command' && directive.kind !== 'environment') return undefined;
    if (/@[A-Za-z_][A-Za-z0-9_]*@|\{\{/.test(v)) return undefined; // a template placeholder anywhere
  }
  switch (directive.kind) {
    case 'boolean':
      return isBoolean(v) ? undefined : fail(`is not a boolean: use one of yes/no, true/false, on/off, 1/0`);
    case 'timespan':
      return isTimespan(v, directive.format === 'nsec')
        ? undefined
        : fail('is not a time span: use a number with a unit (us, ms, s, min, h, d, w, M, y), combinations such as "1min 30s", or infinity');
    case 'size':
      if (directive.format === 'memory' && (v === 'infinity' || PERCENT.test(v))) return undefined;
      return isSize(v)
        ? undefined
        : fail(
            `is not a size: use bytes with an optional K, M, G, T, P or E suffix (base 1024)${directive.format === 'memory' ? ', a percentage, or infinity' : ''}`,
          );
    case 'integer': {
      const m = checkInteger(v, directive.format);
      return m ? fail(m) : undefined;
    }
    case 'percent':
      if (directive.format === 'tasks') {
        const m = checkInteger(v, 'tasks');
        return m ? fail(`is not a number, a percentage or infinity`) : undefined;
      }
      return PERCENT.test(v) ? undefined : fail('is not a percentage such as 20%');
    case 'enum':
      return checkEnum(directive, v, version);
    case 'path': {
      let p = v;
      if (directive.format === 'condition') p = p.replace(/^[|!]+/, '');
      if (directive.format === 'optional' || directive.format === 'workdir') p = p.replace(/^-/, '');
      if (directive.format === 'workdir' && (p === '~' || p.startsWith('~/'))) return undefined;
      if (directive.format === 'pidfile' || isAbsolute(p)) return undefined;
      return fail(`is not an absolute path (it must start with /)`);
    }
    case 'paths': {
      const { words, unbalanced } = splitWords(v);
      if (unbalanced) return fail('has an unbalanced quote');
      for (const w of words) {
        const p = directive.format === 'namespace' ? w.text.replace(/^[-+]+/, '') : w.text;
        if (!isAbsolute(p) && !hasSpecifier(p)) return { message: `${JSON.stringify(w.text)} is not an absolute path`, start: w.start, end: w.end };
      }
      return undefined;
    }
    case 'command':
      return checkCommand(v, version);
    case 'units':
    case 'unit': {
      const plain = plainWords(v);
      if (plain && (directive.kind === 'units' || plain.length === 1) && plain.every(w => isUnitName(w) || hasSpecifier(w))) return undefined;
      const { words } = splitWords(v);
      if (directive.kind === 'unit' && words.length > 1) return fail('names more than one unit');
      for (const w of words) {
        if (!isUnitName(w.text) && !hasSpecifier(w.text)) {
          return { message: `${JSON.stringify(w.text)} is not a unit name (name.service, name.target, name@instance.service, …)`, start: w.start, end: w.end };
        }
      }
      return undefined;
    }
    case 'signal':
      return isSignal(v) ? undefined : fail('is not a signal: use a name such as SIGTERM or TERM, or a number');
    case 'mode':
      return /^0?[0-7]{3,4}$/.test(v) ? undefined : fail('is not an octal file mode such as 0644');
    case 'user':
      return /^[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?$/.test(v) ? undefined : fail('is not a user or group name or numeric ID');
    case 'environment':
      return checkEnvironment(v);
    case 'string':
      if (directive.format === 'calendar') return checkCalendar(v);
      if (directive.format === 'rlimit') {
        const m = checkRlimit(v);
        return m ? fail(m) : undefined;
      }
      if (directive.format === 'urls') {
        for (const w of splitWords(v).words) {
          if (!URL_SCHEMES.test(w.text))
            return { message: `${JSON.stringify(w.text)} is not a URL systemd accepts (http://, https://, file:, info:, man:)`, start: w.start, end: w.end };
        }
      }
      return undefined;
    default:
      return undefined;
  }
}

function checkEnum(directive: Directive, v: string, version: number | undefined): ValueProblem | undefined {
  const values = directive.values ?? [];
  if (values.includes(v)) {
    const since = directive.valueSince?.[v];
    if (version !== undefined && since !== undefined && since > version) {
      return { message: `${directive.name}=${v} needs systemd ${since} or later (the target is ${version})`, since };
    }
    return undefined;
  }
  if (directive.acceptsBoolean && isBoolean(v)) return undefined;
  if (directive.format === 'numeric' && /^\d+$/.test(v)) return undefined;
  if (directive.valuePrefixes?.some(p => v.startsWith(p) && v.length > p.length)) return undefined;
  const list = [...values, ...(directive.valuePrefixes ?? []).map(p => `${p}…`)];
  return { message: `is not one of ${list.join(', ')}${directive.acceptsBoolean ? ' (or a boolean)' : ''}` };
}

const CALENDAR_SHORTHANDS = new Set(['minutely', 'hourly', 'daily', 'monthly', 'weekly', 'yearly', 'annually', 'quarterly', 'semiannually', 'semi-annually']);
const WEEKDAY = /^(mon|tue|wed|thu|fri|sat|sun)/i;

/**
 * A light check of a calendar expression: a shorthand (daily, weekly, …), or something with a
 * date, a time, a weekday or a wildcard. It catches misspelled shorthands such as "dayly"; the
 * full grammar is systemd's (`systemd-analyze calendar` tells exactly).
 */
function checkCalendar(v: string): ValueProblem | undefined {
  if (CALENDAR_SHORTHANDS.has(v.toLowerCase())) return undefined;
  if (/[0-9*]/.test(v) || WEEKDAY.test(v)) return undefined;
  return { message: 'is not a calendar expression: use daily, weekly, hourly, …, or a form such as "Mon *-*-* 09:00" or "*-*-01 00:00"' };
}
