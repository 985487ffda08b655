// Bundles the three entry points. `--production` minifies and drops source maps (for the .vsix).
import { build } from 'esbuild';

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

const entries = [
  { entryPoints: { extension: 'client/src/extension.ts' } },
  { entryPoints: { server: 'server/src/main.ts' } },
  { entryPoints: { fleetd: 'fleetd/src/main.ts' } },
];
const present = entries.filter(e => Object.values(e.entryPoints).every(p => existsSync(p)));
await Promise.all(present.map(e => build({ ...common, ...e, outdir: 'dist' })));

import { existsSync } from 'node:fs';
