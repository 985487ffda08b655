import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENUM_TABLES } from '../src/systemd/catalog';
import { ENUM_VALUE_DOCS } from '../src/systemd/enumDocs';

test('every catalogued enum value has a one-line explanation, and nothing else is explained', () => {
  const missing: string[] = [];
  for (const [table, values] of Object.entries(ENUM_TABLES)) for (const v of values) if (!ENUM_VALUE_DOCS[table]?.[v]) missing.push(`${table}.${v}`);
  assert.deepEqual(missing, []);
  const stale: string[] = [];
  for (const [table, docs] of Object.entries(ENUM_VALUE_DOCS))
    for (const v of Object.keys(docs)) if (!ENUM_TABLES[table]?.includes(v)) stale.push(`${table}.${v}`);
  assert.deepEqual(stale, []);
  for (const docs of Object.values(ENUM_VALUE_DOCS)) for (const line of Object.values(docs)) assert.match(line, /^\S.*\.$/, `one sentence: ${line}`);
  for (const docs of Object.values(ENUM_VALUE_DOCS))
    for (const line of Object.values(docs)) assert.ok(!line.includes('\n') && line.length <= 110, `one line: ${line}`);
});
