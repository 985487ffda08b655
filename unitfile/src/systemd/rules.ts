/**
 * The systemd half of the rule table: sections, directives and values checked against the
 * directive catalog (unknown, misplaced, deprecated, removed or too new; bad values by kind;
 * required and duplicate settings). Severities follow what systemd does with such a line:
 * it ignores unknown sections and keys with a warning, ignores an unparsable value (so the
 * setting silently keeps its default), and refuses to load a unit that misses a required setting.
 *
 * [X-Fleet] and every other `X-` section are left to fleetRules.ts (systemd ignores them).
 */
import { removeOptionFix, renameFix } from '../optionFixes';
import type { UnitOptionNode } from '../parse';
import type { Fix } from '../problem';
import type { Finding, Rule, RuleContext } from '../rules';
import { closest } from '../suggest';
import {
  DEPRECATED_VALUES,
  OLDEST_CATALOGED_VERSION,
  SECTIONS,
  directiveNames,
  findDirective,
  knownIn,
  lookupDirective,
  sectionInfo,
  sectionsFor,
} from './catalog';
import { analyze, isExtension, isIgnored, lineRange, nameRange, quote, unitType, type Entry } from './analysis';
import { missingRequired } from './required';
import type { Directive, SectionInfo } from './types';
import { isBoolean, type ValueProblem } from './values';
const unknownSection: Rule = {
  code: 'unknown-section',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary: 'A section systemd does not know for this unit type (systemd ignores it with a warning; X- sections are allowed).',
  check(ctx, report) {
    const names = knownSectionNames(unitType(ctx), ctx.systemdVersion);
    for (const s of ctx.file.sections) {
      if (isExtension(s.name) || names.includes(s.name)) continue;
      const range = { start: s.nameStart, end: s.nameEnd };
      if (
        s.name
          .trim()
          .toLowerCase()
          .replace(/[\s_-]/g, '')
          .match(/^x?fleet$/)
      )
        continue; // xfleetRules' xfleet-section-name
      const info: SectionInfo | undefined = sectionInfo(s.name);
      if (info) {
        const message =
          info.removed !== undefined && info.removed <= ctx.systemdVersion
            ? `[${s.name}] is no longer supported (removed in systemd ${info.removed}); systemd ignores its settings`
            : `[${s.name}] does not belong in a .${unitType(ctx)} unit (it is for ${info.unitTypes.map(t => `.${t}`).join(', ')} units); systemd ignores its settings`;
        report({ ...range, message });
        continue;
      }
      const suggestion = closest(s.name, names);
      const fixes: Fix[] = suggestion ? [{ title: `Rename to [${suggestion}]`, edits: [{ ...range, newText: suggestion }], preferred: true }] : [];
      report({
        ...range,
        fixes,
        message:
          `Unknown section [${s.name}]; systemd ignores its settings` + (suggestion ? `. Did you mean [${suggestion}]?` : ' (name your own sections X-…)'),
      });
    }
  },
};

/** The sections a unit type has (any version), as a set; and those a version knows, in catalog order. */
const sectionSets = new Map<string, ReadonlySet<string>>();
function sectionNamesOf(type: string): ReadonlySet<string> {
  let set = sectionSets.get(type);
  if (!set) sectionSets.set(type, (set = new Set(sectionsFor(type).map(s => s.name))));
  return set;
}
const knownSections = new Map<string, readonly string[]>();
function knownSectionNames(type: string, version: number): readonly string[] {
  const key = `${type}@${version}`;
  let names = knownSections.get(key);
  if (!names) {
    names = sectionsFor(type)
      .filter(s => knownIn({ since: s.since ?? 0, ...(s.removed ? { removed: s.removed } : {}) }, version))
      .map(s => s.name);
    knownSections.set(key, names);
  }
  return names;
}

/** Did-you-mean candidates per section and version: current names first, then every name. */
const suggestionCache = new Map<string, Map<string, string | undefined>>();
function suggestDirective(section: string, name: string, version: number): string | undefined {
  const key = `${section}@${version}`;
  let perName = suggestionCache.get(key);
  if (!perName) suggestionCache.set(key, (perName = new Map()));
  if (perName.has(name)) return perName.get(name);
  const all = directiveNames(section);
  const current = all.filter(n => {
    const d = lookupDirective(section, n);
    return d !== undefined && knownIn(d, version) && !d.deprecated;
  });
  const suggestion = closest(name, current) ?? closest(name, all);
  if (perName.size < 10_000) perName.set(name, suggestion);
  return suggestion;
}

const unknownDirective: Rule = {
  code: 'unknown-directive',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary: 'A directive systemd does not know in this section (systemd ignores the line with a warning).',
  check(ctx, report) {
    for (const e of analyze(ctx).notable) {
      if (!e.checked || e.directive) continue;
      if (findDirective(e.o.name).length > 0) continue; // directive-wrong-section
      const o = e.o;
      const suggestion = suggestDirective(o.section, o.name, ctx.systemdVersion);
      report({
        ...nameRange(o),
        message: `Unknown directive ${o.name}= in [${o.section}]; systemd ignores this line` + (suggestion ? `. Did you mean ${suggestion}=?` : ''),
        ...(suggestion ? { fixes: [renameFix(o, suggestion)] } : {}),
      });
    }
  },
};

const wrongSection: Rule = {
  code: 'directive-wrong-section',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary: 'A directive written in the wrong section, or in a unit type that has no such setting (systemd ignores it there).',
  check(ctx, report) {
    for (const e of analyze(ctx).notable) {
      if (!e.checked || e.directive) continue;
      const homes = findDirective(e.o.name).filter(d => d.section !== e.o.section);
      if (homes.length === 0) continue;
      const types = sectionNamesOf(unitType(ctx));
      const here = homes.filter(d => types.has(d.section));
      const sections = (list: Directive[]) => [...new Set(list.map(d => `[${d.section}]`))].join(' or ');
      const message =
        here.length > 0
          ? `${e.o.name}= belongs in ${sections(here)}, not [${e.o.section}]; systemd ignores it here`
          : `${e.o.name}= is a ${sections(homes)} setting, which a .${unitType(ctx)} unit does not have; systemd ignores it here`;
      report({ ...nameRange(e.o), message });
    }
  },
};

function describeValueProblem(o: UnitOptionNode, p: ValueProblem): string {
  const v = o.value.trim();
  const shown = v.length > 60 ? `${v.slice(0, 57)}…` : v;
  return /^["A-Z]/.test(p.message) ? `${o.name}=: ${p.message}` : `${o.name}=${shown} ${p.message}`;
}

/** The problem's range in the text: exact when the value is written on one physical line. */
function problemRange(ctx: RuleContext, o: UnitOptionNode, p: ValueProblem) {
  if (o.value.trim() === '') return lineRange(o); // nothing to underline but the assignment itself
  if (p.start === undefined || p.end === undefined) return { start: o.valueStart, end: o.valueEnd };
  if (ctx.file.text.slice(o.valueStart, o.valueEnd) !== o.value.trim()) return { start: o.valueStart, end: o.valueEnd };
  return { start: o.valueStart + p.start, end: o.valueStart + p.end };
}

/**
 * Settings whose unparsable value makes systemd refuse the unit ("bad-setting": their parsers
 * return -ENOEXEC) rather than log and ignore the line.
 */
const REFUSED_WHEN_INVALID = new Set(['User', 'Group', 'WorkingDirectory']);
const refusesInvalid = (d: { kind: string; name: string }) => d.kind === 'command' || REFUSED_WHEN_INVALID.has(d.name);

const invalidValue: Rule = {
  code: 'invalid-value',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary:
    'A value systemd cannot parse: it logs "Failed to parse …, ignoring" and the setting keeps its default (a warning); for Exec lines, User=, Group= and WorkingDirectory= it refuses the unit (an error).',
  check(ctx, report) {
    for (const e of analyze(ctx).notable) {
      const p = e.problem;
      if (!p || p.since !== undefined || !e.directive) continue;
      const d = e.directive;
      const finding: Finding = {
        ...problemRange(ctx, e.o, p),
        message: describeValueProblem(e.o, p),
        ...(refusesInvalid(d) ? { severity: 'error' as const } : {}),
      };
      if (d.kind === 'enum' && d.values) {
        const s = closest(e.o.value.trim(), d.values);
        if (s) finding.fixes = [{ title: `Change to ${s}`, edits: [{ start: e.o.valueStart, end: e.o.valueEnd, newText: s }], preferred: true }];
      } else if (d.kind === 'boolean' && !isBoolean(e.o.value.trim())) {
        finding.fixes = ['yes', 'no'].map(b => ({ title: `Change to ${b}`, edits: [{ start: e.o.valueStart, end: e.o.valueEnd, newText: b }] }));
      }
      report(finding);
    }
  },
};

const deprecatedDirective: Rule = {
  code: 'deprecated-directive',
  severity: 'information',
  enforcedBy: 'systemd',
  summary: 'A directive or value systemd still reads but has superseded (advice: information), or parses and ignores (a warning).',
  check(ctx, report) {
    for (const e of analyze(ctx).notable) {
      const dv = e.directive && knownIn(e.directive, ctx.systemdVersion) ? DEPRECATED_VALUES[e.o.name]?.[e.o.value.trim()] : undefined;
      if (dv && dv.since <= ctx.systemdVersion) {
        const o = e.o;
        report({
          start: o.valueStart,
          end: o.valueEnd,
          tags: ['deprecated'],
          message: `${o.name}=${o.value.trim()} is deprecated: ${dv.note}`,
          ...(dv.replacement
            ? { fixes: [{ title: `Change to ${dv.replacement}`, edits: [{ start: o.valueStart, end: o.valueEnd, newText: dv.replacement }], preferred: true }] }
            : {}),
        });
      }
      const dep = e.directive?.deprecated;
      if (!e.directive || !dep || dep.since > ctx.systemdVersion || !knownIn(e.directive, ctx.systemdVersion)) continue;
      const o = e.o;
      let message: string;
      let ignored = false;
      const fixes: Fix[] = [];
      if (isIgnored(e.directive, ctx.systemdVersion)) {
        message =
          `${o.name}= is no longer supported (since systemd ${dep.ignoredSince}): systemd ignores it` + (dep.replacement ? `; use ${dep.replacement}=` : '');
        ignored = true;
        fixes.push(removeOptionFix(ctx.file, o));
      } else if (dep.replacement && dep.replacementSection && dep.replacementSection !== o.section) {
        message = `${o.name}= in [${o.section}] is deprecated; use ${dep.replacement}= in [${dep.replacementSection}]`;
      } else if (dep.replacement) {
        message = `${o.name}= is deprecated; use ${dep.replacement}=`;
        const target = lookupDirective(o.section, dep.replacement);
        if (target && knownIn(target, ctx.systemdVersion)) fixes.push(renameFix(o, dep.replacement));
      } else {
        message = `${o.name}= is deprecated`;
      }
      report({ ...nameRange(o), message, tags: ['deprecated'], ...(ignored ? { severity: 'warning' as const } : {}), ...(fixes.length ? { fixes } : {}) });
    }
  },
};

const removedDirective: Rule = {
  code: 'removed-directive',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary: 'A directive the target systemd version no longer knows (removed upstream; systemd ignores it).',
  check(ctx, report) {
    for (const e of analyze(ctx).notable) {
      const d = e.directive;
      if (!d || d.removed === undefined || d.removed > ctx.systemdVersion) continue;
      report({
        ...nameRange(e.o),
        tags: ['deprecated'],
        fixes: [removeOptionFix(ctx.file, e.o)],
        message: `${e.o.name}= was removed in systemd ${d.removed}; systemd ${ctx.systemdVersion} ignores it`,
      });
    }
  },
};

const tooNew: Rule = {
  code: 'directive-too-new',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary: 'A directive or value newer than the target systemd version (fleet.systemdVersion); older systemd ignores it.',
  check(ctx, report) {
    for (const e of analyze(ctx).notable) {
      const d = e.directive;
      if (!d) continue;
      if (d.since > ctx.systemdVersion && d.since > OLDEST_CATALOGED_VERSION) {
        report({
          ...nameRange(e.o),
          message: `${e.o.name}= needs systemd ${d.since} or later (the target is ${ctx.systemdVersion}); older systemd ignores it as unknown`,
        });
      } else if (e.problem?.since !== undefined) {
        report({ start: e.o.valueStart, end: e.o.valueEnd, message: e.problem.message });
      }
    }
  },
};
const duplicateDirective: Rule = {
  code: 'duplicate-directive',
  severity: 'warning',
  enforcedBy: 'systemd',
  summary: 'A single-valued directive set more than once in a section: systemd keeps the last value.',
  check(ctx, report) {
    // Per section instance (options come in text order, so an instance's options are
    // consecutive) and name: the assignments since the last reset.
    let section = -1;
    let seen = new Map<string, Entry[]>();
    const flush = () => {
      for (const list of seen.values()) {
        const lastEntry = list.at(-1);
        if (!lastEntry) continue;
        for (const e of list.slice(0, -1)) {
          report({
            ...lineRange(e.o),
            tags: ['unnecessary'],
            fixes: [removeOptionFix(ctx.file, e.o)],
            message: `${e.o.name}= is set again later in [${e.o.section}] (${quote(lastEntry.o.value.trim())}); systemd keeps the last value, so this one has no effect`,
          });
        }
      }
    };
    for (const e of analyze(ctx).entries) {
      if (!e.directive || e.directive.multiple) continue;
      if (e.o.sectionIndex !== section) {
        flush();
        section = e.o.sectionIndex;
        seen = new Map();
      }
      if (e.o.value.trim() === '') {
        seen.set(e.o.name, []);
        continue;
      }
      const list = seen.get(e.o.name);
      if (list) list.push(e);
      else seen.set(e.o.name, [e]);
    }
    flush();
  },
};

/** The systemd rules, in the order their diagnostics are listed. */
export const SYSTEMD_RULES: readonly Rule[] = [
  unknownSection,
  unknownDirective,
  wrongSection,
  invalidValue,
  deprecatedDirective,
  removedDirective,
  tooNew,
  missingRequired,
  duplicateDirective,
];

/** Exposed for tests and for the language service (which section list a type has). */
export { SECTIONS };
export { escapePath } from './required';
export { systemdUnitType } from './analysis';
