/**
 * A unit's options → what the process unit manager will do with them: the service settings it
 * implements (systemd.service(5) semantics and defaults), the load errors that make the unit
 * `bad-setting` (systemd's "Refusing." cases), and every directive that would matter but is not
 * implemented, so the unit's state detail names them instead of ignoring them silently.
 */
import type { UnitOption } from '../../../unitfile/src/serialize';
import { UnitNameInfo } from '../../../unitfile/src/unitName';
import { parseExecLine, parseEnvironment, type ExecCommand } from './commandLine';
import { emptyDeps, isDependencyKey, parseDependencyValue, type UnitDeps } from './dependencies';
import { expandSpecifiers, type SpecifierContext } from './specifiers';
import { parseTimeout, parseTimespan } from './timespan';

export type ServiceType = 'simple' | 'exec' | 'oneshot' | 'forking';
export type RestartPolicy = 'no' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-abort' | 'on-watchdog' | 'always';
const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-abort', 'on-watchdog', 'always'];

export interface ServiceConfig {
  /** `service` runs processes; `target` only changes state; anything else cannot be run here. */
  kind: 'service' | 'target' | 'other';
  description: string;
  type: ServiceType;
  execStartPre: ExecCommand[];
  execStart: ExecCommand[];
  execStartPost: ExecCommand[];
  execStop: ExecCommand[];
  execStopPost: ExecCommand[];
  remainAfterExit: boolean;
  restart: RestartPolicy;
  restartMs: number;
  startLimitIntervalMs: number;
  startLimitBurst: number;
  timeoutStartMs: number;
  timeoutStopMs: number;
  killSignal: NodeJS.Signals;
  sendSigkill: boolean;
  /** Environment= assignments in order (later wins). */
  environment: [string, string][];
  /** EnvironmentFile= paths; `optional` for the `-` prefix. Read at each start. */
  environmentFiles: { path: string; optional: boolean }[];
  workingDirectory?: { path: string; optional: boolean };
  pidFile?: string;
  guessMainPid: boolean;
  /** User=, Group=, SupplementaryGroups= (see credentials.ts). */
  user?: string;
  group?: string;
  supplementaryGroups: string[];
  /** Extra exit statuses counted as success (SuccessExitStatus=). */
  successExitStatus: number[];
  /** An empty unit file: systemd reports such a unit as masked and refuses to start it. */
  masked: boolean;
  /** Why the unit cannot be started (load state bad-setting). */
  errors: string[];
  /** [Unit] dependencies on other units of the machine (dependencies.ts). */
  deps: UnitDeps;
  /** Directives that would matter but are not implemented, e.g. `User=`. */
  unsupported: string[];
  /** Values that were invalid and ignored (systemd logs and ignores these too). */
  notes: string[];
}

/** systemd's defaults. */
export const SERVICE_DEFAULTS = {
  restartMs: 100,
  startLimitIntervalMs: 10_000,
  startLimitBurst: 5,
  timeoutStartMs: 90_000,
  timeoutStopMs: 90_000,
} as const;

/** [Unit] keys that change nothing for a process manager that starts what fleet tells it to. */
const HARMLESS_UNIT = new Set([
  'Description',
  'Documentation',
  'DefaultDependencies',
  'StartLimitIntervalSec',
  'StartLimitInterval',
  'StartLimitBurst',
  'SourcePath',
]);
/** [Service] keys implemented here (or harmless because output is always captured). */
const SERVICE_KEYS = new Set([
  'Type',
  'ExecStartPre',
  'ExecStart',
  'ExecStartPost',
  'ExecStop',
  'ExecStopPost',
  'RemainAfterExit',
  'Restart',
  'RestartSec',
  'TimeoutStartSec',
  'TimeoutStopSec',
  'TimeoutSec',
  'KillSignal',
  'SendSIGKILL',
  'KillMode',
  'Environment',
  'EnvironmentFile',
  'WorkingDirectory',
  'PIDFile',
  'GuessMainPID',
  'SuccessExitStatus',
  'StartLimitInterval',
  'StartLimitBurst',
  'StartLimitIntervalSec',
  'StandardOutput',
  'StandardError',
  'SyslogIdentifier',
  'User',
  'Group',
  'SupplementaryGroups',
]);
const SIGNALS = new Set([
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGKILL',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGABRT',
  'SIGCONT',
  'SIGSTOP',
  'SIGPIPE',
  'SIGALRM',
  'SIGWINCH',
]);

const YES = new Set(['1', 'yes', 'y', 'true', 't', 'on']);
const NO = new Set(['0', 'no', 'n', 'false', 'f', 'off']);

export function parseServiceConfig(unitName: string, options: readonly UnitOption[], ctx: SpecifierContext): ServiceConfig {
  const suffix = UnitNameInfo.parse(unitName)?.suffix ?? '';
  const c: ServiceConfig = {
    kind: suffix === '.service' ? 'service' : suffix === '.target' ? 'target' : 'other',
    description: unitName,
    type: 'simple',
    execStartPre: [],
    execStart: [],
    execStartPost: [],
    execStop: [],
    execStopPost: [],
    remainAfterExit: false,
    restart: 'no',
    restartMs: SERVICE_DEFAULTS.restartMs,
    startLimitIntervalMs: SERVICE_DEFAULTS.startLimitIntervalMs,
    startLimitBurst: SERVICE_DEFAULTS.startLimitBurst,
    timeoutStartMs: SERVICE_DEFAULTS.timeoutStartMs,
    timeoutStopMs: SERVICE_DEFAULTS.timeoutStopMs,
    killSignal: 'SIGTERM',
    sendSigkill: true,
    environment: [],
    environmentFiles: [],
    guessMainPid: true,
    supplementaryGroups: [],
    successExitStatus: [],
    masked: options.length === 0,
    deps: emptyDeps(),
    errors: [],
    unsupported: [],
    notes: [],
  };
  if (c.masked) return c;
  const unknownSpecifiers = new Set<string>();
  const expand = (v: string) => expandSpecifiers(v, ctx, unknownSpecifiers);
  const unsupported = (what: string) => {
    if (!c.unsupported.includes(what)) c.unsupported.push(what);
  };
  const bool = (o: UnitOption, set: (v: boolean) => void) => {
    const v = o.value.trim().toLowerCase();
    if (YES.has(v)) set(true);
    else if (NO.has(v)) set(false);
    else c.notes.push(`${o.name}=${o.value} is not a boolean; ignored`);
  };
  const span = (o: UnitOption, set: (ms: number) => void, timeout = false) => {
    const v = timeout ? parseTimeout(o.value) : parseTimespan(o.value);
    if (v === undefined) c.notes.push(`${o.name}=${o.value} is not a time span (e.g. 90s, 1min 30s, infinity); ignored`);
    else set(v);
  };
  const exec = (o: UnitOption, list: ExecCommand[]) => {
    if (o.value.trim() === '') return void list.splice(0);
    const r = parseExecLine(expand(o.value));
    if (r.error !== undefined) return void c.errors.push(`${o.name}=${o.value}: ${r.error}`);
    for (const p of r.command.unsupportedPrefixes) unsupported(`${o.name} prefix "${p}" (commands run as the fleetd user)`);
    list.push(r.command);
  };
  const execKeys: Record<string, ExecCommand[]> = {
    ExecStartPre: c.execStartPre,
    ExecStart: c.execStart,
    ExecStartPost: c.execStartPost,
    ExecStop: c.execStop,
    ExecStopPost: c.execStopPost,
  };

  for (const o of options) {
    if (o.section === 'X-Fleet') continue;
    if (o.section === 'Install') {
      unsupported('[Install] (the unit is started only by fleet, never enabled)');
      continue;
    }
    if (o.section === 'Unit') {
      if (o.name === 'Description') c.description = expand(o.value) || unitName;
      else if (o.name === 'StartLimitIntervalSec' || o.name === 'StartLimitInterval') span(o, v => (c.startLimitIntervalMs = v));
      else if (o.name === 'StartLimitBurst') burst(o);
      else if (isDependencyKey(o.name)) {
        // An empty assignment resets the list, as in systemd.
        if (o.value.trim() === '') c.deps[o.name] = [];
        const r = parseDependencyValue(o.name, expand(o.value), unitName);
        for (const n of r.names) if (!c.deps[o.name].includes(n)) c.deps[o.name].push(n);
        c.notes.push(...r.notes);
      } else if (!HARMLESS_UNIT.has(o.name)) unsupported(`${o.name}=`);
      continue;
    }
    if (o.section !== 'Service' || c.kind !== 'service') {
      unsupported(`[${o.section}] ${o.name}=`);
      continue;
    }
    const list = execKeys[o.name];
    if (list) {
      exec(o, list);
      continue;
    }
    const v = o.value.trim();
    switch (o.name) {
      case 'Type':
        if (v === 'simple' || v === 'exec' || v === 'oneshot' || v === 'forking') c.type = v;
        else if (v === 'idle') c.type = 'simple';
        else if (v === 'notify' || v === 'notify-reload' || v === 'dbus') {
          c.type = 'simple';
          unsupported(`Type=${v} (run as Type=simple: ready as soon as it starts)`);
        } else c.notes.push(`Type=${o.value} is not a service type; using simple`);
        break;
      case 'RemainAfterExit':
        bool(o, b => (c.remainAfterExit = b));
        break;
      case 'GuessMainPID':
        bool(o, b => (c.guessMainPid = b));
        break;
      case 'SendSIGKILL':
        bool(o, b => (c.sendSigkill = b));
        break;
      case 'Restart':
        if ((RESTART_POLICIES as readonly string[]).includes(v)) c.restart = v as RestartPolicy;
        else c.notes.push(`Restart=${o.value} is not one of ${RESTART_POLICIES.join(', ')}; using no`);
        break;
      case 'RestartSec':
        span(o, ms => (c.restartMs = ms));
        break;
      case 'TimeoutStartSec':
        span(o, ms => (c.timeoutStartMs = ms), true);
        break;
      case 'TimeoutStopSec':
        span(o, ms => (c.timeoutStopMs = ms), true);
        break;
      case 'TimeoutSec':
        span(o, ms => (c.timeoutStartMs = c.timeoutStopMs = ms), true);
        break;
      case 'StartLimitInterval':
      case 'StartLimitIntervalSec':
        span(o, ms => (c.startLimitIntervalMs = ms));
        break;
      case 'StartLimitBurst':
        burst(o);
        break;
      case 'KillSignal': {
        const name = (v.startsWith('SIG') ? v : `SIG${v}`).toUpperCase();
        if (SIGNALS.has(name)) c.killSignal = name as NodeJS.Signals;
        else c.notes.push(`KillSignal=${o.value} is not a signal name; using SIGTERM`);
        break;
      }
      case 'KillMode':
        if (v !== 'control-group') unsupported(`KillMode=${v} (every process of the unit is signalled, as control-group)`);
        break;
      case 'Environment': {
        if (v === '') {
          c.environment = [];
          break;
        }
        const env = parseEnvironment(expand(o.value));
        c.environment.push(...env.vars);
        for (const bad of env.invalid) c.notes.push(`Environment= entry ${JSON.stringify(bad)} is not NAME=value; ignored`);
        break;
      }
      case 'EnvironmentFile':
        if (v === '') c.environmentFiles = [];
        else {
          const optional = v.startsWith('-');
          c.environmentFiles.push({ path: expand(optional ? v.slice(1) : v), optional });
        }
        break;
      case 'WorkingDirectory': {
        if (v === '') {
          delete c.workingDirectory;
          break;
        }
        const optional = v.startsWith('-');
        c.workingDirectory = { path: expand(optional ? v.slice(1) : v), optional };
        break;
      }
      case 'PIDFile':
        c.pidFile = expand(v);
        break;
      case 'SuccessExitStatus':
        for (const w of v.split(/\s+/).filter(Boolean)) {
          if (/^\d+$/.test(w) && Number(w) < 256) c.successExitStatus.push(Number(w));
          else unsupported(`SuccessExitStatus=${w} (only exit codes 0-255 are supported)`);
        }
        break;
      case 'User':
      case 'Group': {
        const value = expand(v.trim());
        const key = o.name === 'User' ? 'user' : 'group';
        if (value === '') delete c[key];
        else c[key] = value;
        break;
      }
      case 'SupplementaryGroups':
        if (v.trim() === '') c.supplementaryGroups = [];
        else c.supplementaryGroups.push(...expand(v).split(/\s+/).filter(Boolean));
        break;
      case 'StandardOutput':
      case 'StandardError':
        if (!['', 'journal', 'inherit', 'journal+console', 'syslog', 'kmsg'].includes(v)) unsupported(`${o.name}=${v} (output always goes to the journal)`);
        break;
      default:
        if (!SERVICE_KEYS.has(o.name)) unsupported(`${o.name}=`);
    }
  }

  function burst(o: UnitOption): void {
    if (/^\d+$/.test(o.value.trim())) c.startLimitBurst = Number(o.value.trim());
    else c.notes.push(`${o.name}=${o.value} is not a number; ignored`);
  }

  if (c.kind === 'service') {
    if (c.execStart.length === 0 && !(c.type === 'oneshot' && c.remainAfterExit)) {
      c.errors.push(
        c.type === 'oneshot'
          ? 'Service has no ExecStart= and no RemainAfterExit=yes; add an ExecStart= line'
          : `Service has no ExecStart= setting, which is only allowed for Type=oneshot services; add ExecStart=/path/to/program`,
      );
    }
    if (c.execStart.length > 1 && c.type !== 'oneshot') {
      c.errors.push('Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services; use one ExecStart= or Type=oneshot');
    }
    if (c.type === 'oneshot' && (c.restart === 'always' || c.restart === 'on-success')) {
      c.errors.push(`Service has Restart=${c.restart}, which isn't allowed for Type=oneshot services; use Restart=on-failure or no`);
    }
  }
  for (const s of unknownSpecifiers) unsupported(`specifier ${s} (left as written)`);
  return c;
}
