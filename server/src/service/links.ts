/**
 * Document links: Documentation= URLs and man: pages (to the man page site), EnvironmentFile=,
 * WorkingDirectory= and Exec paths that exist in the workspace, and unit names to their files.
 * Whether a path exists is the adapter's question (`ctx.resolvePath`); the service stays pure.
 */
import type { DocumentLink } from 'vscode-languageserver-types';
import { UnitNameInfo } from '../../../unitfile/src';
import { unitRefs } from './unitRefs';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

const MAN_SITE = 'https://man7.org/linux/man-pages';
const PATH_KEYS = new Set(['EnvironmentFile', 'WorkingDirectory']);

/** `man:systemd.unit(5)` → the man7.org page; undefined when not a man: reference with a section. */
export function manPageUrl(uri: string): string | undefined {
  const m = /^man:([\w.:+-]+)\((\d)\w*\)$/.exec(uri);
  return m ? `${MAN_SITE}/man${m[2]}/${m[1]}.${m[2]}.html` : undefined;
}

export function documentLinks(doc: UnitDocument, ctx: ServiceContext): DocumentLink[] {
  const { file } = doc;
  const text = file.text;
  const out: DocumentLink[] = [];
  const link = (start: number, end: number, target: string, tooltip: string) => out.push({ range: rangeOf(doc.document, start, end), target, tooltip });
  const words = (start: number, end: number) => {
    const list: { text: string; start: number }[] = [];
    const re = /[^\s"]+/g;
    const value = text.slice(start, end);
    for (let m = re.exec(value); m; m = re.exec(value)) list.push({ text: m[0], start: start + m.index });
    return list;
  };
  const pathLink = (word: string, start: number) => {
    const stripped = word.replace(/^[-@:+!|~]+/, '');
    if (!stripped.startsWith('/') || !ctx.resolvePath) return;
    const target = ctx.resolvePath(stripped, doc.document.uri);
    const from = start + word.length - stripped.length;
    if (target) link(from, from + stripped.length, target, `Open ${stripped} (in the workspace)`);
  };
  for (const o of file.options) {
    if (o.section === 'Unit' && o.name === 'Documentation') {
      for (const w of words(o.valueStart, o.valueEnd)) {
        if (/^(https?|file):\/\//.test(w.text)) link(w.start, w.start + w.text.length, w.text, 'Open the documentation');
        else {
          const man = manPageUrl(w.text);
          if (man) link(w.start, w.start + w.text.length, man, `Open the man page ${w.text.slice(4)}`);
        }
      }
      continue;
    }
    const d = ctx.catalog.lookupDirective(o.section, o.name);
    if (PATH_KEYS.has(o.name)) for (const w of words(o.valueStart, o.valueEnd)) pathLink(w.text, w.start);
    else if (d?.kind === 'command') {
      const first = words(o.valueStart, o.valueEnd)[0];
      if (first) pathLink(first.text, first.start);
    }
  }
  if (ctx.index) {
    for (const r of unitRefs(file, doc.unitName, ctx.catalog)) {
      if (r.glob) continue;
      const exact = ctx.index.get(r.name);
      const template = UnitNameInfo.parse(r.name)?.template;
      const target = exact ?? (template !== undefined ? ctx.index.get(template) : undefined);
      if (target?.uri && target.uri !== doc.document.uri) link(r.start, r.end, target.uri, `Open ${target.name}`);
    }
  }
  return out.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}
