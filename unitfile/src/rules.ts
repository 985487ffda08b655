/**
 * The rule table's shape. Every diagnostic the editor shows, and every rejection fleetd's API
 * makes, comes from a Rule: one code, one default severity, one check.
 */
import type { UnitFile } from './parse';
import type { EnforcedBy, Fix, Problem, Severity } from './problem';

/** Other unit files the check may look at (the workspace, and when connected the cluster). */
export interface UnitIndex {
  /** Every known unit by name (file base name), excluding none: callers skip the current file themselves. */
  units(): Iterable<{ name: string; file: UnitFile; uri?: string }>;
  get(name: string): { name: string; file: UnitFile; uri?: string } | undefined;
}

export interface RuleContext {
  file: UnitFile;
  /** The unit's name (the file's base name) when known, e.g. `web@1.service`. */
  unitName: string | undefined;
  /** The unit type (`service`, `timer`, …), from the name, or guessed from the sections when unnamed. */
  unitType: string;
  /** The systemd version the unit targets (fleet.systemdVersion). */
  systemdVersion: number;
  /** Cross-file index, when available. */
  index: UnitIndex | undefined;
}

export interface Finding {
  start: number;
  end: number;
  message: string;
  tags?: Problem['tags'];
  fixes?: Fix[];
  /** Overrides the rule's default severity for this finding (e.g. a removed directive is worse than a deprecated one). */
  severity?: Severity;
}

export interface Rule {
  /** Stable code: users key severity overrides and suppressions on it. */
  code: string;
  severity: Severity;
  enforcedBy: EnforcedBy;
  /** One line for docs and the settings description. */
  summary: string;
  check(ctx: RuleContext, report: (finding: Finding) => void): void;
}

export function runRules(rules: readonly Rule[], ctx: RuleContext): Problem[] {
  const out: Problem[] = [];
  for (const rule of rules) {
    rule.check(ctx, f => {
      const p: Problem = {
        code: rule.code,
        message: f.message,
        severity: f.severity ?? rule.severity,
        enforcedBy: rule.enforcedBy,
        start: f.start,
        end: f.end,
      };
      if (f.tags) p.tags = f.tags;
      if (f.fixes) p.fixes = f.fixes;
      out.push(p);
    });
  }
  return out;
}

/**
 * For checks that read one option's own text and nothing else: the findings for that text are
 * remembered (a bounded number of texts per check) relative to the option, and placed again
 * where the option now is. Between two edits almost every option is unchanged, so a validation
 * then mostly looks findings up instead of scanning values again.
 */
export class OptionTextMemo {
  private readonly memo = new Map<string, readonly Finding[]>();

  constructor(private readonly limit = 512) {}

  /** Reports the findings of `compute` (absolute offsets) for the text `key`, found at offset `base`. */
  report(key: string, base: number, compute: () => Finding[], report: (finding: Finding) => void): void {
    let relative = this.memo.get(key);
    if (relative === undefined) {
      relative = compute().map(f => shift(f, -base));
      if (this.memo.size >= this.limit) this.memo.clear();
      this.memo.set(key, relative);
    }
    for (const f of relative) report(shift(f, base));
  }
}

function shift(f: Finding, by: number): Finding {
  const out: Finding = { ...f, start: f.start + by, end: f.end + by };
  if (f.fixes) out.fixes = f.fixes.map(fix => ({ ...fix, edits: fix.edits.map(e => ({ ...e, start: e.start + by, end: e.end + by })) }));
  return out;
}
