/**
 * A small built-in catalog: the most used directives of the common sections. It serves until the
 * generated systemd catalog is wired (systemdCatalog.ts) and as a fallback for its gaps.
 */
import type { Directive, SectionInfo, ValueKind } from '../../../unitfile/src/systemd/types';
import type { DirectiveCatalog, SpecifierInfo } from './catalog';

const MAN = 'https://www.freedesktop.org/software/systemd/man/latest';

const section = (name: string, unitTypes: string[], description: string, page: string): SectionInfo =>
  ({ name, unitTypes, description, docUrl: `${MAN}/${page}.html` });

const SECTIONS: SectionInfo[] = [
  section('Unit', ['*'], 'Generic information about the unit: description, documentation and dependencies.', 'systemd.unit'),
  section('Install', ['*'], 'How `systemctl enable` installs the unit (fleet does not enable units).', 'systemd.unit'),
  section('Service', ['service'], 'How the service process is started, stopped and supervised.', 'systemd.service'),
  section('Socket', ['socket'], 'The sockets systemd listens on for socket activation.', 'systemd.socket'),
  section('Timer', ['timer'], 'When the timer elapses and which unit it activates.', 'systemd.timer'),
  section('Path', ['path'], 'The paths watched for path-based activation.', 'systemd.path'),
  section('Mount', ['mount'], 'The file system mount point the unit controls.', 'systemd.mount'),
  section('Automount', ['automount'], 'An on-demand mount point.', 'systemd.automount'),
  section('Swap', ['swap'], 'A swap device or file.', 'systemd.swap'),
  section('Slice', ['slice'], 'Resource settings for a slice of the cgroup tree.', 'systemd.slice'),
  section('Scope', ['scope'], 'Resource settings for externally created processes.', 'systemd.scope'),
];

type Row = [name: string, kind: ValueKind, description: string, values?: string[], multiple?: boolean];

const rows: Record<string, { page: string; rows: Row[] }> = {
  Unit: { page: 'systemd.unit', rows: [
    ['Description', 'string', 'A short human readable title of the unit.'],
    ['Documentation', 'string', 'URIs of documentation for the unit.', undefined, true],
    ['Requires', 'units', 'Units that must be active too; if they fail to start, this unit is not started.', undefined, true],
    ['Wants', 'units', 'Units started together with this one; their failure does not matter.', undefined, true],
    ['BindsTo', 'units', 'Like Requires=, and this unit stops when the other stops.', undefined, true],
    ['PartOf', 'units', 'Stopping or restarting the listed units also stops or restarts this one.', undefined, true],
    ['Conflicts', 'units', 'Units that are stopped when this one starts, and the reverse.', undefined, true],
    ['Before', 'units', 'Order this unit to start before the listed units.', undefined, true],
    ['After', 'units', 'Order this unit to start after the listed units.', undefined, true],
    ['OnFailure', 'units', 'Units activated when this unit enters the failed state.', undefined, true],
    ['StartLimitIntervalSec', 'timespan', 'The interval over which start attempts are counted.'],
    ['StartLimitBurst', 'integer', 'How many starts are allowed within StartLimitIntervalSec=.'],
    ['ConditionPathExists', 'path', 'Start only if this path exists (prefix with ! to negate).', undefined, true],
  ] },
  Install: { page: 'systemd.unit', rows: [
    ['WantedBy', 'units', 'Units that get a Wants= dependency on this one when enabled.', undefined, true],
    ['RequiredBy', 'units', 'Units that get a Requires= dependency on this one when enabled.', undefined, true],
    ['Alias', 'string', 'Additional names the unit is installed under.', undefined, true],
    ['Also', 'units', 'Units enabled or disabled together with this one.', undefined, true],
  ] },
  Service: { page: 'systemd.service', rows: [
    ['Type', 'enum', 'How systemd decides that the service finished starting.', ['simple', 'exec', 'forking', 'oneshot', 'dbus', 'notify', 'notify-reload', 'idle']],
    ['ExecStartPre', 'command', 'Commands run before ExecStart=.', undefined, true],
    ['ExecStart', 'command', 'The command that starts the service.', undefined, true],
    ['ExecStartPost', 'command', 'Commands run after ExecStart= has started.', undefined, true],
    ['ExecReload', 'command', 'The command that reloads the service configuration.', undefined, true],
    ['ExecStop', 'command', 'The command that stops the service.', undefined, true],
    ['ExecStopPost', 'command', 'Commands run after the service stopped.', undefined, true],
    ['Restart', 'enum', 'When the service is restarted after its process exits.', ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always']],
    ['RestartSec', 'timespan', 'How long to wait before restarting the service.'],
    ['TimeoutStartSec', 'timespan', 'How long to wait for the start-up to finish.'],
    ['TimeoutStopSec', 'timespan', 'How long to wait for the service to stop.'],
    ['RemainAfterExit', 'boolean', 'Whether the service counts as active after its processes exited.'],
    ['User', 'user', 'The user the processes run as.'],
    ['Group', 'user', 'The group the processes run as.'],
    ['WorkingDirectory', 'path', 'The working directory of the processes.'],
    ['Environment', 'environment', 'Environment variables for the processes.', undefined, true],
    ['EnvironmentFile', 'path', 'A file of environment variables (prefix with - to ignore a missing file).', undefined, true],
    ['KillMode', 'enum', 'Which processes are killed when the unit stops.', ['control-group', 'mixed', 'process', 'none']],
    ['KillSignal', 'signal', 'The signal sent first to stop the service.'],
    ['PIDFile', 'path', 'The PID file of a forking service.'],
    ['StandardOutput', 'enum', 'Where standard output goes.', ['inherit', 'null', 'tty', 'journal', 'kmsg', 'journal+console', 'kmsg+console', 'socket']],
    ['StandardError', 'enum', 'Where standard error goes.', ['inherit', 'null', 'tty', 'journal', 'kmsg', 'journal+console', 'kmsg+console', 'socket']],
  ] },
  Timer: { page: 'systemd.timer', rows: [
    ['OnActiveSec', 'timespan', 'Elapse this long after the timer itself is activated.', undefined, true],
    ['OnBootSec', 'timespan', 'Elapse this long after the machine booted.', undefined, true],
    ['OnUnitActiveSec', 'timespan', 'Elapse this long after the activated unit last became active.', undefined, true],
    ['OnCalendar', 'string', 'Elapse at calendar times, e.g. daily or Mon *-*-* 02:00.', undefined, true],
    ['Persistent', 'boolean', 'Catch up on runs missed while the machine was off.'],
    ['AccuracySec', 'timespan', 'How much the timer may be delayed to coalesce wake-ups.'],
    ['Unit', 'unit', 'The unit activated when the timer elapses (default: same name, .service).'],
  ] },
  Socket: { page: 'systemd.socket', rows: [
    ['ListenStream', 'string', 'A stream (TCP or Unix) socket address to listen on.', undefined, true],
    ['ListenDatagram', 'string', 'A datagram (UDP or Unix) socket address to listen on.', undefined, true],
    ['Accept', 'boolean', 'Start one service instance per connection.'],
    ['Service', 'unit', 'The service activated by incoming traffic.'],
  ] },
  Path: { page: 'systemd.path', rows: [
    ['PathExists', 'path', 'Activate when the path exists.', undefined, true],
    ['PathChanged', 'path', 'Activate when the file is closed after a write.', undefined, true],
    ['Unit', 'unit', 'The unit activated when a watched path triggers.'],
  ] },
};

const DIRECTIVES: Directive[] = Object.entries(rows).flatMap(([sectionName, { page, rows: list }]) =>
  list.map(([name, kind, description, values, multiple]) => {
    const d: Directive = { name, section: sectionName, kind, since: 1, multiple: multiple ?? false, description, docUrl: `${MAN}/${page}.html#${name}=` };
    if (values) d.values = values;
    return d;
  }));

export const SPECIFIERS: readonly SpecifierInfo[] = [
  { specifier: '%n', description: 'The full unit name, e.g. `web@1.service`.' },
  { specifier: '%N', description: 'The unit name without its type suffix, e.g. `web@1`.' },
  { specifier: '%p', description: 'The prefix: the unit name before `@`, e.g. `web`.' },
  { specifier: '%i', description: 'The instance: the name between `@` and the suffix, e.g. `1`.' },
  { specifier: '%j', description: 'The final component of the prefix (after the last `-`).' },
  { specifier: '%f', description: 'The instance (or prefix) as a path: unescaped, with a leading `/`.' },
  { specifier: '%H', description: 'The host name of the machine running the unit.' },
  { specifier: '%m', description: 'The machine ID of the machine running the unit.' },
  { specifier: '%b', description: 'The boot ID of the running system.' },
  { specifier: '%u', description: 'The name of the user the unit runs as.' },
  { specifier: '%U', description: 'The numeric ID of the user the unit runs as.' },
  { specifier: '%h', description: 'The home directory of the user the unit runs as.' },
  { specifier: '%t', description: 'The runtime directory root (`/run` for system units).' },
  { specifier: '%%', description: 'A literal `%`.' },
];

export const BOOLEANS: readonly string[] = ['yes', 'no', 'true', 'false', 'on', 'off', '1', '0'];

const known = (s: SectionInfo, unitType: string) => s.unitTypes.includes('*') || s.unitTypes.includes(unitType);

export const builtinCatalog: DirectiveCatalog = {
  sectionsFor: unitType => SECTIONS.filter(s => known(s, unitType)),
  sectionInfo: name => SECTIONS.find(s => s.name === name),
  directivesFor: section => DIRECTIVES.filter(d => d.section === section),
  lookupDirective: (sectionName, name) => DIRECTIVES.find(d => d.section === sectionName && d.name === name),
  specifiers: SPECIFIERS,
  booleanValues: BOOLEANS,
};
