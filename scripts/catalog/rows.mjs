/**
 * The catalog's rows from the gperf entries of every tag: per directive its kind, since and
 * removed versions, flags, enum, manual page, deprecation and description; and the enums and the
 * sections' version spans the rows refer to.
 */
import { DESCRIPTIONS } from './descriptions.mjs';
import { BY_NAME, DEPRECATED, EMPTY_REJECTED, MULTIPLE_PARSERS, PARSERS, TABLE_ALIASES } from './mapping.mjs';

/**
 * @param {Map<string, Map<number, {section, name, parser, ltype, page, tag}>>} perKey Section.Name → version → gperf entry
 * @param {number[]} versions the catalogued versions, oldest first
 * @param {(tag: string, table: string) => string[] | undefined} stringTable enum values of a string table at a tag
 */
export function buildRows(perKey, versions, stringTable) {
  const enums = {}; // table → [[value, since]]
  function enumValues(table, tagsWithIt) {
    const since = new Map();
    for (const tag of tagsWithIt) {
      const found = stringTable(tag, table) ?? (TABLE_ALIASES[table] ?? []).map(t => stringTable(tag, t)).find(Boolean) ?? [];
      for (const value of found) if (!since.has(value)) since.set(value, Number(tag.slice(1)));
    }
    return [...since];
  }

  const rows = [];
  const sectionsSeen = new Map(); // section → [since, lastSeen]
  for (const [key, byVersion] of [...perKey].sort((a, b) => a[0].localeCompare(b[0]))) {
    const [section, name] = key.split('.');
    const present = versions.filter(v => byVersion.has(v));
    const since = present[0];
    const last = present.at(-1);
    const removed = last === versions.at(-1) ? 0 : versions[versions.indexOf(last) + 1];
    const s = sectionsSeen.get(section) ?? [since, last];
    sectionsSeen.set(section, [Math.min(s[0], since), Math.max(s[1], last)]);
    // Kind from the newest version with a real parser.
    const real = present.map(v => byVersion.get(v)).filter(e => e.parser !== 'config_parse_warn_compat' && e.parser !== 'NULL');
    const newest = real.at(-1) ?? byVersion.get(last);
    const parser = newest.parser.replace(/^config_parse_/, '');
    const spec = BY_NAME[key] ?? PARSERS[parser] ?? { kind: section === 'Install' ? 'units' : 'string' };
    let kind = spec.kind;
    let enumRef = '';
    if (spec.table || spec.extra) {
      const tableOf = e => {
        const p = PARSERS[e.parser.replace(/^config_parse_/, '')];
        return p?.table ?? (p?.extra ? e.parser : undefined);
      };
      const tagsWith = present
        .map(v => byVersion.get(v))
        .filter(e => tableOf(e) === tableOf(newest))
        .map(e => e.tag);
      const ref = spec.table ?? parser;
      let vals = spec.table ? enumValues(spec.table, tagsWith) : [];
      if (spec.extra) for (const x of spec.extra) if (!vals.some(([y]) => y === x)) vals.push([x, since]);
      if (spec.prefixes) vals = vals.filter(([x]) => !['file', 'append', 'truncate', 'named-fd'].includes(x));
      if (vals.length === 0) kind = 'string';
      else {
        const prev = enums[ref];
        if (prev)
          for (const [x, sv] of vals) {
            const p = prev.find(([y]) => y === x);
            if (!p) prev.push([x, sv]);
            else p[1] = Math.min(p[1], sv);
          }
        else enums[ref] = vals;
        enumRef = ref;
      }
    }
    // Deprecation.
    let dep = '';
    let depSince = 0;
    let ignored = 0;
    const legacy = present.find(v => {
      const e = byVersion.get(v);
      return e.parser === 'config_parse_warn_compat' && e.ltype !== 'DISABLED_CONFIGURATION';
    });
    const obsolete = present.find(v => byVersion.get(v).parser === 'config_parse_obsolete_unit_deps');
    const curated = DEPRECATED[key] ?? DEPRECATED[`*.${name}`];
    if (legacy !== undefined) {
      depSince = Math.min(legacy, curated ? Math.max(since, curated.since ?? since) : legacy);
      ignored = 1;
      dep = curated?.replacement ?? '';
    } else if (obsolete !== undefined) {
      depSince = obsolete;
      dep = curated?.replacement ?? '';
      ignored = 2;
    } else if (curated) {
      depSince = Math.max(since, curated.since ?? since);
      dep = curated.replacement ?? '';
    }
    const multiple = MULTIPLE_PARSERS.has(parser) || section === 'Install' || (section === 'Unit' && /^(Condition|Assert)/.test(name)) ? 1 : 0;
    const page = byVersion.get(last).page ?? '';
    const flags =
      (multiple ? 'm' : '') +
      (spec.bool ? 'b' : '') +
      (ignored === 1 ? `i${legacy}` : '') +
      (ignored === 2 ? 'w' : '') +
      (curated?.moveTo ? 'u' : '') +
      (EMPTY_REJECTED.has(parser) && !multiple ? 'e' : '');
    const desc = DESCRIPTIONS[key] ?? (page ? DESCRIPTIONS[name] : undefined) ?? '';
    const format = spec.format ?? '';
    const prefixes = (spec.prefixes ?? []).join(' ');
    rows.push([section, name, kind, since, removed, flags, enumRef, page, depSince, dep, format, prefixes, desc]);
  }
  return { rows, enums, sectionsSeen };
}
