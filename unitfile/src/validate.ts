/**
 * validateUnitFile: the one entry point that turns a parsed unit file into problems — the
 * parser's errors, every rule of the table, and the suppressions written in the file.
 */
import { FLEET_RULES } from './fleetRules';
import type { UnitFile } from './parse';
import type { Problem } from './problem';
import { runRules, type Rule, type RuleContext, type UnitIndex } from './rules';
import { SYSTEMD_RULES } from './systemd/rules';
import { unitTypeOf } from './unitName';
import { UNIT_TYPES } from './systemd/catalog';

/** Every rule, fleet's first. */
export const ALL_RULES: readonly Rule[] = [...FLEET_RULES, ...SYSTEMD_RULES];

export const DEFAULT_SYSTEMD_VERSION = 252;

export interface ValidateOptions {
  /** The file's base name, e.g. `web@1.service`. */
  unitName?: string | undefined;
  systemdVersion?: number | undefined;
  index?: UnitIndex | undefined;
  rules?: readonly Rule[];
  /**
   * The file is a drop-in (`foo.service.d/*.conf`) and `unitName` the unit it belongs to: checked
   * against that unit's type, without the rules about a whole unit (its name, required settings).
   */
  dropIn?: boolean | undefined;
}

/** Rules about a whole unit file, which a drop-in (a fragment merged into one) is not. */
export const WHOLE_UNIT_RULES: ReadonlySet<string> = new Set(['fleet-unit-name', 'fleet-unit-type', 'missing-required', 'xfleet-machineof-cycle']);

const SECTION_TYPES: Record<string, string> = {
  Service: 'service',
  Socket: 'socket',
  Timer: 'timer',
  Path: 'path',
  Mount: 'mount',
  Automount: 'automount',
  Swap: 'swap',
  Slice: 'slice',
  Scope: 'scope',
};

/**
 * The unit type of a file — the one answer every check and the editor use: the name's suffix when
 * it is a unit type (a build template's trailing `.in` dropped: `foo.service.in` is a service),
 * else the first type-specific section, else `service`.
 */
export function guessUnitType(file: UnitFile, unitName?: string): string {
  const fromName = unitName !== undefined ? unitTypeOf(unitName.replace(/\.in$/, '')) : undefined;
  if (fromName && (UNIT_TYPES as readonly string[]).includes(fromName)) return fromName;
  for (const s of file.sections) {
    const t = SECTION_TYPES[s.name];
    if (t) return t;
  }
  return 'service';
}

export function ruleContext(file: UnitFile, options: ValidateOptions = {}): RuleContext {
  return {
    file,
    unitName: options.unitName,
    unitType: guessUnitType(file, options.unitName),
    systemdVersion: options.systemdVersion ?? DEFAULT_SYSTEMD_VERSION,
    index: options.index,
  };
}

/**
 * Suppressions written as comments:
 *   `# fleet-disable code-a, code-b`            the whole file (no codes: every rule)
 *   `# fleet-disable-next-line code-a`          the next option or header line (no codes: every rule)
 * (A `#` after a value is part of the value, so there is no same-line form.)
 */
export interface Suppressions {
  file: Set<string> | 'all' | undefined;
  /** Line start offset → suppressed codes (or all). */
  lines: Map<number, Set<string> | 'all'>;
}

const DIRECTIVE = /^[#;]\s*fleet-disable(-next-line)?(?:\s+([\w\s,-]*))?$/;

export function suppressions(file: UnitFile): Suppressions {
  const out: Suppressions = { file: undefined, lines: new Map() };
  const text = file.text;
  for (const c of file.comments) {
    const firstEnd = text.indexOf('\n', c.start);
    const line = text
      .slice(c.start, firstEnd < 0 ? text.length : firstEnd)
      .replace(/\r$/, '')
      .trim();
    const m = DIRECTIVE.exec(line);
    if (!m) continue;
    const codes = (m[2] ?? '').split(/[\s,]+/).filter(Boolean);
    const set: Set<string> | 'all' = codes.length === 0 ? 'all' : new Set(codes);
    if (!m[1]) {
      if (set === 'all' || out.file === 'all') out.file = 'all';
      else out.file = new Set([...(out.file ?? []), ...set]);
      continue;
    }
    // The next line that is not blank or a comment.
    let pos = firstEnd < 0 ? text.length : firstEnd + 1;
    while (pos < text.length) {
      const end = text.indexOf('\n', pos);
      const l = text.slice(pos, end < 0 ? text.length : end).trim();
      if (l !== '' && !l.startsWith('#') && !l.startsWith(';')) break;
      pos = end < 0 ? text.length : end + 1;
    }
    out.lines.set(pos, set);
  }
  return out;
}

/** Whether the file's suppression comments silence `p` (the one matching rule for every finding). */
export function suppressed(p: Pick<Problem, 'code' | 'start'>, s: Suppressions, text: string): boolean {
  const hit = (set: Set<string> | 'all' | undefined) => set === 'all' || (set !== undefined && set.has(p.code));
  if (hit(s.file)) return true;
  if (s.lines.size === 0) return false;
  const lineStart = text.lastIndexOf('\n', p.start - 1) + 1;
  return hit(s.lines.get(lineStart));
}

/** Parser problems plus every rule's findings, minus suppressed ones, sorted by position. */
export function validateUnitFile(file: UnitFile, options: ValidateOptions = {}): Problem[] {
  const ctx = ruleContext(file, options);
  const rules = options.rules ?? ALL_RULES;
  const all = [...file.problems, ...runRules(options.dropIn ? rules.filter(r => !WHOLE_UNIT_RULES.has(r.code)) : rules, ctx)];
  const s = suppressions(file);
  return all.filter(p => !suppressed(p, s, file.text)).sort((a, b) => a.start - b.start || a.end - b.end);
}
