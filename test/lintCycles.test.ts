/**
 * The ESLint rule that keeps import cycles out (scripts/lint/noImportCycle.mjs), run by ESLint
 * itself over small trees written to a temporary directory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const RULE = path.join(__dirname, '..', 'scripts', 'lint', 'noImportCycle.mjs');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function lint(files: Record<string, string>): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-cycles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const rule = ((await import(pathToFileURL(RULE).href)) as { default: unknown }).default;
  const eslint = new ESLint({
    cwd: dir,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser as never, parserOptions: { sourceType: 'module' } },
        plugins: { fleet: { rules: { 'no-import-cycle': rule as never } } },
        rules: { 'fleet/no-import-cycle': 'error' },
      },
    ],
  });
  const results = await eslint.lintFiles(['**/*.ts']);
  return results.flatMap(r => r.messages.map(m => `${path.relative(dir, r.filePath)}:${m.line}: ${m.message}`)).sort();
}

test('a cycle through a type-only import is reported on both sides, with its path', async () => {
  assert.deepEqual(
    await lint({
      'src/a.ts': "import { b } from './b';\nexport const a = b + 1;\n",
      'src/b.ts': "import type { A } from './c/index';\nexport const b = 1;\nexport type B = A;\n",
      'src/c/index.ts': "export type { a as A } from '../a';\n",
    }),
    [
      'src/a.ts:1: import cycle: src/a.ts → src/b.ts → src/c/index.ts → src/a.ts. Move what both need into a module below both.',
      'src/b.ts:1: import cycle: src/b.ts → src/c/index.ts → src/a.ts → src/b.ts. Move what both need into a module below both.',
      'src/c/index.ts:1: import cycle: src/c/index.ts → src/a.ts → src/b.ts → src/c/index.ts. Move what both need into a module below both.',
    ],
  );
});

test('a tree without cycles, packages and missing files pass', async () => {
  assert.deepEqual(
    await lint({
      'src/a.ts':
        "import { b } from './b';\nimport { c } from './c';\nimport fs from 'node:fs';\nimport { gone } from './gone';\nexport const a = [b, c, fs, gone];\n",
      'src/b.ts': "import { c } from './c';\n/* import { a } from './a'; */\nexport const b = c;\n",
      'src/c.ts': 'export const c = 1;\n',
    }),
    [],
  );
});
