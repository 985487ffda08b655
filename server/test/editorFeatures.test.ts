import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { workspacePathResolver } from '../src/lsp/editorFeatures';

describe('workspace paths for document links', () => {
  test('an absolute path in a unit → the file under a workspace folder, when it exists there', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-paths-'));
    try {
      fs.mkdirSync(path.join(root, 'etc'));
      fs.writeFileSync(path.join(root, 'etc', 'web.env'), 'A=1\n');
      const resolve = workspacePathResolver(() => ['file:///nonexistent-folder', pathToFileURL(root).href]);
      const from = pathToFileURL(path.join(root, 'web.service')).href;
      assert.equal(resolve('/etc/web.env', from), pathToFileURL(path.join(root, 'etc', 'web.env')).href);
      assert.equal(resolve(path.join(root, 'etc', 'web.env'), from), pathToFileURL(path.join(root, 'etc', 'web.env')).href, 'a path already inside the folder');
      assert.equal(resolve('/etc/missing.env', from), undefined);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
