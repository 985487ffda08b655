/**
 * Reads systemd's src/core/load-fragment-gperf.gperf.{m4,in}: every `Section.Name, parser, ltype`
 * line, with the EXEC/KILL/CGROUP context macros (m4 `m4_define` or Jinja `{% macro %}`) expanded
 * for each section that uses them, and `if`/`else` branches folded.
 */

const ITEM = /^[`']?(\$1|\{\{\s*type\s*\}\}|[A-Z][A-Za-z]*)\.([A-Za-z0-9]+),\s*([A-Za-z0-9_]+),\s*([A-Za-z0-9_]+)/;
const M4_DEFINE = /^m4_define\(`([A-Z_]+)'/;
const J_MACRO = /^\{%-?\s*macro\s+([A-Z_]+)\(/;
const J_END = /^\{%-?\s*endmacro/;
const M4_CALL = /^([A-Z_]+_CONFIG_ITEMS)\((\w+)\)/;
const J_CALL = /^\{\{\s*([A-Z_]+_CONFIG_ITEMS)\('(\w+)'\)\s*\}\}/;
const PAGE_OF_MACRO = { EXEC_CONTEXT_CONFIG_ITEMS: 'exec', KILL_CONTEXT_CONFIG_ITEMS: 'kill', CGROUP_CONTEXT_CONFIG_ITEMS: 'resource-control' };

/** @returns {Map<string, {section, name, parser, ltype, page}[]>} key Section.Name → candidate entries (if/else branches) */
export function parseGperf(text) {
  const macros = new Map();
  const items = [];
  let current;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m;
    if ((m = M4_DEFINE.exec(line)) || (m = J_MACRO.exec(line))) {
      current = { name: m[1], items: [] };
      macros.set(m[1], current);
      const rest = line.replace(/^m4_define\(`[A-Z_]+',\s*/, '');
      const im = ITEM.exec(rest);
      if (im) current.items.push(im);
      continue;
    }
    if (current && (J_END.test(line) || /^\)m4_dnl/.test(line) || /^'\)m4_dnl/.test(line))) {
      current = undefined;
      continue;
    }
    if ((m = M4_CALL.exec(line)) || (m = J_CALL.exec(line))) {
      const macro = macros.get(m[1]);
      if (!macro) throw new Error(`unknown macro ${m[1]}`);
      for (const im of macro.items) items.push({ section: m[2], name: im[2], parser: im[3], ltype: im[4], page: PAGE_OF_MACRO[m[1]] });
      continue;
    }
    const im = ITEM.exec(line);
    if (!im) continue;
    if (current && (im[1] === '$1' || im[1].startsWith('{{'))) current.items.push(im);
    else if (current && !im[1].startsWith('$') && !im[1].startsWith('{')) {
      // A fixed section inside a macro (does not happen upstream); treat as top level.
      items.push({ section: im[1], name: im[2], parser: im[3], ltype: im[4] });
    } else items.push({ section: im[1], name: im[2], parser: im[3], ltype: im[4] });
  }
  // Fold if/else branches: prefer a real parser over config_parse_warn_compat(DISABLED_CONFIGURATION).
  const out = new Map();
  for (const it of items) {
    const key = `${it.section}.${it.name}`;
    const prev = out.get(key);
    if (!prev) {
      out.set(key, it);
      continue;
    }
    const weak = x => x.parser === 'config_parse_warn_compat' && x.ltype === 'DISABLED_CONFIGURATION';
    if (weak(prev) && !weak(it)) out.set(key, it);
  }
  return out;
}
