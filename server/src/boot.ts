/**
 * dist/server.js: starts the language server bundle (dist/server-main.js) with a V8 code cache.
 *
 * Node compiles a script from source on every start: for the 750 KB bundle, plus the functions
 * the first validation compiles lazily, that is ~40 ms of the ~290 ms from spawn to the first
 * diagnostics here. V8 can serialise compiled code (`vm.Script#createCachedData`) and take it
 * back, so this loader compiles the bundle with the cache when there is one, and otherwise writes
 * one once the server has been up for CACHE_WRITE_DELAY_MS (by then the first validation's
 * functions are compiled too, and go into the cache).
 *
 * The cache is one file per bundle (path, size, modification time), Node version, architecture
 * and flags, in
 *   $FLEET_SERVER_CACHE_DIR (the extension sets one in its global storage), else
 *   $XDG_CACHE_HOME/vscode-fleet, else ~/.cache/vscode-fleet,
 * created private (0700 directory, 0600 file) and written atomically (temp file + rename); caches
 * of earlier bundles are removed then. V8 checks a cache against its own version and flags and
 * the source's length, and rejects a stale or corrupt one: the loader then compiles normally and
 * writes a new cache. A cache that cannot be read or written only costs the time it would have
 * saved: the server starts either way. FLEET_SERVER_CACHE=0 turns the cache off.
 */
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { errorMessage } from '../../protocol/src/log';

/** How long after start the cache is written (the process may end earlier: then no cache). */
export const CACHE_WRITE_DELAY_MS = 1000;

export function cacheDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FLEET_SERVER_CACHE === '0') return undefined;
  if (env.FLEET_SERVER_CACHE_DIR) return env.FLEET_SERVER_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), '.cache') : '');
  return base ? path.join(base, 'vscode-fleet') : undefined;
}

/**
 * The cache file for this bundle (its path, size and modification time), Node, architecture and
 * flags. (V8's own check compares the source length, not its text, so the key must change with the
 * bundle. It is hashed with FNV-1a here: node:crypto alone takes ~30 ms to load.)
 */
export function cacheFile(dir: string, bundle: string, stat: { size: number; mtimeMs: number }): string {
  const identity = [bundle, stat.size, stat.mtimeMs, process.version, process.arch, process.execArgv.join(' ')].join('\0');
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < identity.length; i++) {
    const c = identity.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return path.join(dir, `server-main.${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}.v8cache`);
}

function readCache(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(file: string, data: Buffer): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data, { mode: 0o600 });
    fs.renameSync(tmp, file);
    // Caches of earlier bundles (an update, a rebuild) are never read again.
    const dir = path.dirname(file);
    for (const name of fs.readdirSync(dir)) {
      if (/^server-main\.[0-9a-f]{16}\.v8cache$/.test(name) && name !== path.basename(file)) fs.rmSync(path.join(dir, name), { force: true });
    }
  } catch (e) {
    process.stderr.write(`fleet language server: could not write its code cache ${file} (start-up stays slower): ${errorMessage(e)}\n`);
  }
}

/** Loads a CommonJS bundle as `require` would, compiled with the code cache in `dir` (if any). */
export function loadWithCodeCache(bundle: string, dir: string | undefined): { cache: 'off' | 'used' | 'written-later' } {
  // The stat before the read: a bundle replaced in between then gets a cache under its old key,
  // which no later start asks for (the other order could file old code under the new key).
  const file = dir !== undefined ? cacheFile(dir, bundle, fs.statSync(bundle)) : undefined;
  const source = fs.readFileSync(bundle, 'utf8');
  const cachedData = file !== undefined ? readCache(file) : undefined;
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  if (file !== undefined && !accepted) setTimeout(() => writeCache(file, script.createCachedData()), CACHE_WRITE_DELAY_MS).unref();
  const mod = { exports: {}, filename: bundle, id: bundle, loaded: false, children: [], paths: [] };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
  mod.loaded = true;
  return { cache: file === undefined ? 'off' : accepted ? 'used' : 'written-later' };
}

if (require.main === module) {
  loadWithCodeCache(path.join(__dirname, 'server-main.js'), cacheDirectory());
}
