/**
 * Where each element of an `[X-Fleet]` value sits in the text, so diagnostics, completion and hover
 * can point at one element of `"a=b" "c=d"`. Element texts equal fleet's parseMultivalueLine
 * (a unit test holds the two together).
 */

export interface ValueElement {
  /** The element as fleet reads it (quotes removed). */
  text: string;
  /** Offsets into the value string: the raw span, quotes included. */
  start: number;
  end: number;
}

export function valueElements(value: string): ValueElement[] {
  if (!value.startsWith('"') || !value.endsWith('"')) return [{ text: value, start: 0, end: value.length }];
  const out: ValueElement[] = [];
  let within = false;
  let text = '';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '"') {
      within = !within;
      continue;
    }
    if (ch === ' ' && !within) {
      out.push({ text, start, end: i });
      text = '';
      start = i + 1;
      continue;
    }
    text += ch;
  }
  out.push({ text, start, end: value.length });
  return out;
}

/** True when the value uses fleet's quoted multi-value form. */
export function isMultivalue(value: string): boolean {
  return value.length >= 1 && value.startsWith('"') && value.endsWith('"');
}
