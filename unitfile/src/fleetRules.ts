/**
 * The fleet half of the rule table: what fleet's API and fleetctl reject or warn about, and the
 * fleet pitfalls listed in the appendix of fleet-reference.md. Messages that fleet itself prints
 * are fleet's exact texts.
 *
 * This file holds the table and the rules about the unit as fleet's API and agent see it (its name,
 * ValidateOptions, [Install], the unit type); the [X-Fleet] rules are in xfleetRules.ts, the rules
 * about the text in fleetTextRules.ts.
 */
import { goFields, goQuote } from './goText';
import { optionViolations, type OptionViolation } from './fleetValidation';
import { commentContinuation, hashInValue, ignoredText } from './fleetTextRules';
import { removeOptionFix } from './optionFixes';
import type { UnitFile, UnitOptionNode } from './parse';
import type { Rule } from './rules';
import { toOptions } from './serialize';
import { AGENT_UNIT_TYPES, validateUnitName } from './unitName';
import { XFLEET_SECTION, isTruthy, parseMultivalueLine, type XFleetKind } from './xfleet';
import { ofKind, optionRange, xfleetOptions } from './xfleetOptions';
import { badGlob, deprecatedKey, globalValue, machineId, machineOfCycle, metadata, sectionCase, specifiers, unknownKey, unquotedList } from './xfleetRules';

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
