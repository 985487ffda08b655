/**
 * One unit run by the process unit manager: systemd's service state machine (src/core/service.c)
 * reduced to what matters without cgroups. Every process runs in its own process group; the
 * unit's processes are the groups it started (plus a forking daemon's main PID), and stopping
 * signals all of them: KillSignal, then SIGKILL after TimeoutStopSec.
 *
 * Limits (documented, not silent): a forking daemon that calls setsid() leaves its group and is
 * only tracked through PIDFile= (or the main-PID guess); its exit status cannot be observed.
 */
import { errorMessage } from '../../../protocol/src/log';
import type { ExecCommand } from './commandLine';
import { ServiceCommands, type PhaseEnd } from './serviceCommands';
import type { ServiceConfig } from './serviceConfig';
import { classify, shallRestart, startLimit, startRefusal, type ActiveState, type ServiceResult, type SubState } from './serviceOutcome';
import { spawned, stopRecipeOf, UnitProcesses, type Proc, type ServiceHost, type StopRecipe } from './serviceProcess';
import { formatTimespan } from './timespan';
import { describeExit, invocationId, type ExitInfo } from './processes';

export type { ActiveState, ServiceResult, SubState } from './serviceOutcome';
export type { ExitInfo } from './processes';
export { SYSTEMD_PATH, type ServiceHost, type StopRecipe } from './serviceProcess';

export class Service {
  activeState: ActiveState = 'inactive';
  subState: SubState = 'dead';
  result: ServiceResult = 'success';
  restarts = 0;
  /** The last thing worth telling the user (a failed start, an exit status). */
  lastMessage: string | undefined;
  mainPid: number | undefined;
  /** The unit's process groups, children and forking main PID. */
  private readonly procs: UnitProcesses;
  /** ExecStartPre=, ExecStart= of a oneshot or forking unit, ExecStartPost=, ExecStop=, ExecStopPost=. */
  private readonly commands: ServiceCommands;
  private main: Proc | undefined;
  private mainExitDuringStart: ExitInfo | undefined;
  private job: Promise<void> | undefined;
  private startAbort: AbortController | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private pendingStart = false;
  /** Counts start() calls, so a stop() in progress can tell that a newer start replaced it. */
  private startRequests = 0;
  private stopping = false;
  private startTimes: number[] = [];
  private invocation = invocationId();
  /** The main command had the `-` prefix: its failure counts as success. */
  private mainIgnoresFailure = false;

  constructor(
    readonly name: string,
    public config: ServiceConfig,
    public hash: string,
    private readonly host: ServiceHost,
  ) {
    this.procs = new UnitProcesses(name, host.journal, pgid => host.onSpawn(pgid));
    this.commands = new ServiceCommands(
      this.procs,
      () => this.config,
      () => host.now(),
      message => (this.lastMessage = message),
    );
  }

  get loadState(): string {
    return this.config.masked ? 'masked' : this.config.errors.length > 0 ? 'bad-setting' : 'loaded';
  }

  /** PIDs of process groups this unit still has (for tests and diagnostics). */
  liveGroups(): number[] {
    return this.procs.liveGroups();
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
    const refusal = startRefusal(this.name, this.config);
    if (refusal) return this.fail(refusal.message, refusal.result);
    const limit = startLimit(this.config, this.startTimes, this.host.now());
    this.startTimes = limit.startTimes;
    if (limit.refusal) {
      this.log(`${this.name}: Start request repeated too quickly.`);
      return this.fail(limit.refusal.message, limit.refusal.result);
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
    for (const g of groups) this.procs.groups.add(g);
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
    const message = errorMessage(err);
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
    this.procs.externalMain = undefined;
    this.mainIgnoresFailure = false;
    this.invocation = invocationId();
    const c = this.config;
    const deadline = this.host.now() + c.timeoutStartMs;
    this.set('activating', 'start-pre');
    this.log(`Starting ${c.description}...`);
    const env = this.environment();
    if (typeof env === 'string') return this.finishFailedStart(env, 'resources');

    const pre = await this.commands.phase(c.execStartPre, env, deadline, abort.signal, 'start-pre', false);
    if (pre.kind !== 'done') return this.endStart(pre, false);

    this.set('activating', 'start');
    if (c.type === 'oneshot' || c.type === 'forking') {
      const r = await this.commands.phase(c.type === 'oneshot' ? c.execStart : [c.execStart[0]!], env, deadline, abort.signal, 'start', true);
      if (r.kind === 'failed' && c.type === 'oneshot') this.log(`${this.name}: Main process exited, ${describeExit(r.info)}`);
      if (r.kind !== 'done') return this.endStart(r, false);
      if (c.type === 'forking') await this.superviseForked(r.pgid, deadline);
    } else {
      const cmd = c.execStart[0]!;
      const proc = this.procs.spawn(cmd, env, c.workingDirectory);
      if (typeof proc === 'string') return this.finishFailedStart(proc, 'exit-code');
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
      const post = await this.commands.phase(c.execStartPost, env, deadline, abort.signal, 'start-post', false);
      if (post.kind !== 'done') return this.endStart(post, true);
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
    if (c.type === 'forking' && this.procs.externalMain === undefined && this.liveGroups().length === 0) {
      return this.mainGone({ code: 0, signal: null });
    }
  }

  /** A start phase that did not finish ends the start (`execStop`: the unit got as far as ExecStartPost=). */
  private endStart(r: PhaseEnd, execStop: boolean): Promise<void> {
    if (r.kind === 'aborted') return this.runStop({ execStop, manual: true });
    if (r.kind === 'timeout') return this.timeoutDuringStart(execStop);
    return this.controlFailed(r.cmd, r.info, execStop);
  }

  /** A forking unit's main process is not our child: find it, then poll it (and its groups) until it is gone. */
  private async superviseForked(pgid: number | undefined, deadline: number): Promise<void> {
    this.mainPid = await this.procs.findForkedMain(this.config, pgid, Math.min(deadline, this.host.now() + 2_000), () => this.host.now());
    this.procs.supervise(
      () => this.activeState === 'active' && this.subState === 'running',
      () => {
        this.log(`${this.name}: Main process exited (not a child of fleetd: exit status unknown).`);
        void this.mainGone({ code: 0, signal: null }, true);
      },
    );
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
    return classify(info, { ignoresFailure: this.mainIgnoresFailure, successExitStatus: this.config.successExitStatus });
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
    this.procs.unsupervise();
    const manual = o.manual || this.stopping;
    const env = this.environment();
    const stopEnv = typeof env === 'string' ? { ...this.host.baseEnv } : env;
    stopEnv.SERVICE_RESULT = this.result;
    if (this.mainPid !== undefined) stopEnv.MAINPID = String(this.mainPid);
    if (manual && this.activeState === 'active') this.log(`Stopping ${c.description}...`);
    let deadline = this.host.now() + c.timeoutStopMs;
    if (o.execStop && c.execStop.length > 0) {
      this.set('deactivating', 'stop');
      const stopped = await this.commands.stop(stopEnv, deadline, info => {
        this.log(`${this.name}: Control process exited, ${describeExit(info)}`);
        if (this.result === 'success') this.result = 'exit-code';
      });
      if (stopped === 'timeout') {
        this.log(`${this.name}: Stopping timed out. Terminating.`);
        if (this.result === 'success') this.result = 'timeout';
      }
    }
    deadline = this.host.now() + c.timeoutStopMs;
    if (this.procs.anyAlive()) {
      this.set('deactivating', 'stop-sigterm');
      if (!(await this.killAll(deadline)) && this.result === 'success') this.result = 'timeout';
    }
    if (c.execStopPost.length > 0) {
      this.set('deactivating', 'stop-post');
      stopEnv.SERVICE_RESULT = this.result;
      await this.commands.stopPost(stopEnv);
      if (this.liveGroups().length > 0) await this.killAll();
    }
    // Let the children's last output reach the journal before "Stopped …".
    await this.procs.settled(1_000);
    this.main = undefined;
    this.mainPid = undefined;
    this.procs.externalMain = undefined;
    this.stopping = false;

    if (this.result === 'success') {
      this.set('inactive', 'dead');
      this.log(manual ? `Stopped ${c.description}.` : `${this.name}: Deactivated successfully.`);
    } else {
      this.log(`${this.name}: Failed with result '${this.result}'.`);
      if (o.failedStart) this.log(`Failed to start ${c.description}.`);
      this.set('failed', 'failed');
    }
    if (!manual && shallRestart(c.restart, this.result)) {
      this.set('activating', 'auto-restart');
      this.restartTimer = setTimeout(
        () => {
          this.restartTimer = undefined;
          this.restarts++;
          this.log(`${this.name}: Scheduled restart job, restart counter is at ${this.restarts}.`);
          this.set(this.result === 'success' ? 'inactive' : 'failed', this.result === 'success' ? 'dead' : 'failed');
          this.beginStart();
        },
        Math.min(c.restartMs, 2 ** 31 - 1),
      );
      return;
    }
    if (this.pendingStart) {
      this.pendingStart = false;
      this.beginStart();
    }
  }

  /**
   * KillSignal to every live group of the unit (and a forking main PID), then SIGKILL after the
   * deadline. Returns false when SIGKILL was needed.
   */
  async killAll(deadline = this.host.now() + this.config.timeoutStopMs): Promise<boolean> {
    const c = this.config;
    return this.procs.kill({ killSignal: c.killSignal, sendSigkill: c.sendSigkill, deadline, now: () => this.host.now(), state: () => this.subState }, () => {
      this.lastMessage = `processes still running ${formatTimespan(c.timeoutStopMs)} after ${c.killSignal} (TimeoutStopSec=); killed with SIGKILL`;
      this.set('deactivating', 'stop-sigkill');
    });
  }

  // ------------------------------------------------------------------ processes

  /** What a watchdog needs to stop this unit as runStop would, should fleetd die (see cli/watchdog.ts). */
  stopRecipe(): StopRecipe {
    const env = this.environment();
    return stopRecipeOf(this.name, this.config, typeof env === 'string' ? { ...this.host.baseEnv } : env, this.mainPid, this.procs.credentials);
  }

  /** The environment for this start (see serviceEnvironment); its credentials go with the processes. A string is an error. */
  private environment(): Record<string, string> | string {
    return this.procs.environment(this.config, this.host.baseEnv, this.invocation);
  }
}
