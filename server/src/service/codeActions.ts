/**
 * Code actions: the quick fixes problems carry, and "disable this rule" comments for the line or
 * the file (`# fleet-disable-next-line code`, `# fleet-disable code`, read by unitfile's validate.ts).
 */
import { CodeActionKind, type CodeAction, type TextEdit } from 'vscode-languageserver-types';
import type { Problem, TextEdit as OffsetEdit } from '../../../unitfile/src';
import type { DirectiveCatalog } from './catalog';
import { optionAt } from './cursor';
import { toDiagnostic } from './diagnostics';
import { rangeOf, type UnitDocument } from './types';

/** Problems whose range touches [start, end]. */
const overlapping = (problems: readonly Problem[], start: number, end: number) => problems.filter(p => p.start <= end && p.end >= start);

export function codeActions(doc: UnitDocument, start: number, end: number, problems: readonly Problem[], catalog?: DirectiveCatalog): CodeAction[] {
  const { document, file } = doc;
  const uri = document.uri;
  const toEdits = (edits: readonly OffsetEdit[]): TextEdit[] => edits.map(e => ({ range: rangeOf(document, e.start, e.end), newText: e.newText }));
  const out: CodeAction[] = [];
  const hits = overlapping(problems, start, end);
  for (const p of hits) {
    for (const fix of p.fixes ?? []) {
      const action: CodeAction = {
        title: fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [toDiagnostic(doc, p, catalog)],
        edit: { changes: { [uri]: toEdits(fix.edits) } },
      };
      if (fix.preferred) action.isPreferred = true;
      out.push(action);
    }
  }
  // Suppressions: one pair per code, for problems the editor alone reports (fleet's own errors
  // would still be refused by the API, so hiding them would only mislead).
  const seen = new Set<string>();
  for (const p of hits) {
    if (seen.has(p.code) || (p.enforcedBy === 'fleet' && p.severity === 'error')) continue;
    seen.add(p.code);
    const text = file.text;
    const lineStart = text.lastIndexOf('\n', p.start - 1) + 1;
    const o = optionAt(file, p.start);
    const onContinuation = o !== undefined && lineStart > o.start;
    if (!onContinuation) {
      const indent = /^[ \t]*/.exec(text.slice(lineStart))![0];
      const eol = text.includes('\r\n') ? '\r\n' : '\n';
      out.push({
        title: `Disable ${p.code} for this line`,
        kind: CodeActionKind.QuickFix,
        diagnostics: [toDiagnostic(doc, p, catalog)],
        edit: { changes: { [uri]: toEdits([{ start: lineStart, end: lineStart, newText: `${indent}# fleet-disable-next-line ${p.code}${eol}` }]) } },
      });
    }
    out.push({
      title: `Disable ${p.code} for this file`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [toDiagnostic(doc, p, catalog)],
      edit: { changes: { [uri]: toEdits([fileDisableEdit(text, p.code)]) } },
    });
  }
  return out;
}

/** Adds the code to an existing leading `# fleet-disable …` line, or inserts one at the top. */
function fileDisableEdit(text: string, code: string): OffsetEdit {
  const m = /^([#;]\s*fleet-disable)([ \t]+[\w ,\t-]*)?(\r?\n|$)/.exec(text);
  if (m && m[2] !== undefined && m[2].trim() !== '') {
    const end = m[1]!.length + m[2].replace(/[ \t]+$/, '').length;
    return { start: end, end, newText: `, ${code}` };
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  return { start: 0, end: 0, newText: `# fleet-disable ${code}${eol}` };
}
