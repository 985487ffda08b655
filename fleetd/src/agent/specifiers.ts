/**
 * systemd's unit specifiers (systemd.unit(5) "Specifiers") for Exec lines and Environment= as the
 * process unit manager supports them: %n %N %p %P %i %I %j %J %f %H %m %b %t %%. Unknown ones are
 * left as written and reported, so the unit's state detail can name them.
 */
import { UnitNameInfo } from '../../../unitfile/src/unitName';

export interface SpecifierContext {
  unitName: string;
  machineId: string;
  hostname: string;
  bootId: string;
  /** %t: the runtime directory. */
  runtimeDir: string;
}

/** systemd's unit_name_unescape: `-` is `/`, `\xNN` is a byte. */
export function unescapeUnitName(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '-') bytes.push(0x2f);
    else if (ch === '\\' && text[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function specifierTable(ctx: SpecifierContext): Record<string, string> {
  const info = UnitNameInfo.parse(ctx.unitName);
  const name = info?.name ?? ctx.unitName;
  const prefix = info?.prefix ?? name;
  const instance = info?.instance ?? '';
  const dash = prefix.lastIndexOf('-');
  const j = dash === -1 ? prefix : prefix.slice(dash + 1);
  return {
    n: ctx.unitName,
    N: name,
    p: prefix,
    P: unescapeUnitName(prefix),
    i: instance,
    I: unescapeUnitName(instance),
    j,
    J: unescapeUnitName(j),
    f: '/' + unescapeUnitName(info?.instance ? instance : prefix).replace(/^\/+/, ''),
    H: ctx.hostname,
    m: ctx.machineId,
    b: ctx.bootId,
    t: ctx.runtimeDir,
    '%': '%',
  };
}

/** Expand specifiers; `unknown` collects the ones left as written (e.g. "%u"). */
export function expandSpecifiers(text: string, ctx: SpecifierContext, unknown: Set<string>): string {
  if (!text.includes('%')) return text;
  const table = specifierTable(ctx);
  return text.replace(/%(.?)/gs, (whole, ch: string) => {
    const v = Object.prototype.hasOwnProperty.call(table, ch) ? table[ch] : undefined;
    if (v !== undefined) return v;
    unknown.add(whole);
    return whole;
  });
}
