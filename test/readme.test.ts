/**
 * Keeps the README true: its Quick start is exactly two commands that exist, and every command,
 * setting and view the manifest contributes is documented.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

const root = path.resolve(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  contributes: {
    commands?: { command: string; title: string }[];
    configuration?: { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[];
  };
};

describe('README', () => {
  test('Quick start is exactly two commands: the main job and the whole test suite', () => {
    const section = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1];
    assert.ok(section, 'a "## Quick start" section');
    const block = /```(?:sh|bash|shell)?\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'a code block in Quick start');
    const commands = block
      .split('\n')
      .map(l => l.replace(/#.*$/, '').trim())
      .filter(Boolean);
    assert.deepEqual(commands, ['npm start', 'npm test']);
    assert.equal(manifest.scripts.start, 'bash scripts/start.sh');
    assert.equal(manifest.scripts.test, 'bash scripts/test.sh');
    assert.ok(fs.existsSync(path.join(root, 'scripts/start.sh')));
    assert.ok(fs.existsSync(path.join(root, 'scripts/test.sh')));
    assert.match(fs.readFileSync(path.join(root, '.ci/run'), 'utf8'), /npm test/);
  });

  test('every contributed command is documented by its title', () => {
    for (const c of manifest.contributes.commands ?? []) {
      assert.ok(readme.includes(c.title), `README documents the command "${c.title}" (${c.command})`);
    }
  });

  test('every setting is documented by its key', () => {
    const configs = manifest.contributes.configuration;
    const list = Array.isArray(configs) ? configs : configs ? [configs] : [];
    for (const c of list) {
      for (const key of Object.keys(c.properties)) assert.ok(readme.includes(`\`${key}\``), `README documents the setting \`${key}\``);
    }
  });
});
