/**
 * What the systemd rules share: each option looked up in the catalog and its value checked,
 * once per validation run (memoised on the RuleContext, which validateUnitFile makes per call),
 * and the unit type the file is checked as.
 */
import type { UnitOptionNode, SectionNode } from '../parse';
import type { RuleContext } from '../rules';
import { DEPRECATED_VALUES, knownIn, lookupDirective, sectionsFor } from './catalog';
import type { Directive } from './types';
import { validateValue, type ValueProblem } from './values';

/** One option with what the catalog says about it, computed once per file and context. */
export interface Entry {
  o: UnitOptionNode;
  /** The option's section applies to this unit type and is a systemd section. */
  checked: boolean;
  directive: Directive | undefined;
  /** Value problem (undefined when valid or not checked). */
  problem: ValueProblem | undefined;
}

export interface Analysis {
  entries: Entry[];
  /**
   * The entries a per-option rule can report on: unknown in a checked section, a value problem,
   * or a directive that is deprecated, has deprecated values, was removed or is newer than the
   * target. In a clean file there are none, so those rules have nothing to loop over.
   */
  notable: Entry[];
  /** Known sections of this unit type present in the file. */
  sections: SectionNode[];
}

/** The unit type the rules check against: the context's, which guessUnitType (validate.ts) computed. */
export function systemdUnitType(ctx: RuleContext): string {
  return ctx.unitType;
}

export const unitType = (ctx: RuleContext) => systemdUnitType(ctx);
export const isIgnored = (d: Directive, version: number) => d.deprecated?.ignoredSince !== undefined && d.deprecated.ignoredSince <= version;

const cache = new WeakMap<RuleContext, Analysis>();
export const isExtension = (name: string) => name.startsWith('X-');

/** The systemd sections of each unit type, as a set (computed once per type). */
const applicableByType = new Map<string, ReadonlySet<string>>();
function applicableSections(type: string): ReadonlySet<string> {
  let set = applicableByType.get(type);
  if (!set) applicableByType.set(type, (set = new Set(sectionsFor(type).map(s => s.name))));
  return set;
}

/**
 * validateValue is a pure function of (directive, value, version), and between two edits almost
 * every line is unchanged: results are remembered per directive, a bounded number of values each.
 */
let valueMemo = new WeakMap<Directive, Map<string, ValueProblem | null>>();
let memoVersion = NaN;
const VALUES_PER_DIRECTIVE = 256;
export function checkValue(directive: Directive, value: string, version: number): ValueProblem | undefined {
  if (version !== memoVersion) {
    // Another target version (a settings change): start over rather than key every value by version.
    valueMemo = new WeakMap();
    memoVersion = version;
  }
  let memo = valueMemo.get(directive);
  if (!memo) valueMemo.set(directive, (memo = new Map()));
  const hit = memo.get(value);
  if (hit !== undefined) return hit ?? undefined;
  const problem = validateValue(directive, value, version);
  if (memo.size >= VALUES_PER_DIRECTIVE) memo.clear();
  memo.set(value, problem ? Object.freeze(problem) : null);
  return problem;
}

export function analyze(ctx: RuleContext): Analysis {
  const hit = cache.get(ctx);
  if (hit) return hit;
  const applicable = applicableSections(unitType(ctx));
  const entries: Entry[] = [];
  const notable: Entry[] = [];
  for (const o of ctx.file.options) {
    const checked = applicable.has(o.section) && !isExtension(o.name);
    const directive = checked ? lookupDirective(o.section, o.name) : undefined;
    let problem: ValueProblem | undefined;
    if (directive && knownIn(directive, ctx.systemdVersion) && !isIgnored(directive, ctx.systemdVersion)) {
      problem = checkValue(directive, o.value, ctx.systemdVersion);
    }
    const entry: Entry = { o, checked, directive, problem };
    entries.push(entry);
    if (
      directive
        ? problem !== undefined ||
          directive.deprecated !== undefined ||
          directive.removed !== undefined ||
          directive.since > ctx.systemdVersion ||
          Object.hasOwn(DEPRECATED_VALUES, o.name)
        : checked
    ) {
      notable.push(entry);
    }
  }
  const analysis = { entries, notable, sections: ctx.file.sections.filter(s => applicable.has(s.name)) };
  cache.set(ctx, analysis);
  return analysis;
}

export const nameRange = (o: UnitOptionNode) => ({ start: o.nameStart, end: o.nameEnd });
export const lineRange = (o: UnitOptionNode) => ({ start: o.nameStart, end: Math.max(o.valueEnd, o.eq + 1) });
export const quote = (s: string) => JSON.stringify(s);
