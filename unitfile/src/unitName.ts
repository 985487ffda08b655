/**
 * Unit names as fleet sees them (fleet-reference §2.3–§2.5): the API's ValidateName with its
 * messages, name/prefix/instance parsing, templates, the three unit-type lists, and fleetctl's
 * name mangling.
 */
import { goQuote, goQuoteRune } from './goText';
import { utf8Length } from './sha1';

export const UNIT_NAME_MAX = 256;

/** Types the API (ValidateName) accepts. */
export const API_UNIT_TYPES = [
  'automount',
  'busname',
  'device',
  'mount',
  'path',
  'scope',
  'service',
  'slice',
  'snapshot',
  'socket',
  'swap',
  'target',
  'timer',
] as const;
/** Types a template (a name with `@`) may have. */
export const TEMPLATE_UNIT_TYPES = ['path', 'service', 'socket', 'target', 'timer'] as const;
/** Types fleetctl recognises without appending `.service`, and the only ones fleet's agent manages. */
export const AGENT_UNIT_TYPES = ['service', 'socket', 'timer', 'path', 'device', 'mount', 'automount'] as const;

const VALID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@';

/** fleet's ValidateName: undefined when valid, else fleet's exact message. */
export function validateUnitName(name: string): string | undefined {
  const length = utf8Length(name);
  if (length === 0) return 'unit name cannot be empty';
  if (length > UNIT_NAME_MAX) return `unit name exceeds maximum length (${UNIT_NAME_MAX})`;
  const dot = name.lastIndexOf('.');
  if (dot === -1) return 'unit name must contain "."';
  if (dot === name.length - 1) return 'unit name cannot end in "."';
  const suffix = name.slice(dot + 1);
  if (!(API_UNIT_TYPES as readonly string[]).includes(suffix)) return `invalid unit type: ${goQuote(suffix)}`;
  if (name.includes('@') && !(TEMPLATE_UNIT_TYPES as readonly string[]).includes(suffix)) {
    return `invalid unit type for template: ${goQuote(suffix)}`;
  }
  for (const ch of name.slice(0, dot)) {
    if (!VALID_CHARS.includes(ch)) return `invalid character ${goQuoteRune(ch)} in unit name`;
  }
  if (name.startsWith('@')) return 'unit name cannot start in "@"';
  return undefined;
}

/** fleet's UnitNameInfo. */
export interface UnitNameInfo {
  /** The complete name, e.g. `foo@bar.service`. */
  fullName: string;
  /** Without the suffix, e.g. `foo@bar`. */
  name: string;
  /** Before the first `@`, e.g. `foo`. */
  prefix: string;
  /** The suffix including its dot, e.g. `.service`. */
  suffix: string;
  /** The canonical template, e.g. `foo@.service` (set for templates and instances). */
  template?: string;
  /** The instance, e.g. `bar` ("" for a template, undefined for a plain unit). */
  instance?: string;
}

export namespace UnitNameInfo {
  /** fleet's NewUnitNameInfo: undefined when the name has no dot. */
  export function parse(fullName: string): UnitNameInfo | undefined {
    const s = fullName.lastIndexOf('.');
    if (s === -1) return undefined;
    const name = fullName.slice(0, s);
    const suffix = fullName.slice(s);
    const a = name.indexOf('@');
    if (a === -1) return { fullName, name, prefix: name, suffix };
    return { fullName, name, prefix: name.slice(0, a), suffix, template: `${name.slice(0, a)}@${suffix}`, instance: name.slice(a + 1) };
  }

  export function isTemplate(info: UnitNameInfo | undefined): boolean {
    return !!info?.template && info.instance === '';
  }

  export function isInstance(info: UnitNameInfo | undefined): boolean {
    return !!info?.instance;
  }
}

/** True when the name is a template such as `foo@.service`. */
export function isTemplateName(name: string): boolean {
  return UnitNameInfo.isTemplate(UnitNameInfo.parse(name));
}

/** The unit type of a name (`service` for `a.service`), or undefined without a dot. */
export function unitTypeOf(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : name.slice(dot + 1);
}

/** fleetctl's RecognizedUnitType (a suffix test). */
export function isRecognizedUnitType(name: string): boolean {
  return AGENT_UNIT_TYPES.some(t => name.endsWith(`.${t}`));
}

/** fleetctl's unitNameMangle: base name, `.service` appended unless the type is recognised. */
export function mangleUnitName(arg: string): string {
  const trimmed = arg.replace(/\/+$/, '');
  const base = trimmed === '' ? (arg === '' ? '.' : '/') : trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return isRecognizedUnitType(base) ? base : `${base}.service`;
}

/** The instance name for a template: `web@.service` + `3` → `web@3.service`. */
export function instanceName(template: string, instance: string): string {
  const info = UnitNameInfo.parse(template);
  if (!info || !UnitNameInfo.isTemplate(info)) throw new Error(`${template} is not a template unit name`);
  return `${info.prefix}@${instance}${info.suffix}`;
}
