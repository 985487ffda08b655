/**
 * Unit-name references inside values: dependency directives (After=, Requires=, WantedBy=, …)
 * and [X-Fleet] MachineOf=, Conflicts=, Replaces=. Used by definition, references and hover.
 */
import { globMatch, hasGlobMeta, UnitNameInfo, unitPrintf, XFLEET_SECTION, xfleetKey, type UnitFile, type UnitOptionNode } from '../../../unitfile/src';
import { DEPENDENCY_DIRECTIVES, UNIT_LIST_KINDS, type DirectiveCatalog } from './catalog';

export interface UnitRef {
  /** As written (quotes excluded). */
  text: string;
  /** After fleet's specifier substitution for this file's name (X-Fleet only). */
  name: string;
  start: number;
  end: number;
  option: UnitOptionNode;
  /** A glob (Conflicts=, Replaces=) rather than an exact name. */
  glob: boolean;
}

export function refersToUnits(o: UnitOptionNode, catalog: DirectiveCatalog): 'exact' | 'glob' | undefined {
  if (o.section === XFLEET_SECTION) {
    const kind = xfleetKey(o.name)?.kind;
    if (kind === 'machineOf') return 'exact';
    if (kind === 'conflicts' || kind === 'replaces') return 'glob';
    return undefined;
  }
  const d = catalog.lookupDirective(o.section, o.name);
  if (d) return UNIT_LIST_KINDS.has(d.kind) ? 'exact' : undefined;
  return DEPENDENCY_DIRECTIVES.has(o.name) ? 'exact' : undefined;
}

/** Every unit-name token of the file, in text order. */
export function unitRefs(file: UnitFile, unitName: string | undefined, catalog: DirectiveCatalog): UnitRef[] {
  const info = unitName !== undefined ? UnitNameInfo.parse(unitName) : undefined;
  const out: UnitRef[] = [];
  for (const o of file.options) {
    const mode = refersToUnits(o, catalog);
    if (!mode) continue;
    const re = /[^\s"\\]+/g;
    const value = file.text.slice(o.valueStart, o.valueEnd);
    for (let m = re.exec(value); m; m = re.exec(value)) {
      const text = m[0];
      const name = o.section === XFLEET_SECTION && info ? unitPrintf(text, info) : text;
      out.push({ text, name, start: o.valueStart + m.index, end: o.valueStart + m.index + text.length, option: o, glob: mode === 'glob' && hasGlobMeta(name) });
    }
  }
  return out;
}

export function refAt(refs: readonly UnitRef[], offset: number): UnitRef | undefined {
  return refs.find(r => r.start <= offset && offset <= r.end);
}

/** Does a reference point at the unit `name`? Exact, by glob, or an instance of the template `name`. */
export function refMatches(ref: UnitRef, name: string): boolean {
  if (ref.glob) return globMatch(ref.name, name);
  if (ref.name === name) return true;
  const info = UnitNameInfo.parse(ref.name);
  return !!info && UnitNameInfo.isInstance(info) && info.template === name;
}
