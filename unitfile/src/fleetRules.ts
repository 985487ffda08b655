/**
 * The fleet half of the rule table: what fleet's API and fleetctl reject or warn about, and the
 * fleet pitfalls listed in the appendix of fleet-reference.md. Messages that fleet itself prints
 * are fleet's exact texts.
 */
import { goFields, goQuote } from './goText';
import { isBadGlob } from './glob';
import { optionViolations, type OptionViolation } from './fleetValidation';
import { isMultivalue, valueElements } from './multivalue';
import type { UnitFile, UnitOptionNode } from './parse';
import type { Fix } from './problem';
import { OptionTextMemo, type Finding, type Rule } from './rules';
import { toOptions } from './serialize';
import { closest } from './suggest';
import { AGENT_UNIT_TYPES, UnitNameInfo, validateUnitName } from './unitName';
import { FLEET_SPECIFIERS, XFLEET_KEYS, XFLEET_SECTION, isFalsy, isTruthy, parseMultivalueLine, unitPrintf, xfleetKey, type XFleetKind } from './xfleet';

/** A file's [X-Fleet] options, computed once per parsed file (the rules below all read them). */
const xfleetCache = new WeakMap<UnitFile, readonly UnitOptionNode[]>();
function xfleetOptions(file: UnitFile): readonly UnitOptionNode[] {
  let list = xfleetCache.get(file);
  if (!list) xfleetCache.set(file, (list = file.options.filter(o => o.section === XFLEET_SECTION)));
  return list;
}
const ofKind = (file: UnitFile, kind: XFleetKind) => xfleetOptions(file).filter(o => xfleetKey(o.name)?.kind === kind);

/**
 * optionViolations of a file's [X-Fleet] options (the only ones ValidateOptions reads), remembered
 * by their text: typing elsewhere in the file does not change them.
 */
const violationMemo = new Map<string, readonly OptionViolation[]>();
function violationsOf(file: UnitFile): readonly OptionViolation[] {
  const xfleet = xfleetOptions(file);
  if (xfleet.length === 0) return [];
  const key = xfleet.map(o => `${o.name}=${o.value}`).join('\n');
  let hit = violationMemo.get(key);
  if (!hit) {
    if (violationMemo.size >= 256) violationMemo.clear();
    violationMemo.set(key, (hit = optionViolations(toOptions({ options: xfleet }))));
  }
  return hit;
}

/** Range of a whole option line (name through value). */
const optionRange = (o: UnitOptionNode) => ({ start: o.nameStart, end: Math.max(o.valueEnd, o.eq + 1) });

/** Deletes an option's physical lines, including its line break. */
export function removeOptionFix(file: UnitFile, o: UnitOptionNode, title?: string): Fix {
  const text = file.text;
  const lineStart = text.lastIndexOf('\n', o.start - 1) + 1;
  const nl = text.indexOf('\n', o.end);
  return { title: title ?? `Remove ${o.name}=`, edits: [{ start: lineStart, end: nl < 0 ? text.length : nl + 1, newText: '' }] };
}

export function renameFix(o: UnitOptionNode, to: string, preferred = true): Fix {
  return { title: `Change to ${to}=`, edits: [{ start: o.nameStart, end: o.nameEnd, newText: to }], preferred };
}

/** Where the file's name-level diagnostics go: the first section header, or the first line. */
function fileAnchor(file: UnitFile): { start: number; end: number } {
  const s = file.sections[0];
  if (s) return { start: s.start, end: s.headerEnd };
  const nl = file.text.indexOf('\n');
  return { start: 0, end: nl < 0 ? file.text.length : nl };
}

const unitName: Rule = {
  code: 'fleet-unit-name',
  severity: 'error',
  enforcedBy: 'fleet',
  summary: "The file name is not a unit name fleet accepts (fleet's ValidateName).",
  check(ctx, report) {
    if (ctx.unitName === undefined) return;
    const message = validateUnitName(ctx.unitName);
    if (message) report({ ...fileAnchor(ctx.file), message: `${message} (file name ${goQuote(ctx.unitName)})` });
  },
};

const options: Rule = {
  code: 'fleet-options',
  severity: 'error',
  enforcedBy: 'fleet',
  summary: "[X-Fleet] options fleet's API refuses together (fleet's ValidateOptions).",
  check(ctx, report) {
    const violations = violationsOf(ctx.file);
    for (const v of violations) {
      const involved = new Set<UnitOptionNode>();
      for (const kind of v.kinds) {
        for (const o of ofKind(ctx.file, kind)) {
          if (kind === 'global' && !isTruthy(parseMultivalueLine(o.value).at(-1) ?? '')) continue;
          if (v.peer !== undefined && kind === 'machineOf' && !parseMultivalueLine(o.value).includes(v.peer)) continue;
          if (v.pattern !== undefined && kind !== 'machineOf' && !patternsOf(o, kind).includes(v.pattern)) continue;
          involved.add(o);
        }
      }
      for (const o of involved) report({ ...optionRange(o), message: v.message, fixes: [removeOptionFix(ctx.file, o)] });
    }
  },
};

function patternsOf(o: UnitOptionNode, kind: XFleetKind): string[] {
  const values = parseMultivalueLine(o.value);
  return kind === 'conflicts' ? values.flatMap(goFields) : values;
}

const unknownKey: Rule = {
  code: 'xfleet-unknown-key',
  severity: 'warning',
  enforcedBy: 'fleetctl',
  summary: 'A key fleet does not know in [X-Fleet] (fleetctl warns; fleet ignores it).',
  check(ctx, report) {
    for (const o of xfleetOptions(ctx.file)) {
      if (xfleetKey(o.name)) continue;
      const suggestion =
        closest(
          o.name,
          XFLEET_KEYS.filter(k => k.status === 'current').map(k => k.name),
        ) ??
        closest(
          o.name,
          XFLEET_KEYS.map(k => k.name),
        );
      const message = `unrecognized requirement in [X-Fleet] section: ${goQuote(o.name)}` + (suggestion ? `; did you mean ${suggestion}?` : '');
      report({ start: o.nameStart, end: o.nameEnd, message, ...(suggestion ? { fixes: [renameFix(o, suggestion)] } : {}) });
    }
  },
};

const deprecatedKey: Rule = {
  code: 'xfleet-deprecated-key',
  severity: 'information',
  enforcedBy: 'advice',
  summary: 'A legacy [X-Fleet] spelling; fleet still honours it, the current name is clearer.',
  check(ctx, report) {
    for (const o of xfleetOptions(ctx.file)) {
      const key = xfleetKey(o.name);
      if (!key?.replacement) continue;
      report({
        start: o.nameStart,
        end: o.nameEnd,
        tags: ['deprecated'],
        fixes: [renameFix(o, key.replacement)],
        message: `${o.name} is a legacy spelling of ${key.replacement}; use ${key.replacement}=`,
      });
    }
  },
};

const metadata: Rule = {
  code: 'xfleet-metadata',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'MachineMetadata elements fleet silently ignores or misreads.',
  check(ctx, report) {
    for (const o of ofKind(ctx.file, 'metadata')) metadataMemo.report(o.value, o.valueStart, () => metadataFindings(o), report);
  },
};
const metadataMemo = new OptionTextMemo();
function metadataFindings(o: UnitOptionNode): Finding[] {
  const found: Finding[] = [];
  for (const el of valueElements(o.value)) {
    const at = { start: o.valueStart + el.start, end: o.valueStart + el.end };
    const parts = el.text.split('=');
    if (/[<>!~]/.test(el.text)) {
      found.push({ ...at, message: `fleet has no metadata operators: ${goQuote(el.text)} is not a comparison (only key=value equality exists)` });
    } else if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      const hint = parts.length > 2 && /\s/.test(el.text) ? '; quote each pair: "a=b" "c=d"' : '';
      found.push({ ...at, message: `fleet ignores ${goQuote(el.text)}: a metadata requirement must be exactly key=value${hint}` });
    } else if (/\s$/.test(parts[0]!) || /^\s/.test(parts[1]!)) {
      found.push({
        ...at,
        message: `${goQuote(el.text)} has spaces around "=": fleet compares key ${goQuote(parts[0]!)} and value ${goQuote(parts[1]!)} literally`,
      });
    }
  }
  return found;
}

const unquotedList: Rule = {
  code: 'xfleet-unquoted-list',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A MachineOf or Replaces value with spaces is one name, not a list.',
  check(ctx, report) {
    for (const o of [...ofKind(ctx.file, 'machineOf'), ...ofKind(ctx.file, 'replaces')]) {
      if (isMultivalue(o.value) || !/\s/.test(o.value)) continue;
      const parts = goFields(o.value);
      if (parts.length < 2) continue;
      const quoted = parts.map(p => `"${p}"`).join(' ');
      report({
        start: o.valueStart,
        end: o.valueEnd,
        message: `fleet reads ${o.name}=${o.value} as one unit name containing spaces; quote each name for a list: ${quoted}`,
        fixes: [{ title: `Quote each name: ${quoted}`, edits: [{ start: o.valueStart, end: o.valueEnd, newText: quoted }], preferred: true }],
      });
    }
  },
};

const badGlob: Rule = {
  code: 'xfleet-bad-glob',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A malformed Conflicts or Replaces glob, which never matches.',
  check(ctx, report) {
    for (const o of [...ofKind(ctx.file, 'conflicts'), ...ofKind(ctx.file, 'replaces')]) {
      badGlobMemo.report(`${o.name}=${o.value}`, o.valueStart, () => badGlobFindings(o), report);
    }
  },
};
const badGlobMemo = new OptionTextMemo();
function badGlobFindings(o: UnitOptionNode): Finding[] {
  const found: Finding[] = [];
  const kind = xfleetKey(o.name)!.kind;
  for (const el of valueElements(o.value)) {
    const patterns = kind === 'conflicts' ? goFields(el.text) : [el.text];
    for (const p of patterns) {
      if (!isBadGlob(p)) continue;
      const idx = o.value.indexOf(p, el.start);
      const start = o.valueStart + (idx >= 0 ? idx : el.start);
      found.push({
        start,
        end: start + (idx >= 0 ? p.length : el.end - el.start),
        message: `Malformed glob ${goQuote(p)} never matches (Go path.Match syntax: * ? [a-z] \\x)`,
      });
    }
  }
  return found;
}

const globalValue: Rule = {
  code: 'xfleet-global-value',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A Global value fleet reads as false although it is not a false spelling.',
  check(ctx, report) {
    for (const o of ofKind(ctx.file, 'global')) {
      for (const el of valueElements(o.value)) {
        if (isTruthy(el.text) || isFalsy(el.text)) continue;
        report({
          start: o.valueStart + el.start,
          end: o.valueStart + el.end,
          message: `fleet reads Global=${el.text} as false: only true, yes, 1, on and t (any case) mean true`,
          fixes: [
            { title: 'Change to true', edits: [{ start: o.valueStart + el.start, end: o.valueStart + el.end, newText: 'true' }] },
            { title: 'Change to false', edits: [{ start: o.valueStart + el.start, end: o.valueStart + el.end, newText: 'false' }] },
          ],
        });
      }
    }
  },
};

const machineId: Rule = {
  code: 'xfleet-machine-id',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A MachineID that no machine can have.',
  check(ctx, report) {
    for (const o of ofKind(ctx.file, 'machineId')) {
      if (o.value === '') {
        report({
          ...optionRange(o),
          message: `${o.name}= is empty: fleet then requires the empty machine ID, so the unit can never be scheduled`,
          fixes: [removeOptionFix(ctx.file, o)],
        });
        continue;
      }
      const first = parseMultivalueLine(o.value)[0] ?? '';
      if (first.includes('%')) continue; // a specifier such as %i: checked when an instance is scheduled
      if (/^[0-9a-f]{32}$/.test(first) || /^[0-9a-f]{8}$/.test(first)) continue;
      report({
        start: o.valueStart,
        end: o.valueEnd,
        message: `${goQuote(first)} is not a machine ID: fleet matches the full 32-character ID or exactly its first 8 characters`,
      });
    }
  },
};

const installSection: Rule = {
  code: 'fleet-install-section',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'fleet enables units that have an [Install] section, so systemd may start them on its own.',
  check(ctx, report) {
    if (!ctx.file.sections.some(s => s.name === XFLEET_SECTION)) return; // plain systemd units keep their [Install]
    for (const s of ctx.file.sections) {
      if (s.name !== 'Install') continue;
      report({
        start: s.start,
        end: s.headerEnd,
        message: "fleet's agent enables units with an [Install] section (at runtime), so systemd may start this unit independently of fleet's desired state",
      });
    }
  },
};

const sectionCase: Rule = {
  code: 'xfleet-section-name',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A section that looks like [X-Fleet] but is not, so fleet ignores its options.',
  check(ctx, report) {
    for (const s of ctx.file.sections) {
      if (s.name === XFLEET_SECTION) continue;
      const normalized = s.name
        .trim()
        .toLowerCase()
        .replace(/[\s_-]/g, '');
      if (normalized !== 'xfleet' && normalized !== 'fleet') continue;
      report({
        start: s.nameStart,
        end: s.nameEnd,
        message: `[${s.name}] is not fleet's [X-Fleet] section (the name is case-sensitive and exact); fleet ignores its options`,
        fixes: [{ title: 'Rename to [X-Fleet]', edits: [{ start: s.nameStart, end: s.nameEnd, newText: XFLEET_SECTION }], preferred: true }],
      });
    }
  },
};

const unitType: Rule = {
  code: 'fleet-unit-type',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: "A unit type fleet's agent does not manage.",
  check(ctx, report) {
    if (ctx.unitName === undefined || validateUnitName(ctx.unitName)) return;
    if ((AGENT_UNIT_TYPES as readonly string[]).includes(ctx.unitType)) return;
    report({
      ...fileAnchor(ctx.file),
      message: `fleet's agent only manages ${AGENT_UNIT_TYPES.join(', ')} units: a .${ctx.unitType} unit is accepted by the API but never started, and fleetctl reads its name as ${ctx.unitName}.service`,
    });
  },
};

const specifiers: Rule = {
  code: 'xfleet-specifier',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A specifier fleet does not expand inside [X-Fleet].',
  check(ctx, report) {
    for (const o of xfleetOptions(ctx.file)) {
      const value = ctx.file.text.slice(o.valueStart, o.valueEnd);
      if (value.includes('%')) specifierMemo.report(value, o.valueStart, () => specifierFindings(value, o.valueStart), report);
    }
  },
};
const KNOWN_SPECIFIERS = new Set<string>(FLEET_SPECIFIERS.map(s => s.specifier));
const specifierMemo = new OptionTextMemo();
function specifierFindings(value: string, base: number): Finding[] {
  const found: Finding[] = [];
  for (const m of value.matchAll(/%./g)) {
    if (KNOWN_SPECIFIERS.has(m[0])) continue;
    const start = base + m.index!;
    found.push({ start, end: start + 2, message: `fleet expands only %n %N %p %i in [X-Fleet]; ${m[0]} stays literal` });
  }
  return found;
}

const machineOfCycle: Rule = {
  code: 'xfleet-machineof-cycle',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'Units that need each other’s machine through MachineOf, so none is ever scheduled.',
  check(ctx, report) {
    if (!ctx.index || ctx.unitName === undefined) return;
    const self = ctx.unitName;
    const peersOf = (name: string, file: UnitFile) => {
      const info = UnitNameInfo.parse(name);
      return ofKind(file, 'machineOf').flatMap(o => parseMultivalueLine(o.value).map(v => (info ? unitPrintf(v, info) : v)));
    };
    for (const o of ofKind(ctx.file, 'machineOf')) {
      for (const first of parseMultivalueLine(o.value)) {
        const info = UnitNameInfo.parse(self);
        const start = info ? unitPrintf(first, info) : first;
        // Depth-first search from this peer back to self, bounded by the index size.
        const path = [self, start];
        const seen = new Set<string>([start]);
        const found = (function walk(name: string): boolean {
          if (name === self) return true;
          const entry = ctx.index!.get(name);
          if (!entry) return false;
          for (const next of peersOf(name, entry.file)) {
            if (next === self) {
              path.push(self);
              return true;
            }
            if (seen.has(next)) continue;
            seen.add(next);
            path.push(next);
            if (walk(next)) return true;
            path.pop();
          }
          return false;
        })(start);
        if (found) report({ ...optionRange(o), message: `MachineOf cycle: ${path.join(' → ')}; fleet can never schedule these units` });
      }
    }
  },
};

const ignoredText: Rule = {
  code: 'fleet-ignored-text',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'Text before the first section header, which fleet ignores.',
  check(ctx, report) {
    for (const r of ctx.file.ignored) {
      report({
        ...r,
        tags: ['unnecessary'],
        message: 'fleet ignores text before the first [Section] header',
        fixes: [{ title: 'Comment out', edits: [{ start: r.start, end: r.start, newText: '# ' }] }],
      });
    }
  },
};

const hashInValue: Rule = {
  code: 'fleet-hash-in-value',
  severity: 'information',
  enforcedBy: 'advice',
  summary: 'A # after a value is part of the value, not a comment.',
  check(ctx, report) {
    for (const o of ctx.file.options) {
      const value = ctx.file.text.slice(o.valueStart, o.valueEnd);
      if (value.indexOf('#', 1) < 0) continue;
      hashMemo.report(`${o.name}=${value}`, o.valueStart, () => hashFindings(o.name, value, o.valueStart, o.valueEnd), report);
    }
  },
};
const hashMemo = new OptionTextMemo();
function hashFindings(name: string, value: string, valueStart: number, valueEnd: number): Finding[] {
  let quote = '';
  for (let i = 1; i < value.length; i++) {
    const ch = value[i]!;
    if (quote) {
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && /\s/.test(value[i - 1]!)) {
      return [{ start: valueStart + i, end: valueEnd, message: `"${value.slice(i)}" is part of the ${name}= value: comments must start a line` }];
    }
  }
  return [];
}

const commentContinuation: Rule = {
  code: 'fleet-comment-continuation',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A comment ending in a backslash also swallows the next line.',
  check(ctx, report) {
    for (const c of ctx.file.comments) {
      if (!c.swallows || c.swallowedStart === undefined) continue;
      const text = ctx.file.text;
      const firstEnd = text.indexOf('\n', c.start);
      const lineEnd = firstEnd < 0 ? text.length : firstEnd;
      const bs = text.lastIndexOf('\\', lineEnd);
      report({
        start: c.swallowedStart,
        end: c.end,
        tags: ['unnecessary'],
        message: 'fleet ignores this line: the comment above ends in "\\", which continues the comment',
        ...(bs >= c.start
          ? { fixes: [{ title: 'Remove the trailing backslash from the comment', edits: [{ start: bs, end: bs + 1, newText: '' }], preferred: true }] }
          : {}),
      });
    }
  },
};

/** The fleet rules, in the order their diagnostics are listed. */
export const FLEET_RULES: readonly Rule[] = [
  unitName,
  options,
  unknownKey,
  deprecatedKey,
  metadata,
  unquotedList,
  badGlob,
  globalValue,
  machineId,
  installSection,
  sectionCase,
  unitType,
  specifiers,
  machineOfCycle,
  ignoredText,
  hashInValue,
  commentContinuation,
];
