/**
 * A file's [X-Fleet] options as the fleet rules read them: the list, computed once per parsed
 * file, the options of one kind, and where a finding about a whole option goes.
 */
import type { UnitFile, UnitOptionNode } from './parse';
import { XFLEET_SECTION, xfleetKey, type XFleetKind } from './xfleet';

/** A file's [X-Fleet] options, computed once per parsed file (the fleet rules all read them). */
const xfleetCache = new WeakMap<UnitFile, readonly UnitOptionNode[]>();
export function xfleetOptions(file: UnitFile): readonly UnitOptionNode[] {
  let list = xfleetCache.get(file);
  if (!list) xfleetCache.set(file, (list = file.options.filter(o => o.section === XFLEET_SECTION)));
  return list;
}
export const ofKind = (file: UnitFile, kind: XFleetKind) => xfleetOptions(file).filter(o => xfleetKey(o.name)?.kind === kind);

/** Range of a whole option line (name through value). */
export const optionRange = (o: UnitOptionNode) => ({ start: o.nameStart, end: Math.max(o.valueEnd, o.eq + 1) });
