#!/usr/bin/env node
/**
 * Generates unitfile/src/systemd/catalog.data.ts from systemd's source.
 *
 *   node scripts/catalog/generate.mjs <systemd git dir> [out file]
 *
 * Reads src/core/load-fragment-gperf.gperf.{m4,in} at each tag in TAGS (tags missing from the
 * checkout are skipped and the versions really covered are recorded), expands the
 * EXEC/KILL/CGROUP context macros per section, maps each parser function to a ValueKind, and
 * reads enum values from the `*_table[]` string tables in src/. Run by hand; CI uses the
 * committed output. Descriptions are our own words (descriptions.mjs); directives without one
 * get a generic line built at runtime from the kind.
 *
 * The parts: mapping.mjs (parser functions and names → kinds, flags, deprecations),
 * descriptions.mjs, gperf.mjs (the gperf file), stringTables.mjs (enum values), rows.mjs (the
 * catalog's rows) and render.mjs (the text of the file).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGperf } from './gperf.mjs';
import { renderCatalog } from './render.mjs';
import { buildRows } from './rows.mjs';
import { stringTables } from './stringTables.mjs';

const TAGS = [
  'v219',
  'v225',
  'v230',
  'v232',
  'v235',
  'v239',
  'v241',
  'v245',
  'v247',
  'v249',
  'v250',
  'v252',
  'v254',
  'v255',
  'v256',
  'v257',
  'v258',
  'v259',
  'v260',
];

const gitDir = process.argv[2];
if (!gitDir) {
  console.error('usage: node scripts/catalog/generate.mjs <systemd git dir> [out file]');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const outFile = process.argv[3] ?? join(here, '../../unitfile/src/systemd/catalog.data.ts');

const git = (...args) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
const tryGit = (...args) => {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
};
const stringTable = stringTables(tryGit);

// ---------------------------------------------------------------------------------------------
// Build
// ---------------------------------------------------------------------------------------------
const available = TAGS.filter(t => tryGit('rev-parse', '--verify', '--quiet', `${t}^{commit}`) !== undefined);
if (available.length === 0) throw new Error(`none of ${TAGS.join(' ')} is in ${gitDir}`);
const versions = available.map(t => Number(t.slice(1)));
console.error(
  `versions covered: ${versions.join(' ')}` + (available.length < TAGS.length ? ` (missing: ${TAGS.filter(t => !available.includes(t)).join(' ')})` : ''),
);

/** key → per-version entry */
const perKey = new Map();
for (const tag of available) {
  const v = Number(tag.slice(1));
  const text = tryGit('show', `${tag}:src/core/load-fragment-gperf.gperf.in`) ?? tryGit('show', `${tag}:src/core/load-fragment-gperf.gperf.m4`);
  if (!text) throw new Error(`no gperf file at ${tag}`);
  const items = parseGperf(text);
  console.error(`${tag}: ${items.size} items`);
  for (const [key, it] of items) {
    if (!perKey.has(key)) perKey.set(key, new Map());
    perKey.get(key).set(v, { ...it, tag });
  }
}

const { rows, enums, sectionsSeen } = buildRows(perKey, versions, stringTable);

writeFileSync(outFile, renderCatalog({ available, versions, sectionsSeen, enums, rows }));
console.error(`wrote ${rows.length} directives, ${Object.keys(enums).length} enums to ${outFile}`);
