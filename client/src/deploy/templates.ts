/**
 * Template instances (`web@.service` → `web@1.service`…) and picking units by glob, as plain
 * functions. No `vscode` import.
 */
import { globMatch, hasGlobMeta, instanceName, isBadGlob, isTemplateName, UnitNameInfo, validateUnitName } from '../../../unitfile/src';

export const MAX_INSTANCES = 1000;

/**
 * Parses what the user typed for instances: names and ranges, comma-separated — `7` is the
 * instance `web@7.service` (not a count), `1..3` (or `1-3`) is 1, 2 and 3, `a,b` two names.
 * Returns the instance strings, each once, or an error message.
 */
export function parseInstanceSpec(spec: string): { instances: string[] } | { error: string } {
  const text = spec.trim();
  if (text === '') return { error: 'Enter instance names or ranges: 7 (web@7.service), 1..3 (three instances) or a,b (a list).' };
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

/** Where Start Units Matching gets a unit from. */
export type MatchSource =
  | { kind: 'registry' }
  | { kind: 'file' }
  /** A new instance made from its template, as `fleetctl start web@7.service` does. */
  | { kind: 'template'; template: string; templateIn: 'registry' | 'file' };

export interface MatchedUnit {
  name: string;
  source: MatchSource;
}

/**
 * What Start Units Matching would start: the registry's units and the workspace's unit files whose
 * names match (a registry unit wins over a file of the same name; templates themselves are never
 * started), and for a plain instance name with neither, the instance made from its template
 * (`web@7.service` from `web@.service`, the workspace's file first, as fleetctl looks beside the
 * name before the registry).
 */
export function planStartMatching(pattern: string, registry: readonly string[], files: readonly string[]): { units: MatchedUnit[] } | { error: string } {
  const all = [...new Set([...registry, ...files])];
  const matched = matchUnits(pattern, all);
  if ('error' in matched) return matched;
  const inRegistry = new Set(registry);
  const units: MatchedUnit[] = matched.names
    .filter(n => !isTemplateName(n))
    .map(name => ({ name, source: inRegistry.has(name) ? { kind: 'registry' as const } : { kind: 'file' as const } }));
  const name = pattern.trim();
  if (units.length === 0 && !hasGlobMeta(name)) {
    const info = UnitNameInfo.parse(name);
    if (info && UnitNameInfo.isInstance(info) && info.template && !validateUnitName(name)) {
      const template = info.template;
      if (files.includes(template)) units.push({ name, source: { kind: 'template', template, templateIn: 'file' } });
      else if (inRegistry.has(template)) units.push({ name, source: { kind: 'template', template, templateIn: 'registry' } });
    }
  }
  return { units };
}

/** One line per unit for the preview: where it comes from. */
export function describeMatch(m: MatchedUnit, desiredState?: string): string {
  switch (m.source.kind) {
    case 'registry':
      return `in the registry (${desiredState ?? 'inactive'})`;
    case 'file':
      return 'from its workspace file';
    case 'template':
      return `a new instance of ${m.source.template} (${m.source.templateIn === 'file' ? 'workspace file' : 'registry'})`;
  }
}
