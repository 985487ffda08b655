/**
 * The fixes that remove or rename an option, shared by the fleet and the systemd halves of the
 * rule table.
 */
import type { UnitFile, UnitOptionNode } from './parse';
import type { Fix } from './problem';

/** Deletes an option's physical lines, including its line break. */
export function removeOptionFix(file: UnitFile, o: UnitOptionNode, title?: string): Fix {
  const text = file.text;
  const lineStart = text.lastIndexOf('\n', o.start - 1) + 1;
  const nl = text.indexOf('\n', o.end);
  return { title: title ?? `Remove ${o.name}=`, edits: [{ start: lineStart, end: nl < 0 ? text.length : nl + 1, newText: '' }] };
}

export function renameFix(o: UnitOptionNode, to: string, preferred = true): Fix {
  return { title: `Change to ${to}=`, edits: [{ start: o.nameStart, end: o.nameEnd, newText: to }], preferred };
}
