/**
 * A unit's exec-command sequences, as systemd runs them (src/core/service.c): a start phase's
 * commands in order (ExecStartPre=, a oneshot's ExecStart= lines, ExecStartPost=) until one is
 * aborted, times out or fails without the `-` prefix; ExecStop= in order until one times out;
 * ExecStopPost= in order, each within TimeoutStopSec=. One command is a control process of the
 * unit's (serviceProcess.ts); a command that cannot be started counts as systemd's status 200.
 * The Service state machine (service.ts) decides the states around them.
 */
import type { ExecCommand } from './commandLine';
import type { ExitInfo } from './processes';
import type { ServiceConfig } from './serviceConfig';
import { succeeded } from './serviceOutcome';
import type { ControlOutcome, UnitProcesses } from './serviceProcess';

/** How a start phase ended when it did not finish. */
export type PhaseEnd = { kind: 'aborted' } | { kind: 'timeout' } | { kind: 'failed'; cmd: ExecCommand; info: ExitInfo };

export class ServiceCommands {
  constructor(
    private readonly procs: UnitProcesses,
    /** The unit's configuration now (a reload replaces it). */
    private readonly config: () => ServiceConfig,
    private readonly now: () => number,
    /** A command that could not be started: its message is the unit's news. */
    private readonly onSpawnFailure: (message: string) => void,
  ) {}

  /**
   * A start phase's commands in order until one is aborted, times out or fails without the `-`
   * prefix; `main`: the commands are the main process's (SuccessExitStatus= applies).
   */
  async phase(
    cmds: readonly ExecCommand[],
    env: Record<string, string>,
    deadline: number,
    signal: AbortSignal,
    phase: string,
    main: boolean,
  ): Promise<PhaseEnd | { kind: 'done'; pgid?: number }> {
    let pgid: number | undefined;
    for (const cmd of cmds) {
      const r = await this.run(cmd, env, deadline, signal, phase);
      if (r.kind !== 'exited') return r;
      if (!this.succeeded(r.info, main) && !cmd.ignoreFailure) return { kind: 'failed', cmd, info: r.info };
      pgid = r.pgid;
    }
    return pgid === undefined ? { kind: 'done' } : { kind: 'done', pgid };
  }

  /**
   * ExecStop= in order until the deadline (TimeoutStopSec=) passes; `onFailed` hears of each
   * command that failed without the `-` prefix. Resolves 'timeout' when one ran out of time.
   */
  async stop(env: Record<string, string>, deadline: number, onFailed: (info: ExitInfo) => void): Promise<'done' | 'timeout'> {
    for (const cmd of this.config().execStop) {
      const r = await this.run(cmd, env, deadline, undefined, 'stop');
      if (r.kind === 'timeout') return 'timeout';
      if (r.kind === 'exited' && !this.succeeded(r.info, false) && !cmd.ignoreFailure) onFailed(r.info);
    }
    return 'done';
  }

  /** ExecStopPost= in order, each within TimeoutStopSec=, until one does not exit in time. */
  async stopPost(env: Record<string, string>): Promise<void> {
    const c = this.config();
    for (const cmd of c.execStopPost) {
      const r = await this.run(cmd, env, this.now() + c.timeoutStopMs, undefined, 'stop-post');
      if (r.kind !== 'exited') break;
    }
  }

  /** One control process; one that cannot be started exits with status 200 and its reason. */
  async run(
    cmd: ExecCommand,
    env: Record<string, string>,
    deadline: number,
    signal: AbortSignal | undefined,
    phase: string,
  ): Promise<ControlOutcome & { pgid?: number }> {
    const r = await this.procs.control(cmd, env, this.config().workingDirectory, { deadline, now: this.now }, signal, phase);
    if (typeof r !== 'string') return r;
    this.onSpawnFailure(r);
    return { kind: 'exited', info: { code: 200, signal: null, spawnError: r } };
  }

  private succeeded(info: ExitInfo, main: boolean): boolean {
    return succeeded(info, main, this.config().successExitStatus);
  }
}
