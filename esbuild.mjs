// Bundles the three entry points. `--production` minifies and drops source maps (for the .vsix).
import { build } from 'esbuild';
import { cp, mkdir, readFile } from 'node:fs/promises';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  // etcd3 → protobufjs/grpc and ssh2 have optional native parts that are loaded with try/require.
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
};

// etcd3 loads its gRPC schema at run time from `${__dirname}/../proto/*.proto`. In a bundle
// __dirname is dist/, so point it at dist/etcd3-proto/ and copy the schema there.
const etcd3Proto = {
  name: 'etcd3-proto',
  setup(b) {
    b.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async args => {
      const source = await readFile(args.path, 'utf8');
      const patched = source.replace('`${__dirname}/../proto/rpc.proto`', '`${__dirname}/etcd3-proto/rpc.proto`');
      if (patched === source) throw new Error('esbuild.mjs: etcd3 no longer loads ../proto/rpc.proto; update the etcd3-proto plugin');
      return { contents: patched, loader: 'js' };
    });
  },
};
await mkdir('dist/etcd3-proto', { recursive: true });
await cp('node_modules/etcd3/proto', 'dist/etcd3-proto', { recursive: true });

// The language server's start-up: Node compiles a built-in module the first time it is required,
// and vscode-languageserver/vscode-jsonrpc require child_process and crypto at load for helpers
// the server never calls on its way to the first diagnostics (resolving global modules, random
// pipe names, UUIDs). In the server bundle those two load on first use instead (~15 ms).
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?(child_process|crypto)$/ }, args =>
      /[\\/]node_modules[\\/]vscode-(languageserver|jsonrpc)/.test(args.importer)
        ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, args => ({
      loader: 'js',
      contents: `let m;
const load = () => (m ??= require(${JSON.stringify(`node:${args.path}`)}));
module.exports = new Proxy({}, {
  get: (_, k) => load()[k],
  has: (_, k) => k in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, k) => { const d = Object.getOwnPropertyDescriptor(load(), k); return d && { ...d, configurable: true }; },
});`,
    }));
  },
};

// The extension's bundle: unitfile/src is a pure core (no module runs for its side effects,
// ARCHITECTURE.md), so what the client does not use of it is left out, chiefly the systemd
// directive catalog (~170 KB) that only the language server and fleetd validate with; the bundle
// the extension host loads on activation is then ~1.04 MB instead of ~1.21 MB.
const pureUnitfile = {
  name: 'pure-unitfile',
  setup(b) {
    const inUnitfile = p => /[\\/]unitfile[\\/]src[\\/]/.test(p);
    b.onResolve({ filter: /.*/ }, async args => {
      if (args.pluginData === 'pure-unitfile' || (!inUnitfile(args.importer) && !/unitfile[\\/]src/.test(args.path))) return undefined;
      const resolved = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'pure-unitfile' });
      return inUnitfile(resolved.path) && resolved.errors.length === 0 ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

const entries = [
  { entryPoints: { extension: 'client/src/extension.ts' }, plugins: [pureUnitfile] },
  // dist/server.js is a small loader that compiles dist/server-main.js with a V8 code cache (server/src/boot.ts).
  { entryPoints: { server: 'server/src/boot.ts' } },
  { entryPoints: { 'server-main': 'server/src/main.ts' }, plugins: [lazyBuiltins] },
  { entryPoints: { fleetd: 'fleetd/src/main.ts' }, plugins: [etcd3Proto] },
];
// The map webviews' scripts (dist/webview/*.js) run in the webview's browser, not in Node; they
// bundle @dagrejs/dagre (the unit graph's layout).
const webviews = {
  ...common,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  external: [],
  entryPoints: { 'webview/clusterMap': 'client/webview/clusterMap.ts', 'webview/unitGraph': 'client/webview/unitGraph.ts' },
};
await Promise.all([...entries.map(e => build({ ...common, ...e, outdir: 'dist' })), build({ ...webviews, outdir: 'dist' })]);
