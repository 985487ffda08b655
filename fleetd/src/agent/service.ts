/**
 * One unit run by the process unit manager: systemd's service state machine (src/core/service.c)
 * reduced to what matters without cgroups. Every process runs in its own process group; the
 * unit's processes are the groups it started (plus a forking daemon's main PID), and stopping
 * signals all of them: KillSignal, then SIGKILL after TimeoutStopSec.
 *
 * Limits (documented, not silent): a forking daemon that calls setsid() leaves its group and is
 * only tracked through PIDFile= (or the main-PID guess); its exit status cannot be observed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { expandEnvArgs, parseEnvironmentFile, type ExecCommand } from './commandLine';
import { resolveCredentials, spawnWith, type Credentials } from './credentials';
import { LineSplitter, type Journal } from './journal';
import type { ServiceConfig } from './serviceConfig';
import { formatTimespan } from './timespan';
import {
  describeExit, groupAlive, invocationId, pidAlive, processesInGroup, processGroupOf, readPidFile, sendGroup, sendPid, type ExitInfo,
} from './processes';

export type ActiveState = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';
export type SubState = 'dead' | 'start-pre' | 'start' | 'start-post' | 'running' | 'exited' | 'stop' | 'stop-sigterm'
  | 'stop-sigkill' | 'stop-post' | 'failed' | 'auto-restart';
export type ServiceResult = 'success' | 'exit-code' | 'signal' | 'timeout' | 'start-limit-hit' | 'resources';

export type { ExitInfo } from './processes';

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

const CLEAN_SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']);
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));

interface Proc {
  pid: number;
  child: ChildProcess;
  /** Resolves after the exit and the last output (or 100 ms after the exit). */
  exited: Promise<ExitInfo>;
  /** The process has exited. */
  done: boolean;
  /** `exited` has resolved. */
  settled: boolean;
}

type ControlOutcome = { kind: 'exited'; info: ExitInfo } | { kind: 'timeout' } | { kind: 'aborted' };

export class Service {
  activeState: ActiveState = 'inactive';
  subState: SubState = 'dead';
  result: ServiceResult = 'success';
  restarts = 0;
  /** The last thing worth telling the user (a failed start, an exit status). */
  lastMessage: string | undefined;
  mainPid: number | undefined;
  /** This start's User=/Group= credentials (undefined: fleetd's own). */
  private credentials: Credentials | undefined;

  private groups = new Set<number>();
  /** Our children whose exit has not been fully processed yet. */
  private readonly procs = new Set<Proc>();
  private main: Proc | undefined;
  /** A forking daemon's main PID that is not our child. */
  private externalMain: number | undefined;
  private mainExitDuringStart: ExitInfo | undefined;
  private job: Promise<void> | undefined;
  private startAbort: AbortController | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private pendingStart = false;
  /** Counts start() calls, so a stop() in progress can tell that a newer start replaced it. */
  private startRequests = 0;
  private stopping = false;
  private startTimes: number[] = [];
  private watcher: NodeJS.Timeout | undefined;
  private invocation = invocationId();
  /** The main command had the `-` prefix: its failure counts as success. */
  private mainIgnoresFailure = false;

  constructor(readonly name: string, public config: ServiceConfig, public hash: string, private readonly host: ServiceHost) {}

  get loadState(): string {
    return this.config.masked ? 'masked' : this.config.errors.length > 0 ? 'bad-setting' : 'loaded';
  }

  /** PIDs of process groups this unit still has (for tests and diagnostics). */
  liveGroups(): number[] {
    return [...this.groups].filter(groupAlive);
  }

  /** What the job queue decided for this unit (a refused start, a failed dependency): journal and state detail. */
  note(text: string): void {
    this.lastMessage = text;
    this.log(`${this.name}: ${text}`);
    this.host.onChange();
  }

  private log(text: string): void {
    this.host.journal.append(this.name, 'system', text);
  }

  private set(active: ActiveState, sub: SubState): void {
    if (this.activeState === active && this.subState === sub) return;
    this.activeState = active;
    this.subState = sub;
    this.host.onChange();
  }

  /** Queue a start (systemctl start): returns at once; progress shows in the state. A start wins over a stop in progress. */
  start(): void {
    this.startRequests++;
    this.beginStart();
  }

  private beginStart(): void {
    if (this.subState === 'auto-restart') {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    } else if (this.activeState === 'active' || this.activeState === 'activating') {
      return;
    } else if (this.activeState === 'deactivating') {
      this.pendingStart = true;
      return;
    }
    if (this.config.masked) {
      this.fail(`Unit ${this.name} is masked: its unit file is empty; submit the unit with its options`, 'resources');
      return;
    }
    if (this.config.kind === 'other') {
      this.fail(`the process unit manager cannot run ${this.name.slice(this.name.lastIndexOf('.'))} units; only .service and .target units run here`, 'resources');
      return;
    }
    if (this.config.errors.length > 0) {
      this.fail(`Unit ${this.name} has a bad unit file setting: ${this.config.errors.join('; ')}`, 'resources');
      return;
    }
    const now = this.host.now();
    if (this.config.startLimitIntervalMs > 0 && this.config.startLimitBurst > 0) {
      this.startTimes = this.startTimes.filter(t => now - t < this.config.startLimitIntervalMs);
      if (this.startTimes.length >= this.config.startLimitBurst) {
        this.log(`${this.name}: Start request repeated too quickly.`);
        this.fail(`Start request repeated too quickly (${this.config.startLimitBurst} starts within ${formatTimespan(this.config.startLimitIntervalMs)}; StartLimitBurst=/StartLimitIntervalSec=)`, 'start-limit-hit');
        return;
      }
      this.startTimes.push(now);
    }
    if (this.config.kind === 'target') {
      this.set('active', 'running');
      this.log(`Reached target ${this.config.description}.`);
      return;
    }
    this.job = this.runStart().catch(err => this.internalError(err));
  }

  /**
   * Take over the process groups a dead agent left running for this unit: the unit is
   * active/running with those groups, so stop() stops them systemd's way (ExecStop=, the stop
   * signal, SIGKILL after TimeoutStopSec=, ExecStopPost=). Their exit statuses are unknown.
   */
  adopt(groups: readonly number[]): void {
    for (const g of groups) this.groups.add(g);
    this.set('active', 'running');
  }

  /** Stop (systemctl stop): resolves once every process of the unit is gone. */
  async stop(): Promise<void> {
    this.pendingStart = false;
    const requests = this.startRequests;
    // Bounded: each round either finds the unit down or waits for the job in progress, which ends stopped.
    for (let round = 0; round < 4 && this.startRequests === requests; round++) {
      if (this.subState === 'auto-restart') {
        clearTimeout(this.restartTimer);
        this.restartTimer = undefined;
        this.set(this.result === 'success' ? 'inactive' : 'failed', this.result === 'success' ? 'dead' : 'failed');
        break;
      }
      if (this.config.kind === 'target') {
        if (this.activeState === 'active') {
          this.set('inactive', 'dead');
          this.log(`Stopped target ${this.config.description}.`);
        }
        break;
      }
      if (this.activeState === 'activating' || this.activeState === 'deactivating') {
        this.stopping = true;
        this.startAbort?.abort();
        await this.job;
      } else if (this.activeState === 'active') {
        this.stopping = true;
        this.job = this.runStop({ execStop: true, manual: true }).catch(err => this.internalError(err));
        await this.job;
      } else {
        break;
      }
    }
    if (this.startRequests !== requests) return; // a start issued meanwhile replaced this stop
    this.stopping = false;
    // A finished job may leave stragglers (a start that raced us): make sure.
    if ((this.activeState === 'inactive' || this.activeState === 'failed') && this.liveGroups().length > 0) await this.killAll();
  }

  private fail(message: string, result: ServiceResult): void {
    this.result = result;
    this.lastMessage = message;
    this.log(`Failed to start ${this.config.description}: ${message}`);
    this.set('failed', 'failed');
  }

  private internalError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastMessage = `internal error: ${message}`;
    this.log(`${this.name}: internal error in the process unit manager: ${message}`);
    void this.killAll().then(() => this.set('failed', 'failed'));
  }

  // ------------------------------------------------------------------ start

  private async runStart(): Promise<void> {
    const abort = new AbortController();
    this.startAbort = abort;
    this.stopping = false;
    this.result = 'success';
    this.lastMessage = undefined;
    this.mainExitDuringStart = undefined;
    this.mainPid = undefined;
    this.externalMain = undefined;
    this.mainIgnoresFailure = false;
    this.invocation = invocationId();
    const c = this.config;
    const deadline = this.host.now() + c.timeoutStartMs;
    this.set('activating', 'start-pre');
    this.log(`Starting ${c.description}...`);
    const env = this.environment();
    if (typeof env === 'string') return this.finishFailedStart(env, 'resources');

    for (const cmd of c.execStartPre) {
      const r = await this.runControl(cmd, env, deadline, abort.signal, 'start-pre');
      if (r.kind === 'aborted') return this.runStop({ execStop: false, manual: true });
      if (r.kind === 'timeout') return this.timeoutDuringStart(false);
      if (!this.succeeded(r.info, false) && !cmd.ignoreFailure) return this.controlFailed(cmd, r.info, false);
    }

    this.set('activating', 'start');
    if (c.type === 'oneshot') {
      for (const cmd of c.execStart) {
        const r = await this.runControl(cmd, env, deadline, abort.signal, 'start');
        if (r.kind === 'aborted') return this.runStop({ execStop: false, manual: true });
        if (r.kind === 'timeout') return this.timeoutDuringStart(false);
        if (!this.succeeded(r.info, true) && !cmd.ignoreFailure) {
          this.log(`${this.name}: Main process exited, ${describeExit(r.info)}`);
          return this.controlFailed(cmd, r.info, false);
        }
      }
    } else if (c.type === 'forking') {
      const cmd = c.execStart[0]!;
      const r = await this.runControl(cmd, env, deadline, abort.signal, 'start');
      if (r.kind === 'aborted') return this.runStop({ execStop: false, manual: true });
      if (r.kind === 'timeout') return this.timeoutDuringStart(false);
      if (!this.succeeded(r.info, true) && !cmd.ignoreFailure) return this.controlFailed(cmd, r.info, false);
      await this.findForkedMain(r.pgid, deadline);
    } else {
      const cmd = c.execStart[0]!;
      const proc = this.spawnProc(cmd, env);
      if (!proc) return this.finishFailedStart(this.lastMessage ?? `could not execute ${cmd.path}`, 'exit-code');
      this.main = proc;
      this.mainPid = proc.pid;
      this.mainIgnoresFailure = cmd.ignoreFailure;
      void proc.exited.then(info => this.onMainExit(proc, info));
      const first = await Promise.race([spawned(proc.child), proc.exited]);
      if (first !== 'spawned' && first.spawnError) return; // onMainExit handles it (status 203/EXEC).
    }
    if (abort.signal.aborted) return this.runStop({ execStop: false, manual: true });

    if (c.execStartPost.length > 0) {
      this.set('activating', 'start-post');
      for (const cmd of c.execStartPost) {
        const r = await this.runControl(cmd, env, deadline, abort.signal, 'start-post');
        if (r.kind === 'aborted') return this.runStop({ execStop: true, manual: true });
        if (r.kind === 'timeout') return this.timeoutDuringStart(true);
        if (!this.succeeded(r.info, false) && !cmd.ignoreFailure) return this.controlFailed(cmd, r.info, true);
      }
    }
    this.startAbort = undefined;
    if (abort.signal.aborted) return this.runStop({ execStop: true, manual: true });

    const early = this.mainExitDuringStart;
    if (c.type === 'oneshot') {
      this.log(`${c.type === 'oneshot' && !c.remainAfterExit ? 'Finished' : 'Started'} ${c.description}.`);
      if (c.remainAfterExit) return this.set('active', 'exited');
      this.lastMessage = 'Main process exited, code=exited, status=0/SUCCESS';
      return this.runStop({ execStop: true, manual: false });
    }
    if (c.type !== 'forking' && (early || !this.main)) {
      // The main process is already gone (it exited during ExecStartPost=).
      this.set('active', 'running');
      return this.mainGone(early ?? { code: 0, signal: null });
    }
    this.set('active', 'running');
    this.log(`Started ${c.description}.`);
    if (c.type === 'forking' && this.externalMain === undefined && this.liveGroups().length === 0) {
      return this.mainGone({ code: 0, signal: null });
    }
  }

  private async findForkedMain(pgid: number | undefined, deadline: number): Promise<void> {
    const c = this.config;
    let pid: number | undefined;
    if (c.pidFile) {
      const until = Math.min(deadline, this.host.now() + 2_000);
      while (pid === undefined && this.host.now() < until) {
        pid = readPidFile(c.pidFile);
        if (pid === undefined) await sleep(50);
      }
      if (pid === undefined) this.log(`${this.name}: Can't open PID file ${c.pidFile} (yet?) after start: No such file or directory`);
    }
    if (pid === undefined && c.guessMainPid && pgid !== undefined) {
      const members = processesInGroup(pgid);
      if (members.length === 1) pid = members[0];
    }
    if (pid === undefined) {
      this.log(`${this.name}: Supervising process without a known main PID${c.pidFile ? '' : ' (set PIDFile=)'}.`);
      this.watch();
      return;
    }
    this.externalMain = pid;
    this.mainPid = pid;
    const g = processGroupOf(pid);
    if (g !== undefined) this.groups.add(g);
    this.watch();
  }

  /** A forking unit's main process is not our child: poll it (and its groups). */
  private watch(): void {
    clearInterval(this.watcher);
    this.watcher = setInterval(() => {
      if (this.activeState !== 'active' || this.subState !== 'running') return;
      const alive = this.externalMain !== undefined ? pidAlive(this.externalMain) : this.liveGroups().length > 0;
      if (!alive) {
        clearInterval(this.watcher);
        this.watcher = undefined;
        this.log(`${this.name}: Main process exited (not a child of fleetd: exit status unknown).`);
        this.externalMain = undefined;
        void this.mainGone({ code: 0, signal: null }, true);
      }
    }, 200);
    this.watcher.unref();
  }

  private onMainExit(proc: Proc, info: ExitInfo): void {
    if (this.main !== proc) return;
    this.main = undefined;
    if (info.spawnError) this.log(`${this.name}: ${info.spawnError}`);
    // An exit we caused while stopping is not news (systemd logs it at debug level only).
    if (this.activeState !== 'deactivating') {
      this.log(`${this.name}: Main process exited, ${describeExit(info)}`);
      this.lastMessage = `Main process exited, ${describeExit(info)}`;
    }
    if (this.activeState === 'deactivating' && this.subState !== 'stop-sigkill') {
      // systemd (service_sigchld_event): a main process that fails while the unit stops sets the
      // result, so the unit ends failed — e.g. `docker run` exiting 137 or 143 after `docker stop`.
      // Exits by the stop signal itself (SIGTERM, SIGINT, SIGHUP, SIGPIPE) count as clean.
      const result = this.classify(info);
      if (result !== 'success' && this.result === 'success') {
        this.result = result;
        this.log(`${this.name}: Main process exited, ${describeExit(info)}`);
        this.lastMessage = `Main process exited while stopping, ${describeExit(info)}`;
      }
    }
    if (this.activeState === 'activating' && (this.subState === 'start' || this.subState === 'start-post')) {
      if (info.spawnError) {
        // Like systemd for Type=exec: the start fails; for simple the unit fails right after.
        this.result = 'exit-code';
        this.startAbort?.abort();
        this.job = this.runStop({ execStop: false, manual: false }).catch(err => this.internalError(err));
        return;
      }
      this.mainExitDuringStart = info;
      return;
    }
    if (this.activeState === 'active' && this.subState === 'running') void this.mainGone(info);
  }

  private async mainGone(info: ExitInfo, silent = false): Promise<void> {
    const result = this.classify(info);
    if (!silent && result === 'success' && !this.lastMessage) this.lastMessage = `Main process exited, ${describeExit(info)}`;
    this.result = result;
    if (result === 'success' && this.config.remainAfterExit) {
      this.set('active', 'exited');
      return;
    }
    this.job = this.runStop({ execStop: true, manual: false }).catch(err => this.internalError(err));
  }

  private classify(info: ExitInfo): ServiceResult {
    if (this.mainIgnoresFailure) return 'success';
    if (info.spawnError) return 'exit-code';
    if (info.signal) return CLEAN_SIGNALS.has(info.signal) ? 'success' : 'signal';
    return this.succeeded(info, true) ? 'success' : 'exit-code';
  }

  private succeeded(info: ExitInfo, main: boolean): boolean {
    if (info.spawnError || info.signal) return false;
    return info.code === 0 || (main && info.code !== null && this.config.successExitStatus.includes(info.code));
  }

  private controlFailed(cmd: ExecCommand, info: ExitInfo, execStop: boolean): Promise<void> {
    if (info.spawnError) this.log(`${this.name}: ${info.spawnError}`);
    this.log(`${this.name}: Control process exited, ${describeExit(info)}`);
    this.lastMessage = `${cmd.path} exited, ${describeExit(info)}`;
    this.result = info.signal ? 'signal' : 'exit-code';
    return this.runStop({ execStop, manual: false, failedStart: true });
  }

  private timeoutDuringStart(execStop: boolean): Promise<void> {
    this.log(`${this.name}: ${this.subState} operation timed out after ${formatTimespan(this.config.timeoutStartMs)}. Terminating.`);
    this.lastMessage = `start operation timed out after ${formatTimespan(this.config.timeoutStartMs)} (TimeoutStartSec=)`;
    this.result = 'timeout';
    return this.runStop({ execStop, manual: false, failedStart: true });
  }

  private finishFailedStart(message: string, result: ServiceResult): Promise<void> {
    this.lastMessage = message;
    this.log(`${this.name}: ${message}`);
    this.result = result;
    return this.runStop({ execStop: false, manual: false, failedStart: true });
  }

  // ------------------------------------------------------------------ stop

  private async runStop(o: { execStop: boolean; manual: boolean; failedStart?: boolean }): Promise<void> {
    const c = this.config;
    this.startAbort = undefined;
    clearInterval(this.watcher);
    const manual = o.manual || this.stopping;
    const env = this.environment();
    const stopEnv = typeof env === 'string' ? { ...this.host.baseEnv } : env;
    stopEnv.SERVICE_RESULT = this.result;
    if (this.mainPid !== undefined) stopEnv.MAINPID = String(this.mainPid);
    if (manual && this.activeState === 'active') this.log(`Stopping ${c.description}...`);
    let deadline = this.host.now() + c.timeoutStopMs;
    if (o.execStop && c.execStop.length > 0) {
      this.set('deactivating', 'stop');
      for (const cmd of c.execStop) {
        const r = await this.runControl(cmd, stopEnv, deadline, undefined, 'stop');
        if (r.kind === 'timeout') {
          this.log(`${this.name}: Stopping timed out. Terminating.`);
          if (this.result === 'success') this.result = 'timeout';
          break;
        }
        if (r.kind === 'exited' && !this.succeeded(r.info, false) && !cmd.ignoreFailure) {
          this.log(`${this.name}: Control process exited, ${describeExit(r.info)}`);
          if (this.result === 'success') this.result = 'exit-code';
        }
      }
    }
    deadline = this.host.now() + c.timeoutStopMs;
    if (this.liveGroups().length > 0 || (this.externalMain !== undefined && pidAlive(this.externalMain))) {
      this.set('deactivating', 'stop-sigterm');
      if (!(await this.killAll(deadline)) && this.result === 'success') this.result = 'timeout';
    }
    if (c.execStopPost.length > 0) {
      this.set('deactivating', 'stop-post');
      stopEnv.SERVICE_RESULT = this.result;
      for (const cmd of c.execStopPost) {
        const r = await this.runControl(cmd, stopEnv, this.host.now() + c.timeoutStopMs, undefined, 'stop-post');
        if (r.kind !== 'exited') break;
      }
      if (this.liveGroups().length > 0) await this.killAll();
    }
    // Let the children's last output reach the journal before "Stopped …" (bounded: a pipe may be held open).
    const pending = [...this.procs].filter(p => !p.settled);
    if (pending.length > 0) await Promise.race([Promise.all(pending.map(p => p.exited)), sleep(1_000)]);
    this.main = undefined;
    this.mainPid = undefined;
    this.externalMain = undefined;
    this.stopping = false;

    if (this.result === 'success') {
      this.set('inactive', 'dead');
      this.log(manual ? `Stopped ${c.description}.` : `${this.name}: Deactivated successfully.`);
    } else {
      this.log(`${this.name}: Failed with result '${this.result}'.`);
      if (o.failedStart) this.log(`Failed to start ${c.description}.`);
      this.set('failed', 'failed');
    }
    if (!manual && this.shallRestart()) {
      this.set('activating', 'auto-restart');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.restarts++;
        this.log(`${this.name}: Scheduled restart job, restart counter is at ${this.restarts}.`);
        this.set(this.result === 'success' ? 'inactive' : 'failed', this.result === 'success' ? 'dead' : 'failed');
        this.beginStart();
      }, Math.min(c.restartMs, 2 ** 31 - 1));
      return;
    }
    if (this.pendingStart) {
      this.pendingStart = false;
      this.beginStart();
    }
  }

  private shallRestart(): boolean {
    const r = this.result;
    switch (this.config.restart) {
      case 'no': return false;
      case 'always': return r !== 'start-limit-hit';
      case 'on-success': return r === 'success';
      case 'on-failure': return r !== 'success' && r !== 'start-limit-hit';
      case 'on-abnormal': return r === 'signal' || r === 'timeout';
      case 'on-abort': return r === 'signal';
      case 'on-watchdog': return false;
    }
  }

  /**
   * KillSignal to every live group of the unit (and a forking main PID), then SIGKILL after the
   * deadline. Returns false when SIGKILL was needed.
   */
  async killAll(deadline = this.host.now() + this.config.timeoutStopMs): Promise<boolean> {
    const signal = (sig: NodeJS.Signals) => {
      for (const g of this.groups) sendGroup(g, sig);
      if (this.externalMain !== undefined) sendPid(this.externalMain, sig);
    };
    const alive = () => {
      for (const g of [...this.groups]) if (!groupAlive(g)) this.groups.delete(g);
      return this.groups.size > 0 || (this.externalMain !== undefined && pidAlive(this.externalMain));
    };
    if (!alive()) return true;
    signal(this.config.killSignal);
    if (this.config.killSignal !== 'SIGKILL') signal('SIGCONT');
    while (alive() && this.host.now() < deadline) await sleep(25);
    if (!alive()) return true;
    if (!this.config.sendSigkill) {
      this.log(`${this.name}: State '${this.subState}' timed out. Skipping SIGKILL (SendSIGKILL=no).`);
      return false;
    }
    this.log(`${this.name}: State '${this.subState}' timed out. Killing.`);
    this.lastMessage = `processes still running ${formatTimespan(this.config.timeoutStopMs)} after ${this.config.killSignal} (TimeoutStopSec=); killed with SIGKILL`;
    this.set('deactivating', 'stop-sigkill');
    signal('SIGKILL');
    const hard = this.host.now() + 5_000;
    while (alive() && this.host.now() < hard) await sleep(25);
    if (alive()) this.log(`${this.name}: Processes still around after SIGKILL. Ignoring.`);
    return false;
  }

  // ------------------------------------------------------------------ processes

  /** What a watchdog needs to stop this unit as runStop would, should fleetd die (see cli/watchdog.ts). */
  stopRecipe(): StopRecipe {
    const c = this.config;
    const env = this.environment();
    const stopEnv = typeof env === 'string' ? { ...this.host.baseEnv } : env;
    stopEnv.SERVICE_RESULT = 'success';
    if (this.mainPid !== undefined) stopEnv.MAINPID = String(this.mainPid);
    const wd = c.workingDirectory;
    const cwd = wd ? (wd.path === '~' ? (stopEnv.HOME ?? process.env.HOME ?? '/') : wd.path) : '/';
    return {
      unit: this.name, execStop: c.execStop, execStopPost: c.execStopPost, env: stopEnv, cwd,
      killSignal: c.killSignal, sendSigkill: c.sendSigkill, timeoutStopMs: c.timeoutStopMs,
      ...(this.credentials ? { credentials: this.credentials } : {}),
    };
  }

  /**
   * The environment for this start: base, the user's (User=), Environment=, then EnvironmentFile=
   * (which wins). Resolves the credentials for this start too. A string is an error.
   */
  private environment(): Record<string, string> | string {
    const c = this.config;
    const creds = resolveCredentials({ ...(c.user !== undefined ? { user: c.user } : {}), ...(c.group !== undefined ? { group: c.group } : {}), supplementaryGroups: c.supplementaryGroups });
    if (typeof creds === 'string') return creds;
    this.credentials = creds;
    const env: Record<string, string> = { ...this.host.baseEnv, ...creds?.env, INVOCATION_ID: this.invocation };
    for (const [k, v] of this.config.environment) env[k] = v;
    for (const f of this.config.environmentFiles) {
      let text: string;
      try {
        text = fs.readFileSync(f.path, 'utf8');
      } catch (err) {
        if (f.optional) continue;
        return `Failed to load environment file ${f.path}: ${(err as Error).message} (prefix the path with "-" to make it optional)`;
      }
      for (const [k, v] of parseEnvironmentFile(text).vars) env[k] = v;
    }
    return env;
  }

  private spawnProc(cmd: ExecCommand, env: Record<string, string>): Proc | undefined {
    const wd = this.config.workingDirectory;
    let cwd: string | undefined;
    if (wd) {
      const path = wd.path === '~' ? (env.HOME ?? process.env.HOME ?? '/') : wd.path;
      let ok = false;
      try {
        ok = fs.statSync(path).isDirectory();
      } catch {
        ok = false;
      }
      if (ok) cwd = path;
      else if (!wd.optional) {
        this.lastMessage = `Changing to the requested working directory ${path} failed: no such directory (status 200/CHDIR; prefix it with "-" to ignore)`;
        this.log(`${this.name}: ${this.lastMessage}`);
        return undefined;
      }
    }
    const argv = cmd.noEnvExpansion ? cmd.argv : expandEnvArgs(cmd.argv, env);
    const how = this.credentials ? spawnWith(this.credentials, cmd.path, argv.slice(1)) : { path: cmd.path, args: argv.slice(1) };
    if (typeof how === 'string') {
      this.lastMessage = how;
      this.log(`${this.name}: ${how}`);
      return undefined;
    }
    let child: ChildProcess;
    try {
      child = spawn(how.path, how.args, {
        argv0: how.path === cmd.path ? argv[0] ?? cmd.path : how.path, env, cwd: cwd ?? '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'],
        ...(how.uid !== undefined ? { uid: how.uid, gid: how.gid } : {}),
      });
    } catch (err) {
      this.lastMessage = `Failed to execute ${cmd.path}: ${(err as Error).message}`;
      this.log(`${this.name}: ${this.lastMessage}`);
      return undefined;
    }
    const out = new LineSplitter(l => this.host.journal.append(this.name, 'stdout', l));
    const errOut = new LineSplitter(l => this.host.journal.append(this.name, 'stderr', l));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => out.write(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => errOut.write(d));
    const proc: Proc = { pid: child.pid ?? -1, child, done: false, settled: false, exited: undefined as unknown as Promise<ExitInfo> };
    this.procs.add(proc);
    if (child.pid !== undefined) {
      this.groups.add(child.pid);
      this.host.onSpawn(child.pid);
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

  private async runControl(
    cmd: ExecCommand, env: Record<string, string>, deadline: number, signal: AbortSignal | undefined, phase: string,
  ): Promise<ControlOutcome & { pgid?: number }> {
    const proc = this.spawnProc(cmd, env);
    if (!proc) return { kind: 'exited', info: { code: 200, signal: null, spawnError: this.lastMessage ?? 'spawn failed' } };
    const remaining = deadline - this.host.now();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const outcome = await Promise.race<ControlOutcome>([
      proc.exited.then(info => ({ kind: 'exited' as const, info })),
      new Promise<ControlOutcome>(resolve => {
        if (remaining !== Infinity) timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, Math.min(remaining, 2 ** 31 - 1)));
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
    if (outcome.kind === 'timeout') this.log(`${this.name}: ${phase} process ${cmd.path} timed out.`);
    if (outcome.kind === 'exited' && outcome.info.spawnError) this.log(`${this.name}: ${outcome.info.spawnError}`);
    return { ...outcome, pgid: proc.pid };
  }
}

function spawned(child: ChildProcess): Promise<'spawned'> {
  return new Promise(resolve => child.once('spawn', () => resolve('spawned')));
}
