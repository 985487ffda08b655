/**
 * Enum values from the `*_table[]` string tables in systemd's src/*.c at a tag, found with one
 * `git grep` per tag for every table name the mapping uses.
 */
import { PARSERS, TABLE_ALIASES } from './mapping.mjs';

/**
 * @param {(...args: string[]) => string | undefined} tryGit git in the systemd checkout; undefined when it fails
 * @returns {(tag: string, table: string) => string[] | undefined} a table's values at a tag, undefined when the tag has no such table
 */
export function stringTables(tryGit) {
  const tableCache = new Map();
  const fileCache = new Map();
  /** Where each `<name>_table[` is defined at a tag: one git grep per tag for every table name. */
  const locations = new Map();
  function locate(tag) {
    if (locations.has(tag)) return locations.get(tag);
    const names = [
      ...new Set(
        Object.values(PARSERS)
          .map(p => p.table)
          .filter(Boolean),
      ),
      ...Object.values(TABLE_ALIASES).flat(),
    ];
    const args = ['grep', '-n', '-F'];
    for (const n of names) args.push('-e', `${n}_table[`);
    const out = tryGit(...args, tag, '--', 'src/*.c') ?? '';
    const found = new Map();
    for (const line of out.split('\n')) {
      const m = /^[^:]+:([^:]+):\d+:.*?\b([a-z_0-9]+)_table\[[A-Z_0-9]*\]\s*=\s*\{/.exec(line);
      if (m && !found.has(m[2])) found.set(m[2], m[1]);
    }
    locations.set(tag, found);
    return found;
  }
  function stringTable(tag, table) {
    const key = `${tag}:${table}`;
    if (tableCache.has(key)) return tableCache.get(key);
    let values;
    const file = locate(tag).get(table);
    if (file) {
      const fk = `${tag}:${file}`;
      if (!fileCache.has(fk)) fileCache.set(fk, tryGit('show', fk) ?? '');
      const text = fileCache.get(fk);
      const at = text.search(new RegExp(`\\b${table}_table\\[[A-Z_0-9]*\\]\\s*=\\s*\\{`));
      const block = text.slice(at, text.indexOf('};', at));
      values = [...block.matchAll(/(?:\]\s*=\s*|^\s*)"([^"]+)"/gm)].map(m => m[1]);
    }
    tableCache.set(key, values);
    return values;
  }
  return stringTable;
}
