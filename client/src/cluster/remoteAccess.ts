/**
 * The unit's machine over SSH for the active cluster, as fleetctl's `journal`, `status` and `ssh`
 * (connection/remote.ts): the decisions behind Show Journal, Show Unit Status and Open Shell on
 * Machine, in plain Node so they are tested against real sshds. The UI supplies the active API
 * and profile, the `fleet.ssh.*` settings and the host-key prompt.
 *
 * A cluster is "fleetd" when its API answers fleetd's journal extension; then the journal comes
 * from the API and nothing here dials SSH. A real fleet answers 404 there, and SSH is used.
 */
import { FleetApiError, type FleetApi } from '../api/types';
import type { ClusterProfile } from '../connection/profile';
import { journalCommandLine, MachineSsh, remoteOptionsFromProfile, statusCommandLine, type RemoteShell, type RunResult } from '../connection/remote';
import type { SshCredentials } from '../connection/sshSession';
import { machineTarget, RemoteTargetError, unitTarget, type RemoteTarget } from './remoteTargets';

/** `fleet.ssh.*`: fleetctl's --ssh-port, journal --sudo and ssh --forward-agent. */
export interface RemoteSettings {
  sshPort: number;
  sudo: boolean;
  forwardAgent: boolean;
  /** journal -n for Show Journal. */
  journalLines: number;
}

export const DEFAULT_REMOTE_SETTINGS: RemoteSettings = { sshPort: 22, sudo: false, forwardAgent: false, journalLines: 50 };

/** Normalises the raw `fleet.ssh` settings (bad values fall back to fleetctl's defaults). */
export function remoteSettingsFrom(raw: { port?: unknown; sudo?: unknown; forwardAgent?: unknown; journalLines?: unknown }): RemoteSettings {
  const port = Number(raw.port);
  const lines = Number(raw.journalLines);
  return {
    sshPort: Number.isInteger(port) && port >= 1 && port <= 65535 ? port : DEFAULT_REMOTE_SETTINGS.sshPort,
    sudo: raw.sudo === true,
    forwardAgent: raw.forwardAgent === true,
    journalLines: Number.isInteger(lines) && lines >= 0 ? lines : DEFAULT_REMOTE_SETTINGS.journalLines,
  };
}

export interface RemoteAccessDeps {
  api(): FleetApi | undefined;
  /** The active cluster's profile; undefined for the local cluster (fleetd, no SSH). */
  profile(): ClusterProfile | undefined;
  settings(): RemoteSettings;
  confirmUnknownHost?: SshCredentials['confirmUnknownHost'];
  log?: SshCredentials['log'];
  env?: NodeJS.ProcessEnv;
}

/** Splits a byte stream into lines (pty `\r\n` or `\n`), holding back a partial last line. */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer | string): void {
    const parts = (this.rest + chunk.toString()).split('\n');
    this.rest = parts.pop() ?? '';
    for (const part of parts) this.onLine(part.replace(/\r+$/, ''));
  }
  flush(): void {
    if (this.rest !== '') this.onLine(this.rest.replace(/\r+$/, ''));
    this.rest = '';
  }
}

export class RemoteAccess {
  private readonly journalApi = new WeakMap<FleetApi, boolean>();

  constructor(private readonly deps: RemoteAccessDeps) {}

  private connected(): FleetApi {
    const api = this.deps.api();
    if (!api) throw new RemoteTargetError('Not connected to a fleet cluster; run "Fleet: Select Cluster" first.');
    return api;
  }

  private ssh(api: FleetApi): MachineSsh {
    const profile = this.deps.profile();
    if (!profile) {
      throw new RemoteTargetError(
        `${api.label} is not reached through a cluster profile, so there is no SSH user or key for its machines. Add the cluster with "Fleet: Add Cluster".`,
      );
    }
    return new MachineSsh(remoteOptionsFromProfile(profile, { confirmUnknownHost: this.deps.confirmUnknownHost, log: this.deps.log, env: this.deps.env }));
  }

  /**
   * Does the cluster serve fleetd's journal extension? Remembered per API. A 404 means a real
   * fleet (use SSH); other errors are thrown (the cluster is unreachable, say so).
   */
  async hasJournalApi(api: FleetApi, unit: string, signal?: AbortSignal): Promise<boolean> {
    const known = this.journalApi.get(api);
    if (known !== undefined) return known;
    if (!this.deps.profile()) return true;
    try {
      await api.journal(unit, { lines: 1 }, signal);
      this.journalApi.set(api, true);
    } catch (err) {
      if (!(err instanceof FleetApiError && err.status === 404)) throw err;
      this.journalApi.set(api, false);
    }
    return this.journalApi.get(api)!;
  }

  /** Where fleetctl would run `purpose` for the unit. */
  async target(unit: string, purpose: 'journal' | 'status' | 'shell', machineId?: string, signal?: AbortSignal): Promise<RemoteTarget> {
    return unitTarget(this.connected(), unit, purpose, {
      sshPort: this.deps.settings().sshPort,
      ...(machineId ? { machineId } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * `fleetctl journal --follow [--sudo] --lines N unit` on the unit's machine, with a pty so that
   * stopping hangs up the remote journalctl. Lines (without `\r`) go to `onLine` until `signal`.
   */
  async followJournal(unit: string, onLine: (line: string) => void, signal: AbortSignal, machineId?: string): Promise<RunResult & { target: RemoteTarget }> {
    const api = this.connected();
    const target = await this.target(unit, 'journal', machineId, signal);
    const settings = this.deps.settings();
    const line = journalCommandLine(target.unit!, { lines: settings.journalLines, follow: true, sudo: settings.sudo });
    this.deps.log?.('info', `${target.label}: ${line}`);
    const splitter = new LineSplitter(onLine);
    const result = await this.ssh(api).run(
      target.address,
      line,
      { pty: { term: 'dumb', cols: 500, rows: 24 }, signal, onStdout: c => splitter.push(c) },
      target.label,
    );
    splitter.flush();
    return { ...result, target };
  }

  /** `fleetctl status unit`: `systemctl status -l` on the unit's machine, its output and exit status. */
  async status(
    unit: string,
    machineId?: string,
    signal?: AbortSignal,
  ): Promise<{ target: RemoteTarget; commandLine: string; output: string; exitCode: number | null }> {
    const api = this.connected();
    const target = await this.target(unit, 'status', machineId, signal);
    const commandLine = statusCommandLine(target.unit!);
    const result = await this.ssh(api).capture(target.address, commandLine, signal ? { signal } : {}, target.label);
    const output = result.stdout + (result.stderr ? (result.stdout.endsWith('\n') || result.stdout === '' ? '' : '\n') + result.stderr : '');
    return { target, commandLine, output, exitCode: result.exitCode };
  }

  /** A login shell on a machine (`fleetctl ssh [--forward-agent]`), with a pty of the given size. */
  async openShell(target: RemoteTarget, size: { cols: number; rows: number }): Promise<RemoteShell> {
    const api = this.connected();
    return this.ssh(api).shell(target.address, { ...size, forwardAgent: this.deps.settings().forwardAgent }, target.label);
  }

  /** The target of Open Shell on Machine for a machine ID (from the explorer or a pick). */
  async machine(machineId: string, signal?: AbortSignal): Promise<RemoteTarget> {
    const api = this.connected();
    const machine = (await api.listMachines(signal)).find(m => m.id === machineId);
    if (!machine) throw new RemoteTargetError(`Machine ${machineId.slice(0, 8)} is not in ${api.label} any more. Refresh and try again.`);
    return machineTarget(machine, this.deps.settings().sshPort);
  }
}
