/**
 * Drop-ins (`foo.service.d/*.conf`): a unit's effective configuration with its drop-ins merged as
 * systemd merges them — the unit file first, then the drop-ins in file-name order (a template's
 * `foo@.service.d/` before the instance's own `foo@1.service.d/` entries of the same name are
 * replaced by the instance's); a single-valued setting keeps its last assignment, a list setting
 * accumulates, and an empty assignment resets the list (or the setting to its default).
 */
import { UnitNameInfo, XFLEET_SECTION, type UnitFile } from '../../../unitfile/src';
import type { DirectiveCatalog } from './catalog';
import type { DropIn, ServiceContext, UnitDocument } from './types';

/** The drop-ins that apply to `unitName`, in systemd's order (by file name; an instance's own win over its template's). */
export function applicableDropIns(unitName: string, all: (unit: string) => readonly DropIn[]): DropIn[] {
  const byName = new Map<string, DropIn>();
  const template = UnitNameInfo.parse(unitName)?.template;
  if (template !== undefined && template !== unitName) for (const d of all(template)) byName.set(d.name, d);
  for (const d of all(unitName)) byName.set(d.name, d);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface Assignment {
  value: string;
  /** Where it was written: the unit file's name or `dir/10-x.conf`. */
  from: string;
}

/** The effective assignments of [section] key across the unit file and its drop-ins (empty: the default). */
export function effectiveAssignments(
  layers: readonly { from: string; file: UnitFile }[],
  section: string,
  key: string,
  catalog: DirectiveCatalog,
  unitType?: string,
): Assignment[] {
  const multiple = catalog.lookupDirective(section, key, unitType)?.multiple ?? false;
  let out: Assignment[] = [];
  for (const layer of layers) {
    for (const o of layer.file.options) {
      if (o.section !== section || o.name !== key) continue;
      const value = o.value.trim();
      if (value === '') out = [];
      else if (multiple) out.push({ value, from: layer.from });
      else out = [{ value, from: layer.from }];
    }
  }
  return out;
}

/** The layers of a document's unit: the unit file (this document when it is the unit), then its drop-ins (this document's text for itself). */
export function layersOf(doc: UnitDocument, ctx: ServiceContext): { from: string; file: UnitFile }[] | undefined {
  const name = doc.unitName;
  const all = ctx.dropIns;
  if (name === undefined || !all) return undefined;
  const dropIns = applicableDropIns(name, all);
  if (!doc.dropIn && dropIns.length === 0) return undefined;
  const base = doc.dropIn ? ctx.index?.get(name)?.file : doc.file;
  const layers: { from: string; file: UnitFile }[] = base ? [{ from: name, file: base }] : [];
  const ownUri = doc.document.uri;
  let ownSeen = false;
  for (const d of dropIns) {
    const own = doc.dropIn === true && d.uri === ownUri;
    ownSeen ||= own;
    layers.push({ from: `${d.unit}.d/${d.name}`, file: own ? doc.file : d.file });
  }
  if (doc.dropIn && !ownSeen) {
    const base = ownUri.slice(ownUri.lastIndexOf('/') + 1);
    layers.push({ from: `${name}.d/${decodeURIComponent(base)}`, file: doc.file });
  }
  return layers;
}

/** Hover text: the effective value of [section] key with the drop-ins merged, or undefined when there are none. */
export function effectiveMarkdown(doc: UnitDocument, section: string, key: string, ctx: ServiceContext, unitType?: string): string | undefined {
  if (section === XFLEET_SECTION) return undefined; // fleet reads only the unit file
  const layers = layersOf(doc, ctx);
  if (!layers) return undefined;
  const values = effectiveAssignments(layers, section, key, ctx.catalog, unitType);
  const files = layers.map(l => `\`${l.from}\``).join(', ');
  const lines =
    values.length === 0 ? ['(the default: no assignment remains after the drop-ins)'] : values.map(v => `- \`${key}=${v.value}\` — from \`${v.from}\``);
  return [`**Effective in \`${doc.unitName}\`** (merged from ${files}):`, '', ...lines].join('\n');
}
