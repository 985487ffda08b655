#!/usr/bin/env node
/**
 * Generates unitfile/src/systemd/catalog.data.ts from systemd's source.
 *
 *   node scripts/catalog/generate.mjs <systemd git dir> [out file]
 *
 * Reads src/core/load-fragment-gperf.gperf.{m4,in} at each tag in TAGS (tags missing from the
 * checkout are skipped and the versions really covered are recorded), expands the
 * EXEC/KILL/CGROUP context macros per section, maps each parser function to a ValueKind, and
 * reads enum values from the `*_table[]` string tables in src/. Run by hand; CI uses the
 * committed output. Descriptions are our own words (DESCRIPTIONS below); directives without one
 * get a generic line built at runtime from the kind.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TAGS = [
  'v219',
  'v225',
  'v230',
  'v232',
  'v235',
  'v239',
  'v241',
  'v245',
  'v247',
  'v249',
  'v250',
  'v252',
  'v254',
  'v255',
  'v256',
  'v257',
  'v258',
  'v259',
  'v260',
];

const gitDir = process.argv[2];
if (!gitDir) {
  console.error('usage: node scripts/catalog/generate.mjs <systemd git dir> [out file]');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const outFile = process.argv[3] ?? join(here, '../../unitfile/src/systemd/catalog.data.ts');

const git = (...args) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
const tryGit = (...args) => {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------
// Parser function → kind (+ enum table, + format hint for finer checks).
// ---------------------------------------------------------------------------------------------
/** @type {Record<string, {kind: string, table?: string, bool?: boolean, format?: string, prefixes?: string[], extra?: string[]}>} */
const PARSERS = {
  bool: { kind: 'boolean' },
  tristate: { kind: 'boolean' },
  no_new_privileges: { kind: 'boolean' },
  exec_mount_apivfs: { kind: 'boolean' },
  sec: { kind: 'timespan' },
  sec_fix_0: { kind: 'timespan' },
  sec_def_infinity: { kind: 'timespan' },
  nsec: { kind: 'timespan', format: 'nsec' },
  job_timeout_sec: { kind: 'timespan' },
  job_running_timeout_sec: { kind: 'timespan' },
  service_timeout: { kind: 'timespan' },
  service_timeout_abort: { kind: 'timespan' },
  managed_oom_mem_pressure_duration_sec: { kind: 'timespan' },
  timer: { kind: 'timespan' },
  iec_size: { kind: 'size' },
  memory_limit: { kind: 'size', format: 'memory' },
  limit: { kind: 'string', format: 'rlimit' },
  rlimit: { kind: 'string', format: 'rlimit' },
  unsigned: { kind: 'integer', format: 'unsigned' },
  int: { kind: 'integer' },
  long: { kind: 'integer' },
  exec_nice: { kind: 'integer', format: 'nice' },
  exec_oom_score_adjust: { kind: 'integer', format: 'oom' },
  exec_cpu_sched_prio: { kind: 'integer', format: 'unsigned' },
  exec_io_priority: { kind: 'integer', format: 'ioprio' },
  swap_priority: { kind: 'integer' },
  cpu_shares: { kind: 'integer', format: 'unsigned' },
  blockio_weight: { kind: 'integer', format: 'unsigned' },
  cg_weight: { kind: 'integer', format: 'weight' },
  cg_cpu_weight: { kind: 'integer', format: 'weight' },
  cpu_weight: { kind: 'integer', format: 'weight' },
  io_weight: { kind: 'integer', format: 'weight' },
  tasks_max: { kind: 'percent', format: 'tasks' },
  cpu_quota: { kind: 'percent' },
  managed_oom_mem_pressure_limit: { kind: 'percent' },
  exec: { kind: 'command' },
  unit_deps: { kind: 'units' },
  obsolete_unit_deps: { kind: 'units' },
  service_sockets: { kind: 'units' },
  trigger_unit: { kind: 'unit' },
  socket_service: { kind: 'unit' },
  unit_slice: { kind: 'unit' },
  busname_service: { kind: 'unit' },
  unit_path_printf: { kind: 'path' },
  path: { kind: 'path' },
  pid_file: { kind: 'path', format: 'pidfile' },
  unit_env_file: { kind: 'path', format: 'optional' },
  working_directory: { kind: 'path', format: 'workdir' },
  unit_condition_path: { kind: 'path', format: 'condition' },
  path_spec: { kind: 'path' },
  namespace_path_strv: { kind: 'paths', format: 'namespace' },
  unit_path_strv_printf: { kind: 'paths' },
  unit_requires_mounts_for: { kind: 'paths' },
  unit_mounts_for: { kind: 'paths' },
  signal: { kind: 'signal' },
  kill_signal: { kind: 'signal' },
  mode: { kind: 'mode' },
  user_group: { kind: 'user' },
  user_group_compat: { kind: 'user' },
  environ: { kind: 'environment' },
  service_type: { kind: 'enum', table: 'service_type' },
  service_restart: { kind: 'enum', table: 'service_restart' },
  service_restart_mode: { kind: 'enum', table: 'service_restart_mode' },
  service_exit_type: { kind: 'enum', table: 'service_exit_type' },
  service_timeout_failure_mode: { kind: 'enum', table: 'service_timeout_failure_mode' },
  notify_access: { kind: 'enum', table: 'notify_access' },
  kill_mode: { kind: 'enum', table: 'kill_mode' },
  exec_input: { kind: 'enum', table: 'exec_input', prefixes: ['file:', 'fd:'] },
  input: { kind: 'enum', table: 'exec_input', prefixes: ['file:', 'fd:'] },
  exec_output: { kind: 'enum', table: 'exec_output', prefixes: ['file:', 'append:', 'truncate:', 'fd:'] },
  output: { kind: 'enum', table: 'exec_output', prefixes: ['file:', 'append:', 'truncate:', 'fd:'] },
  exec_utmp_mode: { kind: 'enum', table: 'exec_utmp_mode' },
  exec_preserve_mode: { kind: 'enum', table: 'exec_preserve_mode', bool: true },
  runtime_preserve_mode: { kind: 'enum', table: 'exec_preserve_mode', bool: true },
  exec_keyring_mode: { kind: 'enum', table: 'exec_keyring_mode' },
  exec_io_class: { kind: 'enum', table: 'ioprio_class', format: 'numeric' },
  exec_cpu_sched_policy: { kind: 'enum', table: 'sched_policy', format: 'numeric' },
  log_level: { kind: 'enum', table: 'log_level', format: 'numeric' },
  log_facility: { kind: 'enum', table: 'log_facility_unshifted', format: 'numeric' },
  emergency_action: { kind: 'enum', table: 'emergency_action' },
  failure_action: { kind: 'enum', table: 'emergency_action' },
  job_mode: { kind: 'enum', table: 'job_mode' },
  collect_mode: { kind: 'enum', table: 'collect_mode' },
  device_policy: { kind: 'enum', table: 'cgroup_device_policy' },
  oom_policy: { kind: 'enum', table: 'oom_policy' },
  managed_oom_mode: { kind: 'enum', table: 'managed_oom_mode' },
  managed_oom_preference: { kind: 'enum', table: 'managed_oom_preference' },
  protect_system: { kind: 'enum', table: 'protect_system', bool: true },
  protect_home: { kind: 'enum', table: 'protect_home', bool: true },
  private_tmp: { kind: 'enum', table: 'private_tmp', bool: true },
  private_users: { kind: 'enum', table: 'private_users', bool: true },
  private_pids: { kind: 'enum', table: 'private_pids', bool: true },
  protect_control_groups: { kind: 'enum', table: 'protect_control_groups', bool: true },
  protect_hostname: { kind: 'enum', table: 'protect_hostname', bool: true },
  protect_proc: { kind: 'enum', table: 'protect_proc' },
  proc_subset: { kind: 'enum', table: 'proc_subset' },
  socket_timestamping: { kind: 'enum', table: 'socket_timestamping' },
  memory_pressure_watch: { kind: 'enum', table: 'cgroup_pressure_watch', bool: true },
  exec_mount_propagation_flag: { kind: 'enum', extra: ['shared', 'slave', 'private'] },
};

/**
 * Parsers that refuse an empty assignment ("Failed to parse …, ignoring: " with nothing after it)
 * instead of resetting the setting. Measured with systemd-analyze verify on systemd 252 by
 * assigning every [Unit] and [Service] directive an empty value; applied to every version.
 */
const EMPTY_REJECTED = new Set([
  'bool',
  'collect_mode',
  'emergency_action',
  'failure_action',
  'job_running_timeout_sec',
  'job_timeout_sec',
  'job_mode_isolate',
  'job_mode',
  'unsigned',
  'sec',
  'bus_name',
  'mode',
  'exec_cpu_sched_prio',
  'device_policy',
  'service_exit_type',
  'signal',
  'kill_signal',
  'exec_keyring_mode',
  'rlimit',
  'limit',
  'log_level',
  'managed_oom_preference',
  'notify_access',
  'oom_policy',
  'proc_subset',
  'protect_home',
  'protect_proc',
  'protect_system',
  'service_restart',
  'runtime_preserve_mode',
  'unit_slice',
  'exec_output',
  'output',
  'exec_input',
  'input',
  'log_facility',
  'service_timeout',
  'service_timeout_failure_mode',
  'sec_fix_0',
  'nsec',
  'exec_utmp_mode',
  'service_type',
]);

/** Older names of a string table. */
const TABLE_ALIASES = { emergency_action: ['failure_action'] };

/** Directives whose name decides more than the parser does. */
const BY_NAME = {
  'Timer.OnCalendar': { kind: 'string', format: 'calendar' },
  'Unit.Documentation': { kind: 'string', format: 'urls' },
  'Install.DefaultInstance': { kind: 'string' },
};

/** Multi-valued directives: lists that accumulate (an empty assignment resets them). */
const MULTIPLE_PARSERS = new Set([
  'exec',
  'unit_deps',
  'obsolete_unit_deps',
  'service_sockets',
  'environ',
  'unit_env_file',
  'pass_environ',
  'unset_environ',
  'namespace_path_strv',
  'unit_path_strv_printf',
  'unit_requires_mounts_for',
  'unit_mounts_for',
  'unit_condition_path',
  'unit_condition_string',
  'unit_condition_null',
  'socket_listen',
  'path_spec',
  'strv',
  'documentation',
  'set_status',
  'user_group_strv',
  'user_group_strv_compat',
  'capability_set',
  'bounding_set',
  'syscall_filter',
  'syscall_archs',
  'address_families',
  'device_allow',
  'io_limit',
  'io_device_weight',
  'io_device_latency',
  'blockio_bandwidth',
  'blockio_device_weight',
  'bind_paths',
  'temporary_filesystems',
  'exec_directories',
  'runtime_directory',
  'set_credential',
  'load_credential',
  'import_credential',
  'log_extra_fields',
  'ip_address_access',
  'in_addr_prefixes',
  'ip_filter_bpf_progs',
  'bpf_foreign_program',
  'cgroup_socket_bind',
  'restrict_network_interfaces',
  'restrict_filesystems',
  'restrict_namespaces',
  'root_image_options',
  'mount_images',
  'extension_images',
  'extension_directories',
  'log_filter_patterns',
  'open_file',
  'cgroup_nft_set',
  'timer',
  'delegate',
  'disable_controllers',
  'exec_cpu_affinity',
  'syscall_log',
  'fdname',
  'exec_smack_process_label',
]);

/** Aliases systemd accepts silently, and settings the manual calls deprecated: name → replacement. */
const DEPRECATED = {
  'Unit.BindTo': { replacement: 'BindsTo' },
  'Unit.PropagateReloadTo': { replacement: 'PropagatesReloadTo' },
  'Unit.PropagateReloadFrom': { replacement: 'ReloadPropagatedFrom' },
  'Unit.RequiresOverridable': { replacement: 'Requires' },
  'Unit.RequisiteOverridable': { replacement: 'Requisite' },
  'Unit.StartLimitInterval': { replacement: 'StartLimitIntervalSec' },
  'Unit.OnFailureIsolate': { replacement: 'OnFailureJobMode' },
  'Service.StartLimitInterval': { replacement: 'StartLimitIntervalSec', moveTo: 'Unit', since: 230 },
  'Service.StartLimitBurst': { replacement: 'StartLimitBurst', moveTo: 'Unit', since: 230 },
  'Service.StartLimitAction': { replacement: 'StartLimitAction', moveTo: 'Unit', since: 230 },
  'Service.RebootArgument': { replacement: 'RebootArgument', moveTo: 'Unit', since: 235 },
  'Service.FailureAction': { replacement: 'FailureAction', moveTo: 'Unit', since: 235 },
  'Service.PermissionsStartOnly': { since: 240 },
  'Service.TimeoutSec': {},
  '*.MemoryLimit': { replacement: 'MemoryMax', since: 230 },
  '*.CPUShares': { replacement: 'CPUWeight', since: 252 },
  '*.StartupCPUShares': { replacement: 'StartupCPUWeight', since: 252 },
  '*.BlockIOAccounting': { replacement: 'IOAccounting', since: 252 },
  '*.BlockIOWeight': { replacement: 'IOWeight', since: 252 },
  '*.StartupBlockIOWeight': { replacement: 'StartupIOWeight', since: 252 },
  '*.BlockIODeviceWeight': { replacement: 'IODeviceWeight', since: 252 },
  '*.BlockIOReadBandwidth': { replacement: 'IOReadBandwidthMax', since: 252 },
  '*.BlockIOWriteBandwidth': { replacement: 'IOWriteBandwidthMax', since: 252 },
  '*.ReadWriteDirectories': { replacement: 'ReadWritePaths', since: 231 },
  '*.ReadOnlyDirectories': { replacement: 'ReadOnlyPaths', since: 231 },
  '*.InaccessibleDirectories': { replacement: 'InaccessiblePaths', since: 231 },
  '*.SyslogFacility': undefined,
};
delete DEPRECATED['*.SyslogFacility'];
delete DEPRECATED['Service.TimeoutSec'];

// ---------------------------------------------------------------------------------------------
// Our own one-line descriptions (never the manual's prose).
// ---------------------------------------------------------------------------------------------
const DESCRIPTIONS = {
  'Unit.Description': 'A short human-readable title for the unit, shown in status output and logs.',
  'Unit.Documentation': 'Space-separated URIs (http, https, file, info, man) that document the unit.',
  'Unit.Requires': 'Units that must be started with this one; if they fail to start, this unit is not started.',
  'Unit.Requisite': 'Units that must already be active; this unit fails immediately if they are not.',
  'Unit.Wants': 'Units to start along with this one; their failure does not affect it.',
  'Unit.BindsTo': 'Like Requires=, and this unit also stops when a listed unit stops or disappears.',
  'Unit.PartOf': 'Stopping or restarting a listed unit also stops or restarts this one.',
  'Unit.Upholds': 'Units that are started again whenever they stop while this unit is active.',
  'Unit.Conflicts': 'Units that cannot run at the same time as this one: starting one stops the other.',
  'Unit.Before': 'Ordering: this unit finishes starting before the listed units start.',
  'Unit.After': 'Ordering: this unit starts only after the listed units have finished starting.',
  'Unit.OnFailure': 'Units activated when this unit enters the failed state.',
  'Unit.OnSuccess': 'Units activated when this unit finishes successfully.',
  'Unit.StopWhenUnneeded': 'Stop this unit automatically when no other active unit needs it.',
  'Unit.RefuseManualStart': 'Refuse to start this unit when a user asks for it explicitly.',
  'Unit.RefuseManualStop': 'Refuse to stop this unit when a user asks for it explicitly.',
  'Unit.AllowIsolate': 'Allow `systemctl isolate` to switch to this unit.',
  'Unit.DefaultDependencies': 'Whether systemd adds its implicit ordering and requirement dependencies.',
  'Unit.JobTimeoutSec': 'Time after which a queued job for this unit is cancelled.',
  'Unit.StartLimitIntervalSec': 'The window in which start attempts are counted for rate limiting.',
  'Unit.StartLimitBurst': 'How many starts are allowed within StartLimitIntervalSec= before refusing.',
  'Unit.StartLimitAction': 'What to do when the start rate limit is hit (for example reboot).',
  'Unit.FailureAction': 'What the system does when this unit fails (for example reboot or exit).',
  'Unit.SuccessAction': 'What the system does when this unit finishes successfully.',
  'Unit.ConditionPathExists': 'Start only if this path exists (prefix ! to negate).',
  'Unit.ConditionPathIsDirectory': 'Start only if this path is a directory (prefix ! to negate).',
  'Unit.ConditionFileNotEmpty': 'Start only if this regular file exists and is not empty.',
  'Unit.ConditionHost': 'Start only on a host with this name or machine ID.',
  'Unit.ConditionVirtualization': 'Start only under this kind of virtualization (or none).',
  'Unit.ConditionKernelCommandLine': 'Start only if the kernel command line has this option.',
  'Unit.RequiresMountsFor': 'Adds Requires= and After= on the mount units needed for these paths.',
  'Unit.SourcePath': 'The configuration file this unit was generated from.',
  'Unit.CollectMode': 'When the unit is garbage-collected after it stops (inactive or inactive-or-failed).',
  'Install.WantedBy': 'On enable, adds this unit to the Wants= of the listed units (usually a target).',
  'Install.RequiredBy': 'On enable, adds this unit to the Requires= of the listed units.',
  'Install.UpheldBy': 'On enable, adds this unit to the Upholds= of the listed units.',
  'Install.Alias': 'Additional names created as symlinks when the unit is enabled.',
  'Install.Also': 'Other units enabled or disabled together with this one.',
  'Install.DefaultInstance': 'For templates: the instance enabled when none is given.',
  'Service.Type': 'How systemd decides the service has finished starting (simple, exec, forking, oneshot, notify, …).',
  'Service.ExecStart': 'The command run to start the service; several only for Type=oneshot.',
  'Service.ExecStartPre': 'Commands run before ExecStart=; a failure stops the start unless prefixed with -.',
  'Service.ExecStartPost': 'Commands run after the service has started.',
  'Service.ExecCondition': 'Commands whose failure skips the start without marking the unit failed.',
  'Service.ExecReload': 'The command that makes the service reload its configuration.',
  'Service.ExecStop': 'The command that stops the service; without it the processes are killed.',
  'Service.ExecStopPost': 'Commands run after the service has stopped, whether it succeeded or not.',
  'Service.Restart': 'When the service is restarted automatically after it exits (no, on-failure, always, …).',
  'Service.RestartSec': 'How long to wait before an automatic restart.',
  'Service.TimeoutStartSec': 'How long starting may take before the service is considered failed.',
  'Service.TimeoutStopSec': 'How long stopping may take before processes are killed with SIGKILL.',
  'Service.TimeoutSec': 'Sets both TimeoutStartSec= and TimeoutStopSec=.',
  'Service.RuntimeMaxSec': 'Maximum time the service may run before it is terminated.',
  'Service.WatchdogSec': 'The watchdog interval; the service must ping sd_notify within it.',
  'Service.RemainAfterExit': 'Keep the unit active after all its processes have exited (typical for oneshot).',
  'Service.PIDFile': 'The file where a forking service writes its main PID.',
  'Service.BusName': 'The D-Bus name a Type=dbus service acquires when it is ready.',
  'Service.NotifyAccess': 'Which processes may send sd_notify status messages for the service.',
  'Service.GuessMainPID': 'Guess the main PID of a forking service when no PIDFile= is set.',
  'Service.SuccessExitStatus': 'Extra exit codes and signals counted as success.',
  'Service.RestartPreventExitStatus': 'Exit codes and signals that prevent an automatic restart.',
  'Service.PermissionsStartOnly': 'Apply user, group and sandboxing only to ExecStart= (superseded by the + prefix).',
  'Service.Sockets': 'Socket units whose file descriptors this service receives.',
  'Service.OOMPolicy': 'What happens when the kernel OOM killer kills a process of the service.',
  'Service.ExitType': 'Whether the service ends with its main process or with its whole cgroup.',
  User: 'The user the processes run as (name or numeric ID).',
  Group: 'The group the processes run as (name or numeric ID).',
  WorkingDirectory: 'The working directory of executed processes (- prefix: ignore if missing, ~: home).',
  RootDirectory: 'Run the processes chrooted into this directory.',
  Environment: 'Environment variables as KEY=VALUE assignments (quote pairs with spaces).',
  EnvironmentFile: 'Files with KEY=VALUE lines to add to the environment (- prefix: optional file).',
  StandardInput: 'Where standard input of executed processes comes from.',
  StandardOutput: 'Where standard output of executed processes goes (journal, null, file:…).',
  StandardError: 'Where standard error of executed processes goes (journal, inherit, file:…).',
  SyslogIdentifier: 'The identifier logged with the messages of executed processes.',
  Nice: 'The scheduling priority (nice level, -20 to 19) of executed processes.',
  UMask: 'The file mode creation mask (octal) of executed processes.',
  LimitNOFILE: 'The limit on open file descriptors (soft:hard, or infinity).',
  LimitNPROC: 'The limit on processes for the user (soft:hard, or infinity).',
  LimitCORE: 'The maximum core dump size (soft:hard, or infinity).',
  LimitMEMLOCK: 'The maximum locked-in-memory size (soft:hard, or infinity).',
  PrivateTmp: 'Give the processes their own /tmp and /var/tmp.',
  PrivateDevices: 'Give the processes a minimal /dev without physical devices.',
  PrivateNetwork: 'Run the processes in their own network namespace with only loopback.',
  ProtectSystem: 'Mount /usr, /boot (and with full or strict more) read-only for the processes.',
  ProtectHome: 'Make /home, /root and /run/user inaccessible, read-only or empty.',
  NoNewPrivileges: 'Prevent the processes and their children from gaining privileges.',
  ReadWritePaths: 'Paths that stay writable inside a read-only sandbox.',
  ReadOnlyPaths: 'Paths made read-only for the processes.',
  InaccessiblePaths: 'Paths made inaccessible to the processes.',
  CapabilityBoundingSet: 'Capabilities the processes may keep (prefix ~ to drop the listed ones).',
  AmbientCapabilities: 'Capabilities granted to the processes even when not running as root.',
  DynamicUser: 'Run as a transient user and group allocated when the unit starts.',
  RuntimeDirectory: 'Directories created under /run for the unit and removed when it stops.',
  StateDirectory: 'Directories created under /var/lib for the unit.',
  KillMode: 'Which processes are killed on stop (control-group, mixed, process, none).',
  KillSignal: 'The signal sent first to stop the processes.',
  SendSIGKILL: 'Whether to send SIGKILL to processes still running after the stop timeout.',
  Slice: 'The slice unit whose cgroup this unit is placed under.',
  MemoryMax: 'The hard memory limit (bytes with K/M/G/T, a percentage, or infinity).',
  MemoryHigh: 'The memory throttling threshold.',
  MemoryLimit: 'The memory limit on cgroup v1 (superseded by MemoryMax=).',
  CPUQuota: 'The CPU time the unit may use, as a percentage of one CPU.',
  CPUShares: 'The relative CPU share on cgroup v1 (superseded by CPUWeight=).',
  CPUWeight: 'The relative CPU weight of the unit (1 to 10000, or idle).',
  TasksMax: 'The maximum number of tasks (a number, a percentage, or infinity).',
  Delegate: "Hand control of the unit's cgroup subtree to its processes.",
  'Socket.ListenStream': 'A stream (TCP or AF_UNIX) address to listen on.',
  'Socket.ListenDatagram': 'A datagram (UDP or AF_UNIX) address to listen on.',
  'Socket.ListenSequentialPacket': 'An AF_UNIX sequential-packet socket to listen on.',
  'Socket.ListenFIFO': 'A FIFO to create and listen on.',
  'Socket.Accept': 'Spawn one service instance per connection instead of passing the listening socket.',
  'Socket.Service': 'The service activated by this socket (default: same name).',
  'Timer.OnCalendar': 'A calendar expression for wall-clock timers (for example daily or Mon *-*-* 09:00).',
  'Timer.OnBootSec': 'Elapse this long after the machine booted.',
  'Timer.OnStartupSec': 'Elapse this long after the service manager started.',
  'Timer.OnActiveSec': 'Elapse this long after the timer was activated.',
  'Timer.OnUnitActiveSec': 'Elapse this long after the unit the timer activates was last activated.',
  'Timer.OnUnitInactiveSec': 'Elapse this long after the unit the timer activates was last deactivated.',
  'Timer.Persistent': 'Catch up on runs missed while the machine was off (OnCalendar= only).',
  'Timer.AccuracySec': 'How much later than scheduled the timer may elapse (to coalesce wakeups).',
  'Timer.RandomizedDelaySec': 'A random delay, up to this long, added to each elapse.',
  'Timer.Unit': 'The unit to activate (default: the service of the same name).',
  'Timer.WakeSystem': 'Wake the system from suspend when the timer elapses.',
  'Path.PathExists': 'Activate the unit when this path exists.',
  'Path.PathChanged': 'Activate the unit when this file is closed after being written.',
  'Path.PathModified': 'Activate the unit when this file is written to.',
  'Path.DirectoryNotEmpty': 'Activate the unit when this directory contains a file.',
  'Path.Unit': 'The unit to activate (default: the service of the same name).',
  'Mount.What': 'The device, file or resource to mount.',
  'Mount.Where': 'The absolute mount point; it must match the unit name.',
  'Mount.Type': 'The file system type.',
  'Mount.Options': 'Comma-separated mount options.',
  'Automount.Where': 'The absolute mount point; it must match the unit name.',
  'Automount.TimeoutIdleSec': 'Unmount after this long without use.',
  'Swap.What': 'The swap device or file.',
  'Swap.Priority': 'The swap priority.',
};

// ---------------------------------------------------------------------------------------------
// gperf parsing
// ---------------------------------------------------------------------------------------------
const ITEM = /^[`']?(\$1|\{\{\s*type\s*\}\}|[A-Z][A-Za-z]*)\.([A-Za-z0-9]+),\s*([A-Za-z0-9_]+),\s*([A-Za-z0-9_]+)/;
const M4_DEFINE = /^m4_define\(`([A-Z_]+)'/;
const J_MACRO = /^\{%-?\s*macro\s+([A-Z_]+)\(/;
const J_END = /^\{%-?\s*endmacro/;
const M4_CALL = /^([A-Z_]+_CONFIG_ITEMS)\((\w+)\)/;
const J_CALL = /^\{\{\s*([A-Z_]+_CONFIG_ITEMS)\('(\w+)'\)\s*\}\}/;
const PAGE_OF_MACRO = { EXEC_CONTEXT_CONFIG_ITEMS: 'exec', KILL_CONTEXT_CONFIG_ITEMS: 'kill', CGROUP_CONTEXT_CONFIG_ITEMS: 'resource-control' };

/** @returns {Map<string, {section, name, parser, ltype, page}[]>} key Section.Name → candidate entries (if/else branches) */
function parseGperf(text) {
  const macros = new Map();
  const items = [];
  let current;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m;
    if ((m = M4_DEFINE.exec(line)) || (m = J_MACRO.exec(line))) {
      current = { name: m[1], items: [] };
      macros.set(m[1], current);
      const rest = line.replace(/^m4_define\(`[A-Z_]+',\s*/, '');
      const im = ITEM.exec(rest);
      if (im) current.items.push(im);
      continue;
    }
    if (current && (J_END.test(line) || /^\)m4_dnl/.test(line) || /^'\)m4_dnl/.test(line))) {
      current = undefined;
      continue;
    }
    if ((m = M4_CALL.exec(line)) || (m = J_CALL.exec(line))) {
      const macro = macros.get(m[1]);
      if (!macro) throw new Error(`unknown macro ${m[1]}`);
      for (const im of macro.items) items.push({ section: m[2], name: im[2], parser: im[3], ltype: im[4], page: PAGE_OF_MACRO[m[1]] });
      continue;
    }
    const im = ITEM.exec(line);
    if (!im) continue;
    if (current && (im[1] === '$1' || im[1].startsWith('{{'))) current.items.push(im);
    else if (current && !im[1].startsWith('$') && !im[1].startsWith('{')) {
      // A fixed section inside a macro (does not happen upstream); treat as top level.
      items.push({ section: im[1], name: im[2], parser: im[3], ltype: im[4] });
    } else items.push({ section: im[1], name: im[2], parser: im[3], ltype: im[4] });
  }
  // Fold if/else branches: prefer a real parser over config_parse_warn_compat(DISABLED_CONFIGURATION).
  const out = new Map();
  for (const it of items) {
    const key = `${it.section}.${it.name}`;
    const prev = out.get(key);
    if (!prev) {
      out.set(key, it);
      continue;
    }
    const weak = x => x.parser === 'config_parse_warn_compat' && x.ltype === 'DISABLED_CONFIGURATION';
    if (weak(prev) && !weak(it)) out.set(key, it);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// String tables
// ---------------------------------------------------------------------------------------------
const tableCache = new Map();
const fileCache = new Map();
/** Where each `<name>_table[` is defined at a tag: one git grep per tag for every table name. */
const locations = new Map();
function locate(tag) {
  if (locations.has(tag)) return locations.get(tag);
  const names = [
    ...new Set(
      Object.values(PARSERS)
        .map(p => p.table)
        .filter(Boolean),
    ),
    ...Object.values(TABLE_ALIASES).flat(),
  ];
  const args = ['grep', '-n', '-F'];
  for (const n of names) args.push('-e', `${n}_table[`);
  const out = tryGit(...args, tag, '--', 'src/*.c') ?? '';
  const found = new Map();
  for (const line of out.split('\n')) {
    const m = /^[^:]+:([^:]+):\d+:.*?\b([a-z_0-9]+)_table\[[A-Z_0-9]*\]\s*=\s*\{/.exec(line);
    if (m && !found.has(m[2])) found.set(m[2], m[1]);
  }
  locations.set(tag, found);
  return found;
}
function stringTable(tag, table) {
  const key = `${tag}:${table}`;
  if (tableCache.has(key)) return tableCache.get(key);
  let values;
  const file = locate(tag).get(table);
  if (file) {
    const fk = `${tag}:${file}`;
    if (!fileCache.has(fk)) fileCache.set(fk, tryGit('show', fk) ?? '');
    const text = fileCache.get(fk);
    const at = text.search(new RegExp(`\\b${table}_table\\[[A-Z_0-9]*\\]\\s*=\\s*\\{`));
    const block = text.slice(at, text.indexOf('};', at));
    values = [...block.matchAll(/(?:\]\s*=\s*|^\s*)"([^"]+)"/gm)].map(m => m[1]);
  }
  tableCache.set(key, values);
  return values;
}

// ---------------------------------------------------------------------------------------------
// Build
// ---------------------------------------------------------------------------------------------
const available = TAGS.filter(t => tryGit('rev-parse', '--verify', '--quiet', `${t}^{commit}`) !== undefined);
if (available.length === 0) throw new Error(`none of ${TAGS.join(' ')} is in ${gitDir}`);
const versions = available.map(t => Number(t.slice(1)));
console.error(
  `versions covered: ${versions.join(' ')}` + (available.length < TAGS.length ? ` (missing: ${TAGS.filter(t => !available.includes(t)).join(' ')})` : ''),
);

/** key → per-version entry */
const perKey = new Map();
for (const tag of available) {
  const v = Number(tag.slice(1));
  const text = tryGit('show', `${tag}:src/core/load-fragment-gperf.gperf.in`) ?? tryGit('show', `${tag}:src/core/load-fragment-gperf.gperf.m4`);
  if (!text) throw new Error(`no gperf file at ${tag}`);
  const items = parseGperf(text);
  console.error(`${tag}: ${items.size} items`);
  for (const [key, it] of items) {
    if (!perKey.has(key)) perKey.set(key, new Map());
    perKey.get(key).set(v, { ...it, tag });
  }
}

const enums = {}; // table → [[value, since]]
function enumValues(table, tagsWithIt) {
  const since = new Map();
  for (const tag of tagsWithIt) {
    const found = stringTable(tag, table) ?? (TABLE_ALIASES[table] ?? []).map(t => stringTable(tag, t)).find(Boolean) ?? [];
    for (const value of found) if (!since.has(value)) since.set(value, Number(tag.slice(1)));
  }
  return [...since];
}

const rows = [];
const sectionsSeen = new Map(); // section → [since, lastSeen]
for (const [key, byVersion] of [...perKey].sort((a, b) => a[0].localeCompare(b[0]))) {
  const [section, name] = key.split('.');
  const present = versions.filter(v => byVersion.has(v));
  const since = present[0];
  const last = present.at(-1);
  const removed = last === versions.at(-1) ? 0 : versions[versions.indexOf(last) + 1];
  const s = sectionsSeen.get(section) ?? [since, last];
  sectionsSeen.set(section, [Math.min(s[0], since), Math.max(s[1], last)]);
  // Kind from the newest version with a real parser.
  const real = present.map(v => byVersion.get(v)).filter(e => e.parser !== 'config_parse_warn_compat' && e.parser !== 'NULL');
  const newest = real.at(-1) ?? byVersion.get(last);
  const parser = newest.parser.replace(/^config_parse_/, '');
  const spec = BY_NAME[key] ?? PARSERS[parser] ?? { kind: section === 'Install' ? 'units' : 'string' };
  let kind = spec.kind;
  let enumRef = '';
  if (spec.table || spec.extra) {
    const tableOf = e => {
      const p = PARSERS[e.parser.replace(/^config_parse_/, '')];
      return p?.table ?? (p?.extra ? e.parser : undefined);
    };
    const tagsWith = present
      .map(v => byVersion.get(v))
      .filter(e => tableOf(e) === tableOf(newest))
      .map(e => e.tag);
    const ref = spec.table ?? parser;
    let vals = spec.table ? enumValues(spec.table, tagsWith) : [];
    if (spec.extra) for (const x of spec.extra) if (!vals.some(([y]) => y === x)) vals.push([x, since]);
    if (spec.prefixes) vals = vals.filter(([x]) => !['file', 'append', 'truncate', 'named-fd'].includes(x));
    if (vals.length === 0) kind = 'string';
    else {
      const prev = enums[ref];
      if (prev)
        for (const [x, sv] of vals) {
          const p = prev.find(([y]) => y === x);
          if (!p) prev.push([x, sv]);
          else p[1] = Math.min(p[1], sv);
        }
      else enums[ref] = vals;
      enumRef = ref;
    }
  }
  // Deprecation.
  let dep = '';
  let depSince = 0;
  let ignored = 0;
  const legacy = present.find(v => {
    const e = byVersion.get(v);
    return e.parser === 'config_parse_warn_compat' && e.ltype !== 'DISABLED_CONFIGURATION';
  });
  const obsolete = present.find(v => byVersion.get(v).parser === 'config_parse_obsolete_unit_deps');
  const curated = DEPRECATED[key] ?? DEPRECATED[`*.${name}`];
  if (legacy !== undefined) {
    depSince = Math.min(legacy, curated ? Math.max(since, curated.since ?? since) : legacy);
    ignored = 1;
    dep = curated?.replacement ?? '';
  } else if (obsolete !== undefined) {
    depSince = obsolete;
    dep = curated?.replacement ?? '';
    ignored = 2;
  } else if (curated) {
    depSince = Math.max(since, curated.since ?? since);
    dep = curated.replacement ?? '';
  }
  const multiple = MULTIPLE_PARSERS.has(parser) || section === 'Install' || (section === 'Unit' && /^(Condition|Assert)/.test(name)) ? 1 : 0;
  const page = byVersion.get(last).page ?? '';
  const flags =
    (multiple ? 'm' : '') +
    (spec.bool ? 'b' : '') +
    (ignored === 1 ? `i${legacy}` : '') +
    (ignored === 2 ? 'w' : '') +
    (curated?.moveTo ? 'u' : '') +
    (EMPTY_REJECTED.has(parser) && !multiple ? 'e' : '');
  const desc = DESCRIPTIONS[key] ?? (page ? DESCRIPTIONS[name] : undefined) ?? '';
  const format = spec.format ?? '';
  const prefixes = (spec.prefixes ?? []).join(' ');
  rows.push([section, name, kind, since, removed, flags, enumRef, page, depSince, dep, format, prefixes, desc]);
}

const q = s => JSON.stringify(s);
let out = `/* eslint-disable */
// GENERATED by scripts/catalog/generate.mjs from systemd's src/core/load-fragment-gperf.gperf.{m4,in}
// and the string tables in src/ at tags ${available.join(' ')}. Do not edit by hand: re-run the script.
// Row: [section, name, kind, since, removed (0: still known), flags (m multiple, b also booleans,
//  i<N> ignored from version N, w warns obsolete, u moved to [Unit], e empty value refused), enum, manual page, deprecated since (0: not),
//  replacement, format hint, value prefixes, description ('' → generic)]

export const CATALOG_VERSIONS: readonly number[] = ${q(versions)};

export const SECTION_SPANS: Readonly<Record<string, readonly [number, number]>> = ${q(Object.fromEntries([...sectionsSeen].map(([s, [a, b]]) => [s, [a, b === versions.at(-1) ? 0 : versions[versions.indexOf(b) + 1]]])))};

/** Enum values with the first catalogued version that accepts each. */
export const ENUMS: Readonly<Record<string, readonly (readonly [string, number])[]>> = {
${Object.entries(enums)
  .sort()
  .map(([k, v]) => `  ${k}: ${q(v)},`)
  .join('\n')}
};

export type CatalogRow = readonly [string, string, string, number, number, string, string, string, number, string, string, string, string];

export const ROWS: readonly CatalogRow[] = [
${rows.map(r => `  ${q(r)},`).join('\n')}
];
`;
writeFileSync(outFile, out);
console.error(`wrote ${rows.length} directives, ${Object.keys(enums).length} enums to ${outFile}`);
