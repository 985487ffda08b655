// ESLint rule: no module imports itself back through the project's relative imports (type-only
// imports included: a cycle of types still ties two modules together). Reported on the import
// that closes the cycle, with the whole path. The other modules' imports are read from disk, so
// the rule sees the graph as saved; each file is read once per ESLint process.
import fs from 'node:fs';
import path from 'node:path';

const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?'(\.{1,2}\/[^']*)'/gm;
const imports = new Map();

/** A relative specifier as a file: `./x` → `./x.ts` or `./x/index.ts`. */
export function resolveImport(fromFile, specifier) {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (candidate.endsWith('.ts') && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

function importsOf(file) {
  let list = imports.get(file);
  if (list) return list;
  list = [];
  imports.set(file, list);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return list; // gone since the import was written: nothing to follow
  }
  text = text.replace(/\/\*[\s\S]*?\*\//g, '');
  for (const m of text.matchAll(IMPORT)) {
    const target = resolveImport(file, m[1]);
    if (target) list.push(target);
  }
  return list;
}

/** The shortest chain of imports from `start` to `goal` (both included), or undefined. */
export function importPath(start, goal) {
  const parent = new Map([[start, undefined]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i];
    if (file === goal) {
      const chain = [];
      for (let f = file; f !== undefined; f = parent.get(f)) chain.unshift(f);
      return chain;
    }
    for (const next of importsOf(file)) {
      if (!parent.has(next)) {
        parent.set(next, file);
        queue.push(next);
      }
    }
  }
  return undefined;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: "disallow import cycles between the project's modules" },
    schema: [],
    messages: { cycle: 'import cycle: {{chain}}. Move what both need into a module below both.' },
  },
  create(context) {
    const file = context.filename;
    const root = context.cwd;
    const check = (node, specifier) => {
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return;
      const target = resolveImport(file, specifier);
      if (!target) return;
      const back = importPath(target, file);
      if (back) context.report({ node, messageId: 'cycle', data: { chain: [file, ...back].map(f => path.relative(root, f)).join(' → ') } });
    };
    return {
      ImportDeclaration: node => check(node, node.source.value),
      ExportNamedDeclaration: node => node.source && check(node, node.source.value),
      ExportAllDeclaration: node => check(node, node.source.value),
    };
  },
};
