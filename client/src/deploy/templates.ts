/**
 * Template instances (`web@.service` → `web@1.service`…) and picking units by glob, as plain
 * functions. No `vscode` import.
 */
import { globMatch, instanceName, isBadGlob, isTemplateName, validateUnitName } from '../../../unitfile/src';

export const MAX_INSTANCES = 1000;

/**
 * Parses what the user typed for instances: a count (`3` → 1..3), a range (`1..5`, `2-4`), or a
 * comma list of ranges and names (`1..3,7,blue`). Returns the instance strings or an error message.
 */
export function parseInstanceSpec(spec: string): { instances: string[] } | { error: string } {
  const text = spec.trim();
  if (text === '') return { error: 'Enter a number of instances (e.g. 3), a range (e.g. 1..5) or a comma-separated list (e.g. 1,2,blue).' };
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1) return { error: 'The number of instances must be at least 1.' };
    if (n > MAX_INSTANCES) return { error: `At most ${MAX_INSTANCES} instances at once.` };
    return { instances: Array.from({ length: n }, (_, i) => String(i + 1)) };
  }
  const out: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const range = /^(\d+)\s*(?:\.\.|-)\s*(\d+)$/.exec(part);
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      if (to < from) return { error: `The range ${part} is empty; write the lower bound first (e.g. ${to}..${from}).` };
      if (out.length + (to - from + 1) > MAX_INSTANCES) return { error: `At most ${MAX_INSTANCES} instances at once.` };
      for (let i = from; i <= to; i++) out.push(String(i));
    } else if (/^[A-Za-z0-9_.:\\-]+$/.test(part)) {
      out.push(part);
    } else {
      return { error: `"${part}" is not a valid instance name; use letters, digits, "_", ".", ":", "-" or "\\".` };
    }
  }
  const unique = [...new Set(out)];
  if (unique.length === 0) return { error: 'No instances given.' };
  if (unique.length > MAX_INSTANCES) return { error: `At most ${MAX_INSTANCES} instances at once.` };
  return { instances: unique };
}

/** `web@.service` + [1,2] → `web@1.service`, `web@2.service`; every name validated as fleet does. */
export function templateInstances(template: string, instances: readonly string[]): { names: string[] } | { error: string } {
  if (!isTemplateName(template)) return { error: `${template} is not a template unit; a template's name ends in "@" before the type, e.g. web@.service.` };
  const names: string[] = [];
  for (const instance of instances) {
    const name = instanceName(template, instance);
    const problem = validateUnitName(name);
    if (problem) return { error: `Cannot create ${name}: ${problem}` };
    names.push(name);
  }
  return { names };
}

/** Units whose names match a fleet glob (`nginx.*.service`); an error for a malformed pattern. */
export function matchUnits(pattern: string, names: readonly string[]): { names: string[] } | { error: string } {
  const p = pattern.trim();
  if (p === '') return { error: 'Enter a unit name or a glob such as nginx.*.service.' };
  if (isBadGlob(p)) return { error: `The pattern ${p} is malformed (check its [ ] brackets).` };
  return { names: names.filter(n => globMatch(p, n)) };
}
