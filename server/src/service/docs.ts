/** Markdown for directives, sections, [X-Fleet] keys and specifiers (completion and hover share it). */
import { XFLEET_DOC_URL, type XFleetKey } from '../../../unitfile/src';
import type { Directive, SectionInfo } from '../../../unitfile/src/systemd/types';
import type { DirectiveCatalog } from './catalog';

const KIND_LABEL: Record<string, string> = {
  boolean: 'boolean',
  timespan: 'time span',
  size: 'size',
  integer: 'integer',
  percent: 'percentage',
  enum: 'one of a fixed set',
  path: 'absolute path',
  paths: 'absolute paths',
  command: 'command line',
  units: 'unit names',
  unit: 'unit name',
  signal: 'signal',
  mode: 'file mode',
  user: 'user or group',
  environment: 'environment assignments',
  string: 'text',
};

const directiveCache = new WeakMap<Directive, string>();

/** Markdown for a directive (memoised per catalog entry: completion lists build hundreds). */
export function directiveMarkdown(d: Directive, catalog: Pick<DirectiveCatalog, 'booleanValues' | 'oldestVersion'>): string {
  let md = directiveCache.get(d);
  if (md === undefined) {
    md = buildDirectiveMarkdown(d, catalog.booleanValues, catalog.oldestVersion ?? 1);
    directiveCache.set(d, md);
  }
  return md;
}

function buildDirectiveMarkdown(d: Directive, booleans: readonly string[], oldest: number): string {
  const lines = [`**${d.name}=** in \`[${d.section}]\` — ${KIND_LABEL[d.kind] ?? d.kind}${d.multiple ? ', may repeat' : ''}`, '', d.description];
  if (d.kind === 'enum' && d.values && d.values.length > 0) {
    const since = (v: string) => {
      const n = d.valueSince?.[v];
      return n !== undefined && n > d.since && n > oldest ? ` (${n}+)` : '';
    };
    lines.push('', `Values: ${d.values.map(v => `\`${v}\`${since(v)}`).join(', ')}`);
    if (d.valuePrefixes && d.valuePrefixes.length > 0) lines.push('', `With an argument: ${d.valuePrefixes.map(p => `\`${p}…\``).join(', ')}`);
    if (d.acceptsBoolean) lines.push('', 'Also accepts a boolean.');
  }
  if (d.kind === 'boolean') lines.push('', `Values: ${booleans.map(v => `\`${v}\``).join(', ')}`);
  const versions: string[] = [];
  if (d.since > oldest) versions.push(`since systemd ${d.since}`);
  if (d.deprecated) {
    const where = d.deprecated.replacementSection ? ` in \`[${d.deprecated.replacementSection}]\`` : '';
    const use = d.deprecated.replacement ? `, use \`${d.deprecated.replacement}=\`${where}` : '';
    versions.push(`deprecated since systemd ${d.deprecated.since}${use}`);
    if (d.deprecated.ignoredSince !== undefined) versions.push(`ignored since systemd ${d.deprecated.ignoredSince}`);
  }
  if (d.removed !== undefined) versions.push(`removed in systemd ${d.removed}`);
  if (versions.length > 0) lines.push('', `_${versions.join('; ')}_`);
  lines.push('', `[systemd documentation](${d.docUrl})`);
  return lines.join('\n');
}

export function sectionMarkdown(s: SectionInfo): string {
  return [`**[${s.name}]**`, '', s.description, '', `[systemd documentation](${s.docUrl})`].join('\n');
}

export const XFLEET_SECTION_MARKDOWN = [
  '**[X-Fleet]** — fleet scheduling options',
  '',
  'Read by fleet, ignored by systemd: where the unit may run (MachineID, MachineMetadata), with or away from which units (MachineOf, Conflicts, Replaces), or everywhere (Global).',
  '',
  `[fleet documentation](${XFLEET_DOC_URL})`,
].join('\n');

export function xfleetKeyMarkdown(k: XFleetKey): string {
  const status = k.status === 'current' ? '' : ` — ${k.status}${k.replacement ? `, use \`${k.replacement}=\`` : ''}`;
  return [
    `**${k.name}=** in \`[X-Fleet]\`${status}`,
    '',
    k.summary,
    '',
    `Value: ${k.syntax}.`,
    '',
    k.details,
    '',
    '```',
    k.example,
    '```',
    '',
    `[fleet documentation](${XFLEET_DOC_URL})`,
  ].join('\n');
}
