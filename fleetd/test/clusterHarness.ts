/**
 * A whole `fleetd local` cluster from the built CLI (dist/fleetd.js), observed through fleet's v1
 * API as fleetctl and the extension see it (shared by the cluster suites).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { processesWhere, waitFor } from '../../test/support';

const root = path.resolve(__dirname, '..', '..');
const bundle = path.join(root, 'dist', 'fleetd.js');

export interface Unit {
  name: string;
  desiredState?: string;
  currentState?: string;
  machineID?: string;
  reason?: string;
}
export interface State {
  name: string;
  machineID?: string;
  systemdActiveState?: string;
  systemdSubState?: string;
  hash?: string;
}
export interface Machine {
  id: string;
  primaryIP?: string;
  metadata?: Record<string, string>;
}

export class Cluster {
  private constructor(
    readonly child: ChildProcess,
    readonly api: string,
    readonly stateDir: string,
    readonly output: () => string,
    readonly clusterId: string,
  ) {}

  static async start(args: string[]): Promise<Cluster> {
    if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-cluster-'));
    const clusterId = randomBytes(8).toString('hex');
    const child = spawn(process.execPath, [bundle, 'local', '--state-dir', stateDir, '--api', '127.0.0.1:0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, FLEETD_CLUSTER_ID: clusterId },
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
    const api = await waitFor('fleetd local to print its ready line', () => /fleetd: API ready at (\S+)/.exec(out)?.[1], {
      timeoutMs: 60_000,
      abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
    });
    return new Cluster(child, api, stateDir, () => out, clusterId);
  }

  async get<T>(p: string): Promise<T> {
    const res = await fetch(`${this.api}/fleet/v1/${p}`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200, `GET ${p}: ${res.status}`);
    return (await res.json()) as T;
  }

  async units(): Promise<Unit[]> {
    return (await this.get<{ units?: Unit[] }>('units')).units ?? [];
  }

  async states(): Promise<State[]> {
    return (await this.get<{ states?: State[] }>('state')).states ?? [];
  }

  async machines(): Promise<Machine[]> {
    return (await this.get<{ machines?: Machine[] }>('machines')).machines ?? [];
  }

  async put(name: string, lines: Record<string, [string, string][]>, desiredState = 'launched'): Promise<void> {
    const options = Object.entries(lines).flatMap(([section, kv]) => kv.map(([n, value]) => ({ section, name: n, value })));
    const res = await fetch(`${this.api}/fleet/v1/units/${encodeURIComponent(name)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ desiredState, options }),
    });
    assert.ok(res.status === 201 || res.status === 204, `PUT ${name}: ${res.status} ${await res.text()}`);
  }

  /** Polls until every named unit is active on some machine; returns name → machine ID. */
  async activeOn(names: string[], timeoutMs = 30_000): Promise<Map<string, string[]>> {
    return waitFor(
      `${names.join(', ')} to be active`,
      async () => {
        const states = await this.states();
        const where = new Map<string, string[]>();
        for (const s of states) {
          if (s.systemdActiveState === 'active' && s.machineID) where.set(s.name, [...(where.get(s.name) ?? []), s.machineID]);
        }
        return names.every(n => where.has(n)) ? where : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** The PID of the `fleetd agent` process of a machine (each machine is its own process with etcd). */
  agentPid(machineId: string): number | undefined {
    const stateDir = this.stateDirFor(machineId);
    return processesWhere(cmd => {
      const i = cmd.indexOf('--machine-id');
      return cmd.includes('agent') && i >= 0 && cmd[i + 1] === machineId && cmd.includes(stateDir);
    })[0]?.pid;
  }

  private stateDirFor(machineId: string): string {
    for (const dir of fs.readdirSync(this.stateDir)) {
      try {
        if (fs.readFileSync(path.join(this.stateDir, dir, 'machine-id'), 'utf8').trim() === machineId) return path.join(this.stateDir, dir);
      } catch {
        // not a machine dir
      }
    }
    return '\0none';
  }

  /** SIGTERM to the cluster's process group (SIGKILL after 30 s); `removeState` false keeps the state dir for inspection. */
  async stop(removeState = true): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise(r => this.child.once('exit', r));
      process.kill(-this.child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-this.child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (removeState) fs.rmSync(this.stateDir, { recursive: true, force: true });
  }
}

export const service = (exec: string, xfleet: [string, string][] = [], extra: [string, string][] = []) => ({
  Unit: [['Description', 'cluster test unit']] as [string, string][],
  Service: [['ExecStart', exec], ...extra] as [string, string][],
  ...(xfleet.length ? { 'X-Fleet': xfleet } : {}),
});
