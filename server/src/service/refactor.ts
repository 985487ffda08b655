/**
 * `refactor.rewrite` code actions: convert every legacy/deprecated [X-Fleet] key (X-Condition*,
 * X-Conflicts) to its current spelling, split a multi-value line into one line per value, join
 * consecutive lines of the same list key, and sort the [X-Fleet] keys.
 */
import { CodeActionKind, type CodeAction, type TextEdit } from 'vscode-languageserver-types';
import { valueElements, XFLEET_SECTION, xfleetKey, type UnitOptionNode } from '../../../unitfile/src';
import { optionAt, sectionAt } from './cursor';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

const LIST_KINDS = new Set(['units', 'paths', 'environment']);

/** Keys whose values are lists that systemd or fleet accumulate across lines. */
function listKey(o: UnitOptionNode, ctx: ServiceContext): 'systemd' | 'fleet' | undefined {
  if (o.section === XFLEET_SECTION) {
    const kind = xfleetKey(o.name)?.kind;
    return kind === 'metadata' || kind === 'conflicts' || kind === 'replaces' || kind === 'machineOf' ? 'fleet' : undefined;
  }
  const d = ctx.catalog.lookupDirective(o.section, o.name);
  return d && d.multiple && LIST_KINDS.has(d.kind) ? 'systemd' : undefined;
}

/** The elements of a one-line list value, as written (quotes kept for fleet's form). */
function elements(o: UnitOptionNode, mode: 'systemd' | 'fleet'): string[] {
  if (o.lineCount > 1) return [];
  if (mode === 'fleet')
    return valueElements(o.value)
      .map(e => o.value.slice(e.start, e.end))
      .filter(e => e !== '' && e !== '""');
  return o.value.split(/\s+/).filter(Boolean);
}

export function refactorActions(doc: UnitDocument, start: number, end: number, ctx: ServiceContext): CodeAction[] {
  const { file, document } = doc;
  const uri = document.uri;
  const text = file.text;
  const action = (title: string, edits: TextEdit[]): CodeAction => ({ title, kind: CodeActionKind.RefactorRewrite, edit: { changes: { [uri]: edits } } });
  const out: CodeAction[] = [];

  const legacy = file.options.filter(o => o.section === XFLEET_SECTION && xfleetKey(o.name)?.replacement !== undefined);
  if (legacy.length > 0) {
    out.push(
      action(
        `Convert ${legacy.length} legacy [X-Fleet] key${legacy.length === 1 ? '' : 's'} to current spellings`,
        legacy.map(o => ({ range: rangeOf(document, o.nameStart, o.nameEnd), newText: xfleetKey(o.name)!.replacement! })),
      ),
    );
  }

  const o = optionAt(file, start);
  if (o && o.start <= end) {
    const mode = listKey(o, ctx);
    const list = mode ? elements(o, mode) : [];
    if (mode && list.length > 1) {
      const indent = text.slice(text.lastIndexOf('\n', o.start - 1) + 1, o.start);
      const lines = list.map(v => `${o.name}=${v}`).join(`\n${indent}`);
      out.push(action(`Split ${o.name}= into one line per value`, [{ range: rangeOf(document, o.start, o.end), newText: lines }]));
    }
    if (mode) {
      const section = file.sections[o.sectionIndex]!;
      const i = section.options.indexOf(o);
      let a = i,
        b = i;
      const same = (x: UnitOptionNode | undefined) => !!x && x.name === o.name && x.lineCount === 1 && x.value.trim() !== '';
      while (a > 0 && same(section.options[a - 1]) && next(text, section.options[a - 1]!, section.options[a]!)) a--;
      while (b < section.options.length - 1 && same(section.options[b + 1]) && next(text, section.options[b]!, section.options[b + 1]!)) b++;
      if (b > a && o.value.trim() !== '') {
        const run = section.options.slice(a, b + 1);
        const joined = mode === 'fleet' ? run.flatMap(x => valueElements(x.value).map(e => `"${e.text}"`)).join(' ') : run.map(x => x.value.trim()).join(' ');
        out.push(
          action(`Join ${run.length} ${o.name}= lines into one`, [
            { range: rangeOf(document, run[0]!.start, run[run.length - 1]!.end), newText: `${o.name}=${joined}` },
          ]),
        );
      }
    }
  }

  const section = sectionAt(file, start + 1) ?? sectionAt(file, start);
  const xfleet = section?.name === XFLEET_SECTION ? section : file.sections.find(s => s.name === XFLEET_SECTION && s.start <= end && start <= s.end);
  if (xfleet && xfleet.options.length > 1 && xfleet.options.every(x => x.lineCount === 1)) {
    const sorted = [...xfleet.options].sort((x, y) => x.name.localeCompare(y.name));
    if (sorted.some((x, k) => x !== xfleet.options[k])) {
      const first = xfleet.options[0]!,
        last = xfleet.options[xfleet.options.length - 1]!;
      // Only when the options are consecutive lines (no comments or blank lines in between to lose).
      if (xfleet.options.every((x, k) => k === 0 || next(text, xfleet.options[k - 1]!, x))) {
        out.push(
          action('Sort [X-Fleet] keys', [{ range: rangeOf(document, first.start, last.end), newText: sorted.map(x => text.slice(x.start, x.end)).join('\n') }]),
        );
      }
    }
  }
  return out;
}

/** True when `b` starts on the line right after `a` ends. */
function next(text: string, a: UnitOptionNode, b: UnitOptionNode): boolean {
  const between = text.slice(a.end, b.start);
  return /^\r?\n[ \t]*$/.test(between);
}
