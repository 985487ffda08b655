/**
 * systemd's outcome rules for a service (src/core/service.c), as pure functions: what an exit
 * means (`succeeded`, `classify`) and whether a result restarts the unit (`shallRestart`). The
 * Service state machine (service.ts) asks these; they read no clock and touch no process.
 */
import type { ExitInfo } from './processes';
import type { RestartPolicy, ServiceConfig } from './serviceConfig';
import { formatTimespan } from './timespan';

export type ActiveState = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';
export type SubState =
  'dead' | 'start-pre' | 'start' | 'start-post' | 'running' | 'exited' | 'stop' | 'stop-sigterm' | 'stop-sigkill' | 'stop-post' | 'failed' | 'auto-restart';
export type ServiceResult = 'success' | 'exit-code' | 'signal' | 'timeout' | 'start-limit-hit' | 'resources';

/** Signals a main process may die of and still count as a clean exit (systemd's default SuccessExitStatus=). */
const CLEAN_SIGNALS: ReadonlySet<string> = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']);

/**
 * Whether a process ended well: status 0, or for the main process a status listed in
 * SuccessExitStatus=. A signal or a failed exec never succeeds here (see classify for the main
 * process's clean signals).
 */
export function succeeded(info: ExitInfo, main: boolean, successExitStatus: readonly number[]): boolean {
  if (info.spawnError || info.signal) return false;
  return info.code === 0 || (main && info.code !== null && successExitStatus.includes(info.code));
}

/**
 * The service result a main process's exit gives: `success` when its command had the `-` prefix
 * (`ignoresFailure`) or it died of a clean signal, `exit-code` for a failed exec or a status
 * that is not a success, `signal` for any other signal.
 */
export function classify(info: ExitInfo, o: { ignoresFailure: boolean; successExitStatus: readonly number[] }): ServiceResult {
  if (o.ignoresFailure) return 'success';
  if (info.spawnError) return 'exit-code';
  if (info.signal) return CLEAN_SIGNALS.has(info.signal) ? 'success' : 'signal';
  return succeeded(info, true, o.successExitStatus) ? 'success' : 'exit-code';
}

/** systemd's Restart= table: whether a unit that stopped on its own with `result` is started again. */
export function shallRestart(policy: RestartPolicy, result: ServiceResult): boolean {
  switch (policy) {
    case 'no':
      return false;
    case 'always':
      return result !== 'start-limit-hit';
    case 'on-success':
      return result === 'success';
    case 'on-failure':
      return result !== 'success' && result !== 'start-limit-hit';
    case 'on-abnormal':
      return result === 'signal' || result === 'timeout';
    case 'on-abort':
      return result === 'signal';
    case 'on-watchdog':
      return false;
  }
}

export interface StartRefusal {
  message: string;
  result: ServiceResult;
}

/** Why a unit cannot start at all (masked, a kind this manager does not run, bad settings); undefined when it can. */
export function startRefusal(name: string, config: Pick<ServiceConfig, 'masked' | 'kind' | 'errors'>): StartRefusal | undefined {
  if (config.masked) return { message: `Unit ${name} is masked: its unit file is empty; submit the unit with its options`, result: 'resources' };
  if (config.kind === 'other') {
    return {
      message: `the process unit manager cannot run ${name.slice(name.lastIndexOf('.'))} units; only .service and .target units run here`,
      result: 'resources',
    };
  }
  if (config.errors.length > 0) return { message: `Unit ${name} has a bad unit file setting: ${config.errors.join('; ')}`, result: 'resources' };
  return undefined;
}

/**
 * StartLimitIntervalSec=/StartLimitBurst=: the start times still inside the interval at `now`
 * (this start's included when it may go ahead), and the refusal once the burst is used up.
 */
export function startLimit(
  config: Pick<ServiceConfig, 'startLimitIntervalMs' | 'startLimitBurst'>,
  startTimes: readonly number[],
  now: number,
): { startTimes: number[]; refusal?: StartRefusal } {
  const { startLimitIntervalMs: interval, startLimitBurst: burst } = config;
  if (interval <= 0 || burst <= 0) return { startTimes: [...startTimes] };
  const recent = startTimes.filter(t => now - t < interval);
  if (recent.length >= burst) {
    return {
      startTimes: recent,
      refusal: {
        message: `Start request repeated too quickly (${burst} starts within ${formatTimespan(interval)}; StartLimitBurst=/StartLimitIntervalSec=)`,
        result: 'start-limit-hit',
      },
    };
  }
  return { startTimes: [...recent, now] };
}
