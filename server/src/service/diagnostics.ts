/**
 * Problems → LSP diagnostics: the unitfile rule table (validateUnitFile), placement preview, the
 * user's per-rule severity overrides, tags and documentation links.
 */
import { Diagnostic, DiagnosticSeverity, DiagnosticTag } from 'vscode-languageserver-types';
import {
  ALL_RULES,
  PARSE_CODE,
  parseUnitFile,
  plainHint,
  suppressed,
  suppressions,
  validateUnitFile,
  XFLEET_DOC_URL,
  type Problem,
  type Severity,
} from '../../../unitfile/src';
import type { RuleSeverityOverride } from '../../../protocol/src/settings';
import type { DirectiveCatalog } from './catalog';
import { optionAt } from './cursor';
import { layersOf } from './dropIns';
import { placementProblems } from './placement';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

export const SOURCE = 'fleet';

const FLEET_DOCS = 'https://github.com/coreos/fleet/blob/master/Documentation';
const SYSTEMD_UNIT_MAN = 'https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html';

/** Every problem of the document: rules, suppressions, placement; before the user's overrides. */
export function computeProblems(doc: UnitDocument, ctx: ServiceContext): Problem[] {
  let problems = validateUnitFile(doc.file, { unitName: doc.unitName, systemdVersion: ctx.settings.systemdVersion, index: ctx.index, dropIn: doc.dropIn });
  if (doc.dropIn) return problems; // fleet schedules unit files, not drop-ins
  if (problems.some(p => p.code === MISSING_REQUIRED)) problems = withDropInsRequired(doc, ctx, problems);
  const placement = placementProblems(doc.file, doc.unitName, ctx.cluster);
  if (placement.length === 0) return problems;
  // The file's suppression comments apply to placement advice too.
  const s = suppressions(doc.file);
  return [...problems, ...placement.filter(p => !suppressed(p, s, doc.file.text))];
}

const MISSING_REQUIRED = 'missing-required';

/**
 * A required setting may come from a drop-in (`web.service.d/exec.conf` with the ExecStart=):
 * systemd loads the merged configuration, so missing-required stands only when the unit file and
 * its drop-ins together still miss it.
 */
function withDropInsRequired(doc: UnitDocument, ctx: ServiceContext, problems: Problem[]): Problem[] {
  const layers = layersOf(doc, ctx);
  if (!layers || layers.length < 2) return problems;
  const merged = parseUnitFile(layers.map(l => (l.file.text.endsWith('\n') ? l.file.text : `${l.file.text}\n`)).join(''));
  const rules = ALL_RULES.filter(r => r.code === MISSING_REQUIRED);
  const still = validateUnitFile(merged, { unitName: doc.unitName, systemdVersion: ctx.settings.systemdVersion, rules }).length > 0;
  return still ? problems : problems.filter(p => p.code !== MISSING_REQUIRED);
}

/** The effective severity after `fleet.diagnostics.rules`; undefined when the rule is off. */
export function effectiveSeverity(p: Problem, rules: Readonly<Record<string, RuleSeverityOverride>>): Severity | undefined {
  const o = Object.prototype.hasOwnProperty.call(rules, p.code) ? rules[p.code] : undefined;
  if (o === 'off') return undefined;
  return o ?? p.severity;
}

/** Problems after the overrides (rules set to "off" dropped, severities replaced). */
export function applyOverrides(problems: readonly Problem[], rules: Readonly<Record<string, RuleSeverityOverride>>): Problem[] {
  const out: Problem[] = [];
  for (const p of problems) {
    const severity = effectiveSeverity(p, rules);
    if (severity === undefined) continue;
    out.push(severity === p.severity ? p : { ...p, severity });
  }
  return out;
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** Where a rule code is explained. */
export function ruleDocUrl(code: string): string {
  if (code === PARSE_CODE) return `${FLEET_DOCS}/unit-files-and-scheduling.md`;
  if (code.startsWith('xfleet-')) return XFLEET_DOC_URL;
  if (code.startsWith('fleet-')) return `${FLEET_DOCS}/unit-files-and-scheduling.md`;
  return SYSTEMD_UNIT_MAN;
}

/** For systemd's rules, the manual entry of the directive (or section) the problem is on. */
function docUrlFor(doc: UnitDocument, p: Problem, catalog: DirectiveCatalog | undefined): string {
  if (catalog && p.enforcedBy === 'systemd') {
    const o = optionAt(doc.file, p.start);
    const d = o ? catalog.lookupDirective(o.section, o.name) : undefined;
    if (d) return d.docUrl;
    const s = doc.file.sections.find(x => x.start <= p.start && p.start < x.headerEnd);
    const info = s ? catalog.sectionInfo(s.name) : undefined;
    if (info) return info.docUrl;
  }
  return ruleDocUrl(p.code);
}

export function toDiagnostic(doc: UnitDocument, p: Problem, catalog?: DirectiveCatalog): Diagnostic {
  const d: Diagnostic = {
    range: rangeOf(doc.document, p.start, p.end),
    severity: SEVERITY[p.severity],
    code: p.code,
    codeDescription: { href: docUrlFor(doc, p, catalog) },
    source: SOURCE,
    message: withHint(p),
  };
  if (p.tags && p.tags.length > 0) {
    d.tags = p.tags.map(t => (t === 'deprecated' ? DiagnosticTag.Deprecated : DiagnosticTag.Unnecessary));
  }
  return d;
}

/** fleet's exact text, then a plain hint where fleet's is cryptic ("EOF", a byte list, "Peers"). */
function withHint(p: Problem): string {
  const hint = plainHint(p);
  return hint ? `${p.message}\n${hint}` : p.message;
}

/** The document's diagnostics, as published. A new, still empty file gets none until it has content. */
export function diagnostics(doc: UnitDocument, ctx: ServiceContext, problems = computeProblems(doc, ctx)): Diagnostic[] {
  if (!ctx.settings.diagnosticsEnabled) return [];
  if (doc.document.getText().trim() === '') return [];
  return applyOverrides(problems, ctx.settings.rules).map(p => toDiagnostic(doc, p, ctx.catalog));
}
