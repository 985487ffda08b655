/**
 * Completion: sections for the unit type, directives for the section (snippets `Name=`), values by
 * kind (enums, booleans), specifiers after `%`, unit names for dependencies and [X-Fleet], and
 * machine IDs and metadata from the connected cluster.
 */
import {
  CompletionItemKind,
  CompletionItemTag,
  InsertTextFormat,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type Range,
} from 'vscode-languageserver-types';
import {
  FLEET_SPECIFIERS,
  guessUnitType,
  isGlobalUnit,
  isTemplateName,
  specifierValue,
  toOptions,
  XFLEET_KEYS,
  XFLEET_SECTION,
  xfleetKey,
  type UnitFile,
} from '../../../unitfile/src';
import { enumValueDoc } from '../../../unitfile/src/systemd/catalog';
import type { Directive } from '../../../unitfile/src/systemd/types';
import { DEPENDENCY_DIRECTIVES, UNIT_LIST_KINDS } from './catalog';
import { cursorContext, type Word } from './cursor';
import { directiveMarkdown, sectionMarkdown, XFLEET_SECTION_MARKDOWN, xfleetKeyMarkdown } from './docs';
import { describeMachine } from './placement';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

const md = (value: string) => ({ kind: MarkupKind.Markdown, value });

export function complete(doc: UnitDocument, offset: number, ctx: ServiceContext): CompletionList {
  const items = completionItems(doc, offset, ctx);
  return { isIncomplete: false, items };
}

function completionItems(doc: UnitDocument, offset: number, ctx: ServiceContext): CompletionItem[] {
  const { file } = doc;
  const c = cursorContext(file, offset);
  const unitType = guessUnitType(file, doc.unitName);
  const edit = (start: number, end: number, newText: string) => ({ range: rangeOf(doc.document, start, end), newText });
  switch (c.kind) {
    case 'sectionHeader':
      return sectionItems(file, unitType, ctx, c.start).map(({ name, documentation }, i) => ({
        label: name,
        kind: CompletionItemKind.Module,
        documentation: md(documentation),
        sortText: String(i).padStart(3, '0'),
        textEdit: edit(c.start, c.end, c.closed ? name : `${name}]`),
      }));
    case 'key': {
      if (!c.section) {
        return sectionItems(file, unitType, ctx, -1).map(({ name, documentation }, i) => ({
          label: `[${name}]`,
          kind: CompletionItemKind.Module,
          documentation: md(documentation),
          sortText: String(i).padStart(3, '0'),
          textEdit: edit(c.start, c.end, `[${name}]`),
        }));
      }
      const hasEq = c.option !== undefined;
      if (c.section.name === XFLEET_SECTION) {
        return XFLEET_KEYS.filter(k => k.status === 'current').map(k => ({
          label: k.name,
          kind: CompletionItemKind.Property,
          detail: k.summary,
          documentation: md(xfleetKeyMarkdown(k)),
          insertTextFormat: hasEq ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
          textEdit: edit(c.start, c.end, hasEq ? k.name : k.kind === 'global' ? `${k.name}=\${1|true,false|}` : `${k.name}=$0`),
          ...(hasEq ? {} : { command: { title: 'Suggest', command: 'editor.action.triggerSuggest' } }),
        }));
      }
      const present = new Set(c.section.options.filter(o => o !== c.option).map(o => o.name));
      return ctx.catalog
        .directivesFor(c.section.name, unitType, ctx.settings.systemdVersion)
        .filter(d => d.removed === undefined || d.removed > ctx.settings.systemdVersion)
        .map(d => directiveItem(d, ctx, hasEq, present.has(d.name) && !d.multiple, edit(c.start, c.end, '').range));
    }
    case 'value':
      return valueItems(doc, c.option.section, c.option.name, c.word, offset, ctx);
    default:
      return [];
  }
}

function sectionItems(file: UnitFile, unitType: string, ctx: ServiceContext, current: number) {
  const present = new Set(file.sections.filter(s => s.nameStart !== current).map(s => s.name));
  const list = [
    ...ctx.catalog.sectionsFor(unitType).map(s => ({ name: s.name, documentation: sectionMarkdown(s) })),
    { name: XFLEET_SECTION, documentation: XFLEET_SECTION_MARKDOWN },
  ];
  return list.filter(s => !present.has(s.name));
}

function directiveItem(d: Directive, ctx: ServiceContext, hasEq: boolean, alreadySet: boolean, range: Range): CompletionItem {
  let snippet = `${d.name}=$0`;
  const values = d.kind === 'enum' ? enumValues(d, ctx.settings.systemdVersion) : [];
  if (values.length > 0 && values.every(v => !/[,|$}\\]/.test(v))) snippet = `${d.name}=\${1|${values.join(',')}|}`;
  else if (d.kind === 'boolean') snippet = `${d.name}=\${1|${ctx.catalog.booleanValues.join(',')}|}`;
  const item: CompletionItem = {
    label: d.name,
    kind: CompletionItemKind.Property,
    detail: d.description,
    documentation: md(directiveMarkdown(d, ctx.catalog)),
    insertTextFormat: hasEq ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
    textEdit: { range, newText: hasEq ? d.name : snippet },
    // Deprecated last, then those already set (and not repeatable), then the rest.
    sortText: `${d.deprecated || d.removed !== undefined ? '2' : alreadySet ? '1' : '0'}${d.name}`,
  };
  if (d.deprecated || d.removed !== undefined) item.tags = [CompletionItemTag.Deprecated];
  return item;
}

function valueItems(doc: UnitDocument, section: string, name: string, word: Word, offset: number, ctx: ServiceContext): CompletionItem[] {
  const text = doc.file.text;
  const edit = (start: number, end: number, newText: string) => ({ range: rangeOf(doc.document, start, end), newText });
  const pct = word.prefix.lastIndexOf('%');
  if (pct >= 0 && pct === word.prefix.length - 1 && text[offset - 2] !== '%') {
    const start = word.start + pct;
    return specifierItems(doc, section === XFLEET_SECTION, ctx).map(s => ({ ...s, textEdit: edit(start, offset, s.label) }));
  }
  const wordEdit = (newText: string) => edit(word.start, word.end, newText);
  if (section === XFLEET_SECTION) {
    const key = xfleetKey(name);
    if (!key) return [];
    switch (key.kind) {
      case 'machineOf':
        // A peer is a unit fleet schedules to one machine: not a template, not a global unit.
        return unitNameItems(doc, ctx, { peersOnly: true }).map(i => ({ ...i, textEdit: wordEdit(i.label) }));
      case 'conflicts':
      case 'replaces':
        return unitNameItems(doc, ctx).map(i => ({ ...i, textEdit: wordEdit(i.label) }));
      case 'global':
        return ['true', 'false'].map(v => ({
          label: v,
          kind: CompletionItemKind.Value,
          textEdit: wordEdit(v),
          documentation: md(v === 'true' ? 'Run the unit on every machine (that matches MachineMetadata).' : 'Schedule the unit on one machine (the default).'),
        }));
      case 'machineId':
        return (ctx.cluster?.machines ?? []).map(m => ({
          label: m.id,
          kind: CompletionItemKind.Value,
          detail: describeMachine(m),
          textEdit: wordEdit(m.id),
          documentation: md(`Machine \`${m.id}\` of the connected cluster${m.primaryIP ? `, ${m.primaryIP}` : ''}.\n\n${metadataTable(m.metadata)}`),
        }));
      case 'metadata': {
        const pairs = new Map<string, number>();
        for (const m of ctx.cluster?.machines ?? []) {
          for (const [k, v] of Object.entries(m.metadata ?? {})) pairs.set(`${k}=${v}`, (pairs.get(`${k}=${v}`) ?? 0) + 1);
        }
        return [...pairs]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([pair, count]) => ({
            label: pair,
            kind: CompletionItemKind.Value,
            textEdit: wordEdit(pair),
            documentation: md(`Metadata of ${count} machine${count === 1 ? '' : 's'} in the connected cluster.`),
          }));
      }
    }
  }
  const d = ctx.catalog.lookupDirective(section, name, guessUnitType(doc.file, doc.unitName));
  if (d?.kind === 'enum' && d.values) {
    const items: CompletionItem[] = enumValues(d, ctx.settings.systemdVersion).map(v => {
      const what = enumValueDoc(d, v);
      return {
        label: v,
        kind: CompletionItemKind.EnumMember,
        textEdit: wordEdit(v),
        ...(what ? { labelDetails: { description: what } } : {}),
        documentation: md(what ? `**${d.name}=${v}** — ${what}\n\n${d.description}` : `Value of **${d.name}=**: ${d.description}`),
      };
    });
    for (const p of d.valuePrefixes ?? []) {
      items.push({
        label: p,
        kind: CompletionItemKind.Keyword,
        textEdit: wordEdit(p),
        documentation: md(`\`${p}\` followed by its argument (**${d.name}=${p}…**).`),
      });
    }
    if (d.acceptsBoolean) {
      for (const v of ctx.catalog.booleanValues) {
        if (items.some(i => i.label === v)) continue;
        items.push({ label: v, kind: CompletionItemKind.Value, textEdit: wordEdit(v), documentation: md(`**${d.name}=** also accepts a boolean.`) });
      }
    }
    return items;
  }
  if (d?.kind === 'boolean') {
    return ctx.catalog.booleanValues.map(v => ({
      label: v,
      kind: CompletionItemKind.Value,
      textEdit: wordEdit(v),
      documentation: md(`Boolean value of **${d.name}=**.`),
    }));
  }
  if ((d && UNIT_LIST_KINDS.has(d.kind)) || (!d && DEPENDENCY_DIRECTIVES.has(name))) {
    return unitNameItems(doc, ctx).map(i => ({ ...i, textEdit: wordEdit(i.label) }));
  }
  return [];
}

/** An enum's values that the target systemd version accepts. */
function enumValues(d: Directive, version: number): readonly string[] {
  const values = d.values ?? [];
  return d.valueSince ? values.filter(v => (d.valueSince![v] ?? d.since) <= version) : values;
}

function metadataTable(metadata: Record<string, string> | undefined): string {
  const entries = Object.entries(metadata ?? {});
  if (entries.length === 0) return 'No metadata.';
  return ['| key | value |', '|---|---|', ...entries.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function specifierItems(doc: UnitDocument, fleetOnly: boolean, ctx: ServiceContext): (CompletionItem & { label: string })[] {
  const list = fleetOnly
    ? FLEET_SPECIFIERS.map(s => ({ specifier: s.specifier as string, description: `fleet substitutes ${s.summary}.` }))
    : ctx.catalog.specifiers;
  return list.map(s => {
    const value = doc.unitName !== undefined ? specifierValue(s.specifier, doc.unitName) : undefined;
    const here = value !== undefined ? `\n\nIn \`${doc.unitName}\`: \`${value}\`` : '';
    return { label: s.specifier, kind: CompletionItemKind.Constant, detail: s.description, documentation: md(`**${s.specifier}** — ${s.description}${here}`) };
  });
}

function unitNameItems(doc: UnitDocument, ctx: ServiceContext, options: { peersOnly?: boolean } = {}): (CompletionItem & { label: string })[] {
  const out = new Map<string, CompletionItem & { label: string }>();
  const skip = (name: string) => name === doc.unitName || (options.peersOnly === true && isTemplateName(name));
  for (const u of ctx.index?.units() ?? []) {
    if (skip(u.name) || (options.peersOnly && isGlobalUnit(toOptions(u.file)))) continue;
    out.set(u.name, {
      label: u.name,
      kind: CompletionItemKind.File,
      detail: 'workspace unit',
      documentation: md(`Unit \`${u.name}\` in the workspace${u.uri ? ` (${u.uri})` : ''}.`),
    });
  }
  for (const name of ctx.cluster?.units ?? []) {
    if (skip(name) || out.has(name) || (options.peersOnly && ctx.index?.get(name) && isGlobalUnit(toOptions(ctx.index.get(name)!.file)))) continue;
    out.set(name, {
      label: name,
      kind: CompletionItemKind.Reference,
      detail: 'cluster unit',
      documentation: md(`Unit \`${name}\` in the connected fleet cluster.`),
    });
  }
  return [...out.values()].sort((a, b) => a.label.localeCompare(b.label));
}
