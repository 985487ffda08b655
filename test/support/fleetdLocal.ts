/**
 * `fleetd local` from the built bundle (dist/fleetd.js) for tests that need a whole cluster as a
 * user runs it: started in its own process group, ready when it prints its ready line, stopped
 * by process group (every process it started goes with it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopProcessGroup, waitFor } from './process';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

export class FleetdLocal {
  private constructor(
    readonly child: ChildProcess,
    /** The v1 API, `http://127.0.0.1:PORT`. */
    readonly api: string,
    /** The cluster's etcd client URL, when it runs on etcd. */
    readonly etcd: string | undefined,
    readonly stateDir: string,
    readonly output: () => string,
    private readonly ownsStateDir: boolean,
  ) {}

  /** `node <nodeArgs> dist/fleetd.js local --state-dir <tmp, or the given one> --api 127.0.0.1:0 <args>`. */
  static async start(args: readonly string[], options: { stateDir?: string; nodeArgs?: readonly string[] } = {}): Promise<FleetdLocal> {
    if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
    const stateDir = options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-local-'));
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), bundle, 'local', '--state-dir', stateDir, '--api', '127.0.0.1:0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
    try {
      const api = await waitFor('fleetd local to print its ready line', () => /fleetd: API ready at (\S+)/.exec(out)?.[1], {
        timeoutMs: 60_000,
        abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
      });
      return new FleetdLocal(child, api, /fleetd: etcd at ([^\s,]+)/.exec(out)?.[1], stateDir, () => out, !options.stateDir);
    } catch (err) {
      await stopProcessGroup(child.pid!, { timeoutMs: 10_000 }).catch(() => undefined);
      throw err;
    }
  }

  /** SIGTERM to the group (fleetd's clean stop), SIGKILL after 45 s; nothing it started is left. */
  async stop(): Promise<void> {
    await stopProcessGroup(this.child.pid!, { timeoutMs: 45_000 });
    if (this.ownsStateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
  }
}
