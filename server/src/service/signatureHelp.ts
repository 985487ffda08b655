/**
 * Signature help after `=` for keys whose values have a structure: Exec lines (prefixes, the
 * executable, its arguments), MachineMetadata= (key=value elements), time spans and Environment=.
 */
import { MarkupKind, type SignatureHelp, type SignatureInformation } from 'vscode-languageserver-types';
import { XFLEET_SECTION, xfleetKey } from '../../../unitfile/src';
import { optionAt } from './cursor';
import type { ServiceContext, UnitDocument } from './types';

interface Shape {
  label: string;
  params: { label: string; doc: string }[];
  doc: string;
  /** The parameter the cursor is on, given the value text before the cursor. */
  active(before: string): number;
}

const md = (value: string) => ({ kind: MarkupKind.Markdown, value });
const words = (s: string) => s.trimStart().split(/\s+/).length - 1;

const SHAPES: Record<string, Shape> = {
  command: {
    label: 'ExecStart=[@-:+!|]/path/to/executable [argument …]',
    params: [
      {
        label: '[@-:+!|]',
        doc: "`@` argv[0] follows, `-` a failure is ignored, `:` no specifier/variable expansion, `+` full privileges, `!`/`!!` ambient-capabilities privileges, `|` run through the user's shell.",
      },
      { label: '/path/to/executable', doc: 'An absolute path, or a name systemd finds in its fixed search path.' },
      {
        label: '[argument …]',
        doc: 'Arguments, split like a shell does (quotes, `\\` escapes); `$VAR` and `${VAR}` expand from Environment=; `%` specifiers expand.',
      },
    ],
    doc: 'One command line; systemd does not run it through a shell.',
    active(before) {
      if (/^[@\-:+|!]+$/.test(before)) return 0;
      return words(before.replace(/^[@\-:+|!]+/, '')) === 0 ? 1 : 2;
    },
  },
  metadata: {
    label: 'MachineMetadata="key=value" ["key=value" …]',
    params: [
      { label: '"key=value"', doc: "One requirement: the machine's metadata key must equal the value. Values of the same key are ORed." },
      { label: '["key=value" …]', doc: 'More requirements; different keys are ANDed. Quote each element.' },
    ],
    doc: 'fleet runs the unit only on machines whose metadata matches. There are no operators such as `!=`.',
    active: before => (words(before) === 0 ? 0 : 1),
  },
  timespan: {
    label: 'TimeoutSec=<number><unit> […]',
    params: [
      { label: '<number>', doc: 'A number; with no unit it means seconds.' },
      { label: '<unit>', doc: '`us`, `ms`, `s`, `min`, `h`, `d`, `w`, `M`, `y` (and long spellings); several parts add up, e.g. `1min 30s`; `infinity`.' },
    ],
    doc: 'A time span.',
    active: before => (/\d$/.test(before) || before === '' || /\s$/.test(before) ? 0 : 1),
  },
  environment: {
    label: 'Environment="VAR=value" ["VAR2=value 2" …]',
    params: [
      { label: '"VAR=value"', doc: 'One assignment; quote it when the value has spaces.' },
      { label: '["VAR2=value 2" …]', doc: 'More assignments, separated by spaces. An empty Environment= resets the list.' },
    ],
    doc: 'Environment variables for executed processes.',
    active: before => (words(before) === 0 ? 0 : 1),
  },
};

export function signatureHelp(doc: UnitDocument, offset: number, ctx: ServiceContext): SignatureHelp | null {
  const o = optionAt(doc.file, offset);
  if (!o || offset <= o.eq) return null;
  let shape: Shape | undefined;
  if (o.section === XFLEET_SECTION) shape = xfleetKey(o.name)?.kind === 'metadata' ? SHAPES.metadata : undefined;
  else {
    const kind = ctx.catalog.lookupDirective(o.section, o.name)?.kind;
    shape = kind === 'command' || kind === 'timespan' || kind === 'environment' ? SHAPES[kind] : undefined;
  }
  if (!shape) return null;
  const before = doc.file.text.slice(o.eq + 1, offset).trimStart();
  const label = shape === SHAPES.metadata || shape === SHAPES.environment ? shape.label : shape.label.replace(/^\w+=/, `${o.name}=`);
  const params = shape.params.map(p => {
    const at = label.indexOf(p.label);
    return { label: [at, at + p.label.length] as [number, number], documentation: md(p.doc) };
  });
  const info: SignatureInformation = { label, documentation: md(shape.doc), parameters: params };
  return { signatures: [info], activeSignature: 0, activeParameter: shape.active(before) };
}
