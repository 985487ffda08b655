/**
 * The [X-Fleet] rules of the fleet half of the rule table: keys fleet does not know or spells
 * differently, values fleet ignores, misreads or never matches, a section that only looks like
 * [X-Fleet], specifiers fleet leaves literal, and MachineOf cycles across the workspace.
 */
import { goFields, goQuote } from './goText';
import { isBadGlob } from './glob';
import { isMultivalue, valueElements } from './multivalue';
import { removeOptionFix, renameFix } from './optionFixes';
import type { UnitFile, UnitOptionNode } from './parse';
import { OptionTextMemo, type Finding, type Rule } from './rules';
import { closest } from './suggest';
import { UnitNameInfo } from './unitName';
import { FLEET_SPECIFIERS, XFLEET_KEYS, XFLEET_SECTION, isFalsy, isTruthy, parseMultivalueLine, unitPrintf, xfleetKey } from './xfleet';
import { ofKind, optionRange, xfleetOptions } from './xfleetOptions';

export const unknownKey: Rule = {
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

export const deprecatedKey: Rule = {
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

export const metadata: Rule = {
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

export const unquotedList: Rule = {
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

export const badGlob: Rule = {
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

export const globalValue: Rule = {
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

export const machineId: Rule = {
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

export const sectionCase: Rule = {
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

export const specifiers: Rule = {
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

export const machineOfCycle: Rule = {
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
