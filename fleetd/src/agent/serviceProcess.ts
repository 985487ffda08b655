/**
 * The process plumbing of a service (service.ts): a start's environment and credentials, spawning
 * one command in its own process group with its output in the journal, and waiting for a control
 * process against a deadline or an abort. What the exits mean is serviceOutcome.ts's business.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { errorMessage } from '../../../protocol/src/log';
import { expandEnvArgs, parseEnvironmentFile, type ExecCommand } from './commandLine';
import { resolveCredentials, spawnWith, type Credentials } from './credentials';
import { LineSplitter, type Journal } from './journal';
import { groupAlive, pidAlive, processesInGroup, processGroupOf, readPidFile, sendGroup, sendPid, type ExitInfo } from './processes';
import type { ServiceConfig } from './serviceConfig';

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));

/** What a Service needs from its unit manager. */
export interface ServiceHost {
  journal: Journal;
  /** PATH and other variables every process starts with. */
  baseEnv: Record<string, string>;
  onChange(): void;
  /** A process group was started for this unit (the manager records it to reap it after a crash of fleetd). */
  onSpawn(pgid: number): void;
  /** Wall-clock milliseconds (real time: timeouts are polled against it). */
  now(): number;
}

/** The systemd default PATH for services. */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface Proc {
  pid: number;
  child: ChildProcess;
  /** Resolves after the exit and the last output (or 100 ms after the exit). */
  exited: Promise<ExitInfo>;
  /** The process has exited. */
  done: boolean;
  /** `exited` has resolved. */
  settled: boolean;
}

/** How to stop a unit without its Service object: ExecStop=, the kill signal, ExecStopPost=, with the start's environment. */
export interface StopRecipe {
  unit: string;
  execStop: ExecCommand[];
  execStopPost: ExecCommand[];
  env: Record<string, string>;
  cwd: string;
  killSignal: NodeJS.Signals;
  sendSigkill: boolean;
  timeoutStopMs: number;
  /** User=/Group= of the start, for ExecStop=. */
  credentials?: Credentials;
}

/** The recipe for a unit started with `env` (its start environment) and `mainPid`: what a watchdog needs to stop it as the Service would. */
export function stopRecipeOf(
  unit: string,
  c: ServiceConfig,
  env: Record<string, string>,
  mainPid: number | undefined,
  credentials: Credentials | undefined,
): StopRecipe {
  const stopEnv = env;
  stopEnv.SERVICE_RESULT = 'success';
  if (mainPid !== undefined) stopEnv.MAINPID = String(mainPid);
  const wd = c.workingDirectory;
  const cwd = wd ? workingDirectoryPath(wd, stopEnv) : '/';
  return {
    unit,
    execStop: c.execStop,
    execStopPost: c.execStopPost,
    env: stopEnv,
    cwd,
    killSignal: c.killSignal,
    sendSigkill: c.sendSigkill,
    timeoutStopMs: c.timeoutStopMs,
    ...(credentials ? { credentials } : {}),
  };
}

export type ControlOutcome = { kind: 'exited'; info: ExitInfo } | { kind: 'timeout' } | { kind: 'aborted' };

/** The directory a unit's processes start in: WorkingDirectory= with `~` as the user's home. */
function workingDirectoryPath(wd: NonNullable<ServiceConfig['workingDirectory']>, env: Record<string, string>): string {
  return wd.path === '~' ? (env.HOME ?? process.env.HOME ?? '/') : wd.path;
}

/**
 * The environment for one start: base, the user's (User=), Environment=, then EnvironmentFile=
 * (which wins), with the credentials of User=/Group=. A string is an error.
 */
function serviceEnvironment(
  config: ServiceConfig,
  baseEnv: Record<string, string>,
  invocation: string,
): { env: Record<string, string>; credentials: Credentials | undefined } | string {
  const c = config;
  const creds = resolveCredentials({
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(c.group !== undefined ? { group: c.group } : {}),
    supplementaryGroups: c.supplementaryGroups,
  });
  if (typeof creds === 'string') return creds;
  const env: Record<string, string> = { ...baseEnv, ...creds?.env, INVOCATION_ID: invocation };
  for (const [k, v] of c.environment) env[k] = v;
  for (const f of c.environmentFiles) {
    let text: string;
    try {
      text = fs.readFileSync(f.path, 'utf8');
    } catch (err) {
      if (f.optional) continue;
      return `Failed to load environment file ${f.path}: ${errorMessage(err)} (prefix the path with "-" to make it optional)`;
    }
    for (const [k, v] of parseEnvironmentFile(text).vars) env[k] = v;
  }
  return { env, credentials: creds };
}

/**
 * The processes of one unit: the process groups it started (each command runs in its own), the
 * children whose exit is not yet processed, a forking daemon's main PID that is not our child,
 * and the User=/Group= credentials of the current start.
 */
export class UnitProcesses {
  readonly groups = new Set<number>();
  private readonly procs = new Set<Proc>();
  /** A forking daemon's main PID that is not our child. */
  externalMain: number | undefined;
  /** This start's User=/Group= credentials (undefined: fleetd's own). */
  credentials: Credentials | undefined;
  /** Polls a forking daemon's main process. */
  private watcher: NodeJS.Timeout | undefined;

  constructor(
    private readonly unit: string,
    private readonly journal: Journal,
    private readonly onSpawn: (pgid: number) => void,
  ) {}

  private log(text: string): void {
    this.journal.append(this.unit, 'system', `${this.unit}: ${text}`);
  }

  /** PIDs of process groups this unit still has. */
  liveGroups(): number[] {
    return [...this.groups].filter(groupAlive);
  }

  /** The environment for a start (serviceEnvironment), keeping its credentials for the processes. A string is an error. */
  environment(config: ServiceConfig, baseEnv: Record<string, string>, invocation: string): Record<string, string> | string {
    const r = serviceEnvironment(config, baseEnv, invocation);
    if (typeof r === 'string') return r;
    this.credentials = r.credentials;
    return r.env;
  }

  /** A live group, or a live forking main PID. */
  anyAlive(): boolean {
    return this.liveGroups().length > 0 || (this.externalMain !== undefined && pidAlive(this.externalMain));
  }

  /** Let the children's last output reach the journal (bounded by `boundMs`: a pipe may be held open). */
  async settled(boundMs: number): Promise<void> {
    const pending = [...this.procs].filter(p => !p.settled);
    if (pending.length > 0) await Promise.race([Promise.all(pending.map(p => p.exited)), sleep(boundMs)]);
  }

  /**
   * Start one command in a process group of its own, stdout/stderr line by line into the journal.
   * A string is why it could not start (systemd's wording, logged).
   */
  spawn(cmd: ExecCommand, env: Record<string, string>, workingDirectory: ServiceConfig['workingDirectory']): Proc | string {
    const proc = this.trySpawn(cmd, env, workingDirectory);
    if (typeof proc === 'string') this.log(proc);
    return proc;
  }

  private trySpawn(cmd: ExecCommand, env: Record<string, string>, workingDirectory: ServiceConfig['workingDirectory']): Proc | string {
    const wd = workingDirectory;
    let cwd: string | undefined;
    if (wd) {
      const path = workingDirectoryPath(wd, env);
      let ok = false;
      try {
        ok = fs.statSync(path).isDirectory();
      } catch {
        ok = false;
      }
      if (ok) cwd = path;
      else if (!wd.optional)
        return `Changing to the requested working directory ${path} failed: no such directory (status 200/CHDIR; prefix it with "-" to ignore)`;
    }
    const argv = cmd.noEnvExpansion ? cmd.argv : expandEnvArgs(cmd.argv, env);
    const how = this.credentials ? spawnWith(this.credentials, cmd.path, argv.slice(1)) : { path: cmd.path, args: argv.slice(1) };
    if (typeof how === 'string') return how;
    let child: ChildProcess;
    try {
      child = spawn(how.path, how.args, {
        argv0: how.path === cmd.path ? (argv[0] ?? cmd.path) : how.path,
        env,
        cwd: cwd ?? '/',
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(how.uid !== undefined ? { uid: how.uid, gid: how.gid } : {}),
      });
    } catch (err) {
      return `Failed to execute ${cmd.path}: ${errorMessage(err)}`;
    }
    const out = new LineSplitter(l => this.journal.append(this.unit, 'stdout', l));
    const errOut = new LineSplitter(l => this.journal.append(this.unit, 'stderr', l));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => out.write(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => errOut.write(d));
    const proc: Proc = { pid: child.pid ?? -1, child, done: false, settled: false, exited: undefined as unknown as Promise<ExitInfo> };
    this.procs.add(proc);
    if (child.pid !== undefined) {
      this.groups.add(child.pid);
      this.onSpawn(child.pid);
    }
    proc.exited = new Promise<ExitInfo>(resolve => {
      let settled = false;
      const finish = (info: ExitInfo) => {
        if (settled) return;
        settled = true;
        proc.done = true;
        // Let buffered output land before the exit message (bounded: a daemon may keep the pipe open).
        const closed = new Promise<void>(r => child.once('close', () => r()));
        void Promise.race([closed, sleep(100)]).then(() => {
          out.flush();
          errOut.flush();
          proc.settled = true;
          this.procs.delete(proc);
          resolve(info);
        });
      };
      child.once('exit', (code, signal) => finish({ code, signal }));
      child.once('error', err => {
        const e = err as NodeJS.ErrnoException;
        finish({ code: 203, signal: null, spawnError: `Failed to execute ${cmd.path}: ${e.code === 'ENOENT' ? 'No such file or directory' : e.message}` });
      });
    });
    return proc;
  }

  /**
   * Run a control process (ExecStartPre= and the like) until it exits, the deadline passes or
   * `signal` aborts. A string: it could not start (logged).
   */
  async control(
    cmd: ExecCommand,
    env: Record<string, string>,
    workingDirectory: ServiceConfig['workingDirectory'],
    time: { deadline: number; now(): number },
    signal: AbortSignal | undefined,
    phase: string,
  ): Promise<(ControlOutcome & { pgid?: number }) | string> {
    const proc = this.spawn(cmd, env, workingDirectory);
    if (typeof proc === 'string') return proc;
    const outcome = await awaitControl(proc, time.deadline - time.now(), signal);
    if (outcome.kind === 'timeout') this.log(`${phase} process ${cmd.path} timed out.`);
    if (outcome.kind === 'exited' && outcome.info.spawnError) this.log(outcome.info.spawnError);
    return { ...outcome, pgid: proc.pid };
  }

  /**
   * A forking daemon's main PID (see forkedMainPid), its group added to the unit's; undefined
   * (logged) when unknown, and the unit is then supervised through its groups.
   */
  async findForkedMain(
    c: Pick<ServiceConfig, 'pidFile' | 'guessMainPid'>,
    pgid: number | undefined,
    until: number,
    now: () => number,
  ): Promise<number | undefined> {
    const pid = await forkedMainPid(c, pgid, until, now, t => this.log(t));
    if (pid === undefined) {
      this.log(`Supervising process without a known main PID${c.pidFile ? '' : ' (set PIDFile=)'}.`);
      return undefined;
    }
    this.externalMain = pid;
    const g = processGroupOf(pid);
    if (g !== undefined) this.groups.add(g);
    return pid;
  }

  /** Poll the forking main PID (or, without one, the groups) while `running()`; `onGone` once they are gone. */
  supervise(running: () => boolean, onGone: () => void): void {
    clearInterval(this.watcher);
    this.watcher = setInterval(() => {
      if (!running()) return;
      const alive = this.externalMain !== undefined ? pidAlive(this.externalMain) : this.liveGroups().length > 0;
      if (!alive) {
        this.unsupervise();
        this.externalMain = undefined;
        onGone();
      }
    }, 200);
    this.watcher.unref();
  }

  unsupervise(): void {
    clearInterval(this.watcher);
    this.watcher = undefined;
  }

  /**
   * The kill signal (and SIGCONT) to every live group and the forking main PID, polled until
   * they are gone or `deadline`; then SIGKILL (announced through `onSigkill`) and up to 5 s more.
   * Groups found dead are forgotten. False when the deadline passed (`state`: the unit's sub-state, for the log).
   */
  async kill(
    o: { killSignal: NodeJS.Signals; sendSigkill: boolean; deadline: number; now(): number; state(): string },
    onSigkill: () => void,
  ): Promise<boolean> {
    const outcome = await this.signalUntilGone(o, () => {
      this.log(`State '${o.state()}' timed out. Killing.`);
      onSigkill();
    });
    if (outcome === 'no-sigkill') this.log(`State '${o.state()}' timed out. Skipping SIGKILL (SendSIGKILL=no).`);
    if (outcome === 'survived') this.log('Processes still around after SIGKILL. Ignoring.');
    return outcome === 'stopped';
  }

  private async signalUntilGone(
    o: { killSignal: NodeJS.Signals; sendSigkill: boolean; deadline: number; now(): number },
    onSigkill: () => void,
  ): Promise<'stopped' | 'no-sigkill' | 'killed' | 'survived'> {
    const signal = (sig: NodeJS.Signals) => {
      for (const g of this.groups) sendGroup(g, sig);
      if (this.externalMain !== undefined) sendPid(this.externalMain, sig);
    };
    const alive = () => {
      for (const g of [...this.groups]) if (!groupAlive(g)) this.groups.delete(g);
      return this.groups.size > 0 || (this.externalMain !== undefined && pidAlive(this.externalMain));
    };
    if (!alive()) return 'stopped';
    signal(o.killSignal);
    if (o.killSignal !== 'SIGKILL') signal('SIGCONT');
    while (alive() && o.now() < o.deadline) await sleep(25);
    if (!alive()) return 'stopped';
    if (!o.sendSigkill) return 'no-sigkill';
    onSigkill();
    signal('SIGKILL');
    const hard = o.now() + 5_000;
    while (alive() && o.now() < hard) await sleep(25);
    return alive() ? 'survived' : 'killed';
  }
}

/** A control process's end: its exit, the deadline (`remainingMs` from now), or the abort signal, whichever comes first. */
async function awaitControl(proc: Proc, remainingMs: number, signal: AbortSignal | undefined): Promise<ControlOutcome> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const outcome = await Promise.race<ControlOutcome>([
    proc.exited.then(info => ({ kind: 'exited' as const, info })),
    new Promise<ControlOutcome>(resolve => {
      if (remainingMs !== Infinity) timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, Math.min(remainingMs, 2 ** 31 - 1)));
    }),
    new Promise<ControlOutcome>(resolve => {
      if (!signal) return;
      if (signal.aborted) return resolve({ kind: 'aborted' });
      onAbort = () => resolve({ kind: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort) signal?.removeEventListener('abort', onAbort);
  return outcome;
}

/** Resolves once the child has been spawned (never when its exec fails: race it with its exit). */
export function spawned(child: ChildProcess): Promise<'spawned'> {
  return new Promise(resolve => child.once('spawn', () => resolve('spawned')));
}

/**
 * A forking daemon's main PID: from PIDFile= (polled until `until`), else, with the main-PID
 * guess, the one process left in the start command's group (`pgid`). Undefined when unknown.
 */
async function forkedMainPid(
  c: Pick<ServiceConfig, 'pidFile' | 'guessMainPid'>,
  pgid: number | undefined,
  until: number,
  now: () => number,
  log: (text: string) => void,
): Promise<number | undefined> {
  let pid: number | undefined;
  if (c.pidFile) {
    while (pid === undefined && now() < until) {
      pid = readPidFile(c.pidFile);
      if (pid === undefined) await sleep(50);
    }
    if (pid === undefined) log(`Can't open PID file ${c.pidFile} (yet?) after start: No such file or directory`);
  }
  if (pid === undefined && c.guessMainPid && pgid !== undefined) {
    const members = processesInGroup(pgid);
    if (members.length === 1) pid = members[0];
  }
  return pid;
}
