/**
 * go-systemd's Serialize and fleet's unit hash (fleet-reference §1.4): options grouped by section in
 * order of first appearance, `Name=Value` with no spaces, one blank line between sections, and
 * SHA-1 of those bytes as the unit's identity. fleetctl computes the same hash, so ours must match.
 */
import { sha1Hex } from './sha1';

/** One option as fleet's API carries it. */
export interface UnitOption {
  section: string;
  name: string;
  value: string;
}

export function serializeOptions(options: readonly UnitOption[]): string {
  if (options.length === 0) return '';
  const bySection = new Map<string, UnitOption[]>();
  for (const o of options) {
    const list = bySection.get(o.section);
    if (list) list.push(o);
    else bySection.set(o.section, [o]);
  }
  const parts: string[] = [];
  for (const [section, opts] of bySection) {
    let s = `[${section}]\n`;
    for (const o of opts) s += `${o.name}=${o.value}\n`;
    parts.push(s);
  }
  return parts.join('\n');
}

/** The unit hash: 40 lowercase hex characters. */
export function unitHash(options: readonly UnitOption[]): string {
  return sha1Hex(serializeOptions(options));
}

/** fleet's `Hash.Short()`: the first 7 hex characters. */
export function shortHash(hash: string): string {
  return hash.slice(0, 7);
}

/** The options of a parsed file, in file order, as plain `UnitOption`s. */
export function toOptions(file: { options: readonly UnitOption[] }): UnitOption[] {
  return file.options.map(o => ({ section: o.section, name: o.name, value: o.value }));
}

/** `[Unit] Description=` as fleet reads it (the first value), or undefined. */
export function description(options: readonly UnitOption[]): string | undefined {
  return options.find(o => o.section === 'Unit' && o.name === 'Description')?.value;
}

/** The hash as fleet stores it in etcd v2 (`job/<name>/object` UnitHash): an array of 20 byte values. */
export function hashToBytes(hash: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < 40; i += 2) out.push(parseInt(hash.slice(i, i + 2), 16));
  return out;
}
