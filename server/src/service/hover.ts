/**
 * Hover: directives (kind, values, versions, description, link), sections, [X-Fleet] keys with
 * fleet's semantics, specifiers with their value for this file, unit-name references, and
 * MachineID / placement against the connected cluster.
 */
import { MarkupKind, type Hover } from 'vscode-languageserver-types';
import {
  FLEET_SPECIFIERS,
  guessUnitType,
  isTemplateName,
  machineIdMatches,
  specifierValue,
  UnitNameInfo,
  XFLEET_SECTION,
  xfleetKey,
  type UnitOptionNode,
} from '../../../unitfile/src';
import { cursorContext } from './cursor';
import { effectiveMarkdown } from './dropIns';
import { directiveMarkdown, sectionMarkdown, XFLEET_SECTION_MARKDOWN, xfleetKeyMarkdown } from './docs';
import { describeMachine, placement, placementSummary } from './placement';
import { refAt, refMatches, unitRefs } from './unitRefs';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

export function hover(doc: UnitDocument, offset: number, ctx: ServiceContext): Hover | null {
  const { file } = doc;
  const c = cursorContext(file, offset);
  const result = (value: string, start: number, end: number): Hover => ({
    contents: { kind: MarkupKind.Markdown, value },
    range: rangeOf(doc.document, start, end),
  });
  if (c.kind === 'sectionHeader') {
    const section = file.sections.find(s => s.nameStart === c.start);
    if (!section) return null;
    if (section.name === XFLEET_SECTION) {
      let value = XFLEET_SECTION_MARKDOWN;
      // A template (web@.service) is never scheduled, only its instances are.
      if (doc.unitName !== undefined && isTemplateName(doc.unitName))
        value += '\n\n**Placement:** fleet schedules the instances of a template, not the template.';
      else if (ctx.cluster && ctx.cluster.machines.length > 0) value += `\n\n**Placement:** ${placementSummary(placement(file, doc.unitName, ctx.cluster))}`;
      return result(value, section.start, section.headerEnd);
    }
    const info = ctx.catalog.sectionInfo(section.name);
    return info ? result(sectionMarkdown(info), section.start, section.headerEnd) : null;
  }
  if (c.kind === 'key' && c.option) return optionHover(doc, c.option, ctx, c.option.nameStart, c.option.nameEnd);
  if (c.kind !== 'value') return null;
  const o = c.option;

  const spec = specifierAt(file.text, offset, o.valueStart, o.valueEnd);
  if (spec) {
    const value = specifierMarkdown(spec.specifier, o.section === XFLEET_SECTION, doc, ctx);
    if (value) return result(value, spec.start, spec.end);
  }
  const ref = refAt(unitRefs(file, doc.unitName, ctx.catalog), offset);
  if (ref) return result(unitRefMarkdown(ref.name, ref.glob, doc, ctx), ref.start, ref.end);
  if (o.section === XFLEET_SECTION && xfleetKey(o.name)?.kind === 'machineId' && ctx.cluster) {
    const id = o.value.trim();
    const hits = ctx.cluster.machines.filter(m => machineIdMatches(id, m.id));
    const value =
      hits.length > 0
        ? `**Machine${hits.length > 1 ? 's' : ''} in the connected cluster:**\n\n${hits.map(m => `- ${describeMachine(m)}`).join('\n')}`
        : `No machine of the connected cluster (${ctx.cluster.machines.length}) has the ID \`${id}\` (full ID, or exactly its first 8 characters).`;
    return result(value, o.valueStart, o.valueEnd);
  }
  if (o.valueEnd > o.valueStart && offset >= o.valueStart && offset <= o.valueEnd) return optionHover(doc, o, ctx, o.valueStart, o.valueEnd);
  return null;
}

function optionHover(doc: UnitDocument, o: UnitOptionNode, ctx: ServiceContext, start: number, end: number): Hover | null {
  let value: string | undefined;
  if (o.section === XFLEET_SECTION) {
    const key = xfleetKey(o.name);
    if (key) value = xfleetKeyMarkdown(key);
  } else {
    const unitType = guessUnitType(doc.file, doc.unitName);
    const d = ctx.catalog.lookupDirective(o.section, o.name, unitType);
    if (d) value = directiveMarkdown(d, ctx.catalog);
    const effective = effectiveMarkdown(doc, o.section, o.name, ctx, unitType);
    if (effective) value = value ? `${effective}\n\n---\n\n${value}` : effective;
  }
  return value ? { contents: { kind: MarkupKind.Markdown, value }, range: rangeOf(doc.document, start, end) } : null;
}

/** The `%x` under the cursor (the cursor may be on either character). */
export function specifierAt(text: string, offset: number, min: number, max: number): { specifier: string; start: number; end: number } | undefined {
  // Walk from the value start so that `%%` pairs are read as one specifier.
  for (let i = min; i < max - 1; i++) {
    if (text[i] !== '%') continue;
    if (i <= offset && offset <= i + 2) return { specifier: text.slice(i, i + 2), start: i, end: i + 2 };
    i++;
    if (i >= offset) break;
  }
  return undefined;
}

function specifierMarkdown(specifier: string, xfleet: boolean, doc: UnitDocument, ctx: ServiceContext): string | undefined {
  const name = doc.unitName;
  if (xfleet) {
    const s = FLEET_SPECIFIERS.find(f => f.specifier === specifier);
    if (!s) return `**${specifier}** — fleet does not substitute this specifier in [X-Fleet]; it stays as written.`;
    const value = name !== undefined ? specifierValue(specifier, name) : undefined;
    return `**${specifier}** — fleet substitutes ${s.summary} when scheduling.${value !== undefined ? `\n\nIn \`${name}\`: \`${value}\`` : ''}`;
  }
  const s = ctx.catalog.specifiers.find(x => x.specifier === specifier);
  if (!s) return undefined;
  let value = name !== undefined ? specifierValue(specifier, name) : undefined;
  if (value === undefined && specifier === '%j' && name !== undefined) {
    const prefix = UnitNameInfo.parse(name)?.prefix;
    if (prefix !== undefined) value = prefix.slice(prefix.lastIndexOf('-') + 1);
  }
  return `**${specifier}** — ${s.description}${value !== undefined ? `\n\nIn \`${name}\`: \`${value}\`` : ''}`;
}

function unitRefMarkdown(name: string, glob: boolean, doc: UnitDocument, ctx: ServiceContext): string {
  const units = [...(ctx.index?.units() ?? [])].filter(u => u.name !== doc.unitName);
  if (glob) {
    const matches = units
      .map(u => u.name)
      .filter(n => refMatches({ name, glob: true } as Parameters<typeof refMatches>[0], n))
      .sort();
    const cluster = (ctx.cluster?.units ?? []).filter(n => refMatches({ name, glob: true } as Parameters<typeof refMatches>[0], n) && !matches.includes(n));
    const list = [...matches, ...cluster];
    return [
      `**${name}** — a unit-name glob (\`*\` any characters, \`?\` one character, \`[a-z]\` a class; Go path.Match).`,
      '',
      list.length > 0 ? `Matches: ${list.map(n => `\`${n}\``).join(', ')}` : 'Matches no unit in the workspace or the cluster.',
    ].join('\n');
  }
  const u = ctx.index?.get(name);
  const template = UnitNameInfo.parse(name)?.template;
  const t = u === undefined && template !== undefined && template !== name ? ctx.index?.get(template) : undefined;
  const where = u
    ? `Defined in the workspace${u.uri ? `: ${u.uri}` : '.'}`
    : t
      ? `An instance of the template \`${template}\`, defined in the workspace${t.uri ? `: ${t.uri}` : '.'}`
      : ctx.cluster?.units.includes(name)
        ? 'Known to the connected cluster.'
        : 'Not found in the workspace.';
  return `**${name}**\n\n${where}`;
}
