/**
 * A UnitManager that runs units as supervised child processes with systemd's semantics (see
 * service.ts for the state machine and serviceConfig.ts for the directives it implements). The
 * default manager of the local cluster: no systemd, no root. Unit files are also written to
 * `<stateDir>/units/<name>` (fleet's units_directory) so a user can see what the agent runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { errorMessage, type Log } from '../../../protocol/src/log';
import type { UnitOption } from '../../../unitfile/src/serialize';
import { serializeOptions } from '../../../unitfile/src/serialize';
import type { Journal } from './journal';
import { groupAlive, groupExists, statFields } from './processes';
import { JobQueue } from './jobs';
import { Service, SYSTEMD_PATH } from './service';
import { parseServiceConfig } from './serviceConfig';
import { ChangeEmitter, UnitNotLoadedError, type ChangeSubscription, type UnitManager, type UnitManagerState } from './unitManager';

export interface ProcessUnitManagerOptions {
  machineId: string;
  journal: Journal;
  /** Where unit files are written (`<stateDir>/units`) and what %t expands to (`<stateDir>/run`). */
  stateDir: string;
  /** %H; defaults to os.hostname(). */
  hostname?: string;
  /** %b; defaults to the kernel's boot ID. */
  bootId?: string;
  /** Extra variables every process starts with (after PATH). */
  env?: Record<string, string>;
  /**
   * Keep `<stateDir>/stop/<unit>.json` (0600) current for every running unit: how to stop it
   * (ExecStop=, kill signal, ExecStopPost=, environment), for the watchdog that stops the units
   * of a `fleetd agent` killed with SIGKILL (cli/watchdog.ts).
   */
  stopRecipes?: boolean | undefined;
  log?: Log | undefined;
}

function kernelBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '');
  } catch {
    return '0'.repeat(32);
  }
}

export class ProcessUnitManager implements UnitManager {
  private readonly services = new Map<string, Service>();
  private readonly emitter = new ChangeEmitter();
  /** systemd's jobs: dependencies and ordering between this machine's units. */
  private readonly jobs = new JobQueue({
    service: name => this.services.get(name),
    services: () => this.services.values(),
    log: (level, message) => this.options.log?.(level, message),
  });
  private readonly unitsDir: string;
  private readonly runtimeDir: string;
  private readonly hostname: string;
  private readonly bootId: string;
  private readonly baseEnv: Record<string, string>;
  private readonly now: () => number;
  private readonly groupsDir: string;
  private readonly stopDir: string;
  private readonly lockFile: string;
  private readonly token = randomUUID();
  private closed = false;
  private lastPrune = -Infinity;

  constructor(private readonly options: ProcessUnitManagerOptions) {
    this.unitsDir = path.join(options.stateDir, 'units');
    this.runtimeDir = path.join(options.stateDir, 'run');
    this.hostname = options.hostname ?? os.hostname();
    this.bootId = options.bootId ?? kernelBootId();
    this.now = Date.now;
    this.groupsDir = path.join(options.stateDir, 'groups');
    this.stopDir = path.join(options.stateDir, 'stop');
    this.baseEnv = unitBaseEnv(options.env);
    // Everything here is the agent's alone (unit files hold Environment= secrets): 0700 and 0600.
    for (const dir of [options.stateDir, this.unitsDir, this.runtimeDir, this.groupsDir, this.stopDir]) privateDir(dir);
    this.lockFile = path.join(options.stateDir, 'lock');
    this.lock();
    this.reapOrphans();
    // Unit files of a previous run are stale: this manager starts with nothing loaded (fleet's agent
    // would list them as inactive and unload them on its first pass).
    for (const file of safeReaddir(this.unitsDir)) fs.rmSync(path.join(this.unitsDir, file), { force: true });
    for (const file of safeReaddir(this.stopDir)) fs.rmSync(path.join(this.stopDir, file), { force: true });
  }

  /** One file per unit, named by the SHA-1 of its name (any unit name gives a short, safe file name). */
  private stopFile(unit: string): string {
    return path.join(this.stopDir, `${createHash('sha1').update(unit).digest('hex')}.json`);
  }

  /** Write (atomically, 0600: it holds the unit's environment) how to stop a unit; after the spawn settles, so MAINPID is known. */
  private writeStopRecipe(unit: string): void {
    if (!this.options.stopRecipes) return;
    setImmediate(() => {
      const svc = this.services.get(unit);
      if (!svc || this.closed) return;
      const file = this.stopFile(unit);
      const temp = `${file}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(temp, JSON.stringify(svc.stopRecipe()), { mode: 0o600 });
        fs.renameSync(temp, file);
      } catch (err) {
        this.options.log?.(
          'warn',
          `could not record how to stop ${unit} (${errorMessage(err)}); if fleetd is killed, its processes are stopped without ExecStop=`,
        );
      }
    });
  }

  /**
   * One manager per stateDir: a second one would reap the first one's processes as orphans.
   * The lock holds `<pid> <token>`; it is stale when that process is gone, or (same process)
   * when its token is no longer held by a live manager.
   */
  private lock(): void {
    const [pidText, token] = readText(this.lockFile).trim().split(' ');
    const pid = Number(pidText);
    if (pidText && pid > 0 && token) {
      const holderAlive = pid === process.pid ? LIVE_TOKENS.has(token) : pidIsAlive(pid);
      if (holderAlive) {
        throw new Error(
          `state directory ${this.options.stateDir} is in use by another fleetd agent (pid ${pid}); ` +
            'give every machine its own state directory (--state-dir)',
        );
      }
    }
    writePrivate(this.lockFile, `${process.pid} ${this.token}\n`);
    LIVE_TOKENS.add(this.token);
  }

  /**
   * Process groups a previous fleetd left behind with this stateDir (it crashed or was killed
   * without its clean shutdown) are killed: systemd would have them in its cgroups; we have a
   * record per group, `<stateDir>/groups/<pgid>` holding the leader's start time, so a reused PID
   * is never signalled (the kernel does not reuse a PID while a group with that ID exists).
   */
  private reapOrphans(): void {
    let killed = 0;
    for (const file of safeReaddir(this.groupsDir)) {
      const pgid = Number(file);
      const recordPath = path.join(this.groupsDir, file);
      const [startTime, unit] = readText(recordPath).split(' ');
      fs.rmSync(recordPath, { force: true });
      if (!/^\d+$/.test(file) || pgid <= 1 || !groupAlive(pgid)) continue;
      const leader = statFields(pgid);
      if (leader && leader[19] !== startTime) continue; // the leader PID now belongs to someone else
      try {
        process.kill(-pgid, 'SIGKILL');
        killed++;
        this.options.journal.append(unit ?? 'fleetd', 'system', `Killed process group ${pgid} left behind by a previous fleetd.`);
      } catch {
        // Gone meanwhile.
      }
    }
    if (killed > 0) this.options.log?.('warn', `killed ${killed} process group(s) left behind by a previous fleetd in ${this.options.stateDir}`);
  }

  private recordGroup(unit: string, pgid: number): void {
    const startTime = statFields(pgid)?.[19] ?? '';
    try {
      writePrivate(path.join(this.groupsDir, String(pgid)), `${startTime} ${unit}`);
      // Prune records of groups that are gone, at most once a second and with one syscall per
      // record: groupAlive scans /proc, and doing that for every record on every spawn made
      // starting the hundredth unit of a machine cost a hundred /proc scans (seconds per start at
      // a thousand processes). A stale record is harmless: the reaper checks the start time.
      const now = this.now();
      if (now - this.lastPrune >= 1_000) {
        this.lastPrune = now;
        for (const file of safeReaddir(this.groupsDir)) {
          if (!groupExists(Number(file))) fs.rmSync(path.join(this.groupsDir, file), { force: true });
        }
      }
    } catch (err) {
      this.options.log?.('warn', `could not record process group ${pgid} of ${unit}: ${errorMessage(err)}`);
    }
  }

  get journal(): Journal {
    return this.options.journal;
  }

  async load(name: string, options: readonly UnitOption[], hash: string): Promise<void> {
    if (this.closed) throw new Error(`cannot load ${name}: the unit manager is shut down`);
    if (name.includes('/') || name === '') throw new Error(`cannot load unit ${JSON.stringify(name)}: not a valid unit file name`);
    const config = parseServiceConfig(name, options, {
      unitName: name,
      machineId: this.options.machineId,
      hostname: this.hostname,
      bootId: this.bootId,
      runtimeDir: this.runtimeDir,
    });
    writePrivate(path.join(this.unitsDir, unitDiskName(name)), serializeOptions(options));
    const existing = this.services.get(name);
    if (existing) {
      // Like a daemon-reload: the running processes keep running; the new settings apply from the next start.
      existing.config = config;
      existing.hash = hash;
    } else {
      this.services.set(
        name,
        new Service(name, config, hash, {
          journal: this.options.journal,
          baseEnv: this.baseEnv,
          now: this.now,
          onChange: () => {
            this.jobs.changed(name);
            this.emitter.fire(name);
          },
          onSpawn: pgid => {
            this.recordGroup(name, pgid);
            this.writeStopRecipe(name);
          },
        }),
      );
    }
    if (config.errors.length > 0) this.options.log?.('warn', `unit ${name} has a bad setting: ${config.errors.join('; ')}`);
    this.emitter.fire(name);
    this.jobs.retryRefused();
  }

  async unload(name: string): Promise<void> {
    const svc = this.services.get(name);
    if (!svc) return;
    await this.jobs.stop(name);
    // fleet's unload: only after a successful stop, and the failed state is reset with the unit.
    if (this.services.get(name) === svc) this.services.delete(name);
    fs.rmSync(path.join(this.unitsDir, unitDiskName(name)), { force: true });
    fs.rmSync(this.stopFile(name), { force: true });
    this.emitter.fire(name);
  }

  async reloadUnitFiles(): Promise<void> {
    // Loading takes effect at once here; nothing to reload.
  }

  async start(name: string): Promise<void> {
    const svc = this.services.get(name);
    if (!svc) throw new UnitNotLoadedError(name, 'start');
    await this.jobs.start(name);
  }

  async stop(name: string): Promise<void> {
    const svc = this.services.get(name);
    if (!svc) throw new UnitNotLoadedError(name, 'stop');
    await this.jobs.stop(name);
  }

  async states(): Promise<UnitManagerState[]> {
    return [...this.services.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(s => {
        const state: UnitManagerState = { name: s.name, hash: s.hash, loadState: s.loadState, activeState: s.activeState, subState: s.subState };
        const detail = describe(s);
        if (detail) state.detail = detail;
        return state;
      });
  }

  /** Process group IDs a unit still has (for tests: prove nothing leaked). */
  processGroups(name: string): number[] {
    return this.services.get(name)?.liveGroups() ?? [];
  }

  /** The main PID of a running unit, if known. */
  mainPid(name: string): number | undefined {
    return this.services.get(name)?.mainPid;
  }

  /** The jobs queued or running (for tests: prove the job queue has nothing left to do). */
  queuedJobs(): { unit: string; type: string }[] {
    return this.jobs.jobs();
  }

  /** How many times a unit was restarted automatically since it was loaded. */
  restarts(name: string): number {
    return this.services.get(name)?.restarts ?? 0;
  }

  onChange(listener: (name: string) => void): ChangeSubscription {
    return this.emitter.on(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.services.keys()].map(n => this.unload(n)));
    LIVE_TOKENS.delete(this.token);
    if (readText(this.lockFile).trim() === `${process.pid} ${this.token}`) fs.rmSync(this.lockFile, { force: true });
  }
}

/** What every unit process starts with: systemd's PATH then fleetd's own (so `node` and friends resolve as they do for the user), LANG, then `extra`. */
export function unitBaseEnv(extra: Record<string, string> | undefined): Record<string, string> {
  return {
    PATH: [SYSTEMD_PATH, process.env.PATH].filter(Boolean).join(':'),
    ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
    // The test suite's leak check finds every process of a run by this variable (scripts/lib/suite.sh).
    ...(process.env.FLEET_TEST_RUN_ID ? { FLEET_TEST_RUN_ID: process.env.FLEET_TEST_RUN_ID } : {}),
    ...extra,
  };
}

/** A directory only its owner may enter (created, or closed if it exists). */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/**
 * A file only its owner may read (0600 even when it existed with another mode). A new file is
 * created 0600 in one call (umask only removes bits); only an existing one needs the chmod, which
 * saved a syscall per unit file and per process-group record (each ~0.1 ms on ext4 here).
 */
export function writePrivate(file: string, data: string): void {
  try {
    fs.writeFileSync(file, data, { mode: 0o600, flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  fs.writeFileSync(file, data, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** Longest file name Linux file systems take (NAME_MAX), in bytes. */
const NAME_MAX = 255;

/**
 * The file name a unit is written under in `<stateDir>/units`. fleet's API accepts names no file
 * system takes as they are (256 bytes) and names that would be hidden files (`.x.service`), so
 * they are escaped as systemd escapes strings into unit names: `\` → `\x5c` first (so the escape
 * stays injective), then a leading `.` → `\x2e`. A result longer than NAME_MAX keeps its start
 * and type and gets `~` plus the SHA-1 of the whole name (`~` never occurs in a valid name, so a
 * shortened name never equals an escaped one). A name that is already safe is its own file name.
 */
export function unitDiskName(name: string): string {
  let disk = name.replace(/\\/g, '\\x5c').replace(/^\./, '\\x2e');
  if (Buffer.byteLength(disk) <= NAME_MAX) return disk;
  const dot = name.lastIndexOf('.');
  const suffix = dot > 0 ? name.slice(dot) : '';
  const hash = createHash('sha1').update(name).digest('hex');
  // Valid names are ASCII, so characters are bytes here.
  disk = `${disk.slice(0, NAME_MAX - suffix.length - 1 - hash.length)}~${hash}${suffix}`;
  return disk;
}

/** Locks held by managers of this process (several machines may run in one fleetd). */
const LIVE_TOKENS = new Set<string>();

function pidIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The state detail: the last result, restarts, unsupported directives, ignored values, load errors. */
function describe(s: Service): string | undefined {
  const parts: string[] = [];
  const c = s.config;
  if (c.errors.length > 0) parts.push(`bad setting: ${c.errors.join('; ')}`);
  if (s.lastMessage && (s.activeState === 'failed' || s.subState === 'auto-restart' || s.subState === 'exited' || s.activeState === 'inactive')) {
    parts.push(s.result === 'success' ? s.lastMessage : `${s.lastMessage} (result: ${s.result})`);
  } else if (s.activeState === 'failed') {
    parts.push(`failed (result: ${s.result})`);
  }
  if (s.restarts > 0) parts.push(`restarted ${s.restarts} time${s.restarts === 1 ? '' : 's'}`);
  if (c.unsupported.length > 0) parts.push(`not supported by the process unit manager: ${c.unsupported.join(', ')}`);
  if (c.notes.length > 0) parts.push(c.notes.join('; '));
  return parts.length > 0 ? parts.join('; ') : undefined;
}
