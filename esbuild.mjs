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

const entries = [
  { entryPoints: { extension: 'client/src/extension.ts' } },
  { entryPoints: { server: 'server/src/main.ts' } },
  { entryPoints: { fleetd: 'fleetd/src/main.ts' }, plugins: [etcd3Proto] },
];
await Promise.all(entries.map(e => build({ ...common, ...e, outdir: 'dist' })));
