/**
 * Plain-language hints for fleet's own messages that a new user cannot act on as they are
 * ("EOF", a byte list, "Peers"). fleet's texts stay exactly as fleet prints them (the API and the
 * editor agree on them); an editor shows the hint after them.
 */
import type { Problem } from './problem';

/** The hint for a problem, or undefined when fleet's message says enough. */
export function plainHint(p: Pick<Problem, 'message'>): string | undefined {
  const m = p.message;
  if (m === 'EOF') return 'fleet reached the end of the file in the middle of an option: the last line has no "=". Finish it as Name=value.';
  const garbage = /^found garbage after section name : \[([\d ]+)\]$/.exec(m);
  if (garbage) {
    const text = utf8(garbage[1]!.split(' ').map(Number));
    return `after the section's closing "]" comes ${JSON.stringify(text)}; a section header is only [Name] on its line: remove ${text.trim() ? JSON.stringify(text.trim()) : 'the extra characters'}.`;
  }
  if (/cannot be used with Peers$/.test(m)) return "Peers is fleet's internal name for MachineOf=: remove one of the two keys.";
  if (m === 'unexpected newline encountered while parsing option name')
    return 'a line inside a section must be Name=value (or a comment starting with # or ;).';
  if (m === 'unable to find end of section') return 'a section header needs its closing "]" on the same line, e.g. [Service].';
  return undefined;
}

/** The text of UTF-8 bytes (a byte list fleet printed), with Latin-1 for bytes that are not UTF-8. */
function utf8(bytes: readonly number[]): string {
  try {
    return decodeURIComponent(bytes.map(b => `%${b.toString(16).padStart(2, '0')}`).join(''));
  } catch {
    return String.fromCharCode(...bytes);
  }
}
