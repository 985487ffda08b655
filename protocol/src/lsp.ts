/**
 * Custom LSP messages between the extension (client) and the fleet language server. Each method
 * name is written once, here.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';

/** The file extensions of the fleet-unit language (package.json contributes.languages; a test keeps them equal). */
export const UNIT_FILE_EXTENSIONS: readonly string[] = [
  '.service',
  '.socket',
  '.timer',
  '.path',
  '.mount',
  '.automount',
  '.device',
  '.target',
  '.slice',
  '.swap',
  '.scope',
];

/**
 * Node options the extension starts the language server with (tests and the benchmark do the
 * same). A small young generation: each edit of a large unit leaves a few MB of short-lived
 * garbage, and V8's default 16 MB semi-spaces keep ~20 MB more resident than the server needs.
 * `gc` exposed: after heavy validations the server collects once when quiet (lsp/idleCollector.ts).
 * One V8 worker thread instead of Node's four: a small server gains nothing from parallel
 * collection and compilation, and on a machine with few cores the extra threads wake up next to
 * the editor on every collection (bench/README.md has the figures behind each flag).
 */
export const SERVER_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=2', '--expose-gc', '--v8-pool-size=1'];

/** Options of Node itself (not V8 flags), which only a plain Node runs with. */
const NODE_ONLY_OPTIONS = ['--v8-pool-size='];

/**
 * SERVER_EXEC_ARGV for the runtime the extension host runs on. Desktop VS Code starts the server
 * with Electron in run-as-node mode, where the V8 platform (and its thread pool) is Electron's own:
 * there the Node-only options are left out rather than risk a server that does not start.
 */
export function serverExecArgv(electron: boolean): string[] {
  return electron ? SERVER_EXEC_ARGV.filter(a => !NODE_ONLY_OPTIONS.some(o => a.startsWith(o))) : [...SERVER_EXEC_ARGV];
}

/** Drop-in files of a unit (`foo.service.d/*.conf`), as a glob (package.json's filenamePatterns name the same files). */
export const DROP_IN_GLOB = `**/*{${UNIT_FILE_EXTENSIONS.join(',')}}.d/*.conf`;

/** The unit a drop-in path belongs to (`/etc/x/web.service.d/10-env.conf` → `web.service`), or undefined. */
export function dropInUnitOf(path: string): string | undefined {
  const m = /([^/\\]+)\.d[/\\][^/\\]+\.conf$/.exec(path);
  const name = m?.[1];
  return name !== undefined && UNIT_FILE_EXTENSIONS.some(ext => name.endsWith(ext) && name.length > ext.length) ? name : undefined;
}

/** The language id of unit files. */
export const LANGUAGE_ID = 'fleet-unit';

/**
 * The extension's commands a code lens runs: the server names them in its lenses, the client
 * registers them (client/src/identifiers.ts takes these ids), so the two cannot drift apart.
 */
export const LensCommands = {
  start: 'fleet.startUnit',
  stop: 'fleet.stopUnit',
  replace: 'fleet.replaceUnit',
  journal: 'fleet.showUnitJournal',
  status: 'fleet.showUnitStatus',
  createInstances: 'fleet.createTemplateInstances',
} as const;

/** A problem as the server reports it for submit checks (offsets into the text that was checked). */
export interface SubmitProblem {
  code: string;
  message: string;
  severity: 'error' | 'warning' | 'information' | 'hint';
  enforcedBy: 'fleet' | 'fleetctl' | 'systemd' | 'advice';
  /** Zero-based line/character range (LSP positions). */
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
}

export type ValidateForSubmitParams =
  /** An open or workspace document, by URI (the server uses the open text when there is one). */
  | { uri: string }
  /** Text that is not a document (e.g. from the cluster); `name` is the unit name, e.g. `web@1.service`. */
  | { text: string; name: string };

export interface ValidateForSubmitResult {
  /** The unit name the problems were computed for. */
  name: string;
  /** Every problem after the user's severity overrides (rules set to "off" are left out). */
  problems: SubmitProblem[];
  /** True when at least one problem is an error: the client must not submit. */
  blocking: boolean;
}

/** Sent by the client before it submits a unit to a fleet cluster; errors block the submit. */
export namespace ValidateForSubmitRequest {
  export const method = 'fleet/validateForSubmit';
  export const type = new RequestType<ValidateForSubmitParams, ValidateForSubmitResult, void>(method);
}

export interface ClusterMachine {
  /** The machine ID (32 hex characters). */
  id: string;
  primaryIP?: string;
  metadata: Record<string, string>;
}

/** What the client knows about the connected cluster; drives MachineID/metadata completion and placement preview. */
export interface ClusterContext {
  machines: ClusterMachine[];
  /** Names of the units the cluster knows. */
  units: string[];
  /** What the cluster knows of each unit (code lens, inlay hints); absent from older clients. */
  unitDetails?: ClusterUnit[];
}

/** One unit of the cluster as the language server sees it. */
export interface ClusterUnit {
  name: string;
  desiredState?: 'inactive' | 'loaded' | 'launched';
  currentState?: 'inactive' | 'loaded' | 'launched';
  /** The machine the unit is scheduled to. */
  machineID?: string;
  /** unitHash of the registry copy's options (compared with the file's to tell "differs from the cluster"). */
  hash?: string;
  /** Its [X-Fleet] options (name, value): what it requires of its neighbours, for the placement preview. */
  xfleet?: { name: string; value: string }[];
}

export interface ClusterContextParams {
  /** `null` when the client disconnected: placement preview and cluster completion stop. */
  context: ClusterContext | null;
}

/** Sent by the client whenever the context of its cluster snapshot changes (or it disconnects). */
export namespace ClusterContextNotification {
  export const method = 'fleet/clusterContext';
  export const type = new NotificationType<ClusterContextParams>(method);
}

/** A no-op round trip (health checks and benchmarks' baseline). Sent by anyone; answers `'pong'`. */
export namespace PingRequest {
  export const method = 'fleet/ping';
  export const type = new RequestType0<'pong', void>(method);
}

/** The kinds of edges of the unit graph: systemd's dependencies and fleet's placement requirements. */
export type UnitEdgeKind = 'Requires' | 'Wants' | 'BindsTo' | 'PartOf' | 'After' | 'Before' | 'MachineOf' | 'Conflicts' | 'Replaces';

export interface UnitGraphNode {
  /** The unit name, e.g. `web@1.service`. */
  name: string;
  /** The file in the workspace; absent for a unit that is only referred to (e.g. `docker.service`). */
  uri?: string;
  /** For templates and their instances: the template's name (`web@.service`), the group drawn around them. */
  group?: string;
  /** The language server's messages for this unit (a MachineOf cycle, unresolvable requirements). */
  problems: string[];
}

export interface UnitGraphEdge {
  kind: UnitEdgeKind;
  /** The unit whose file has the directive. */
  from: string;
  to: string;
  /** As written, when it differs from `to` (a glob such as `nginx.*.service`). */
  written?: string;
  /** The language server's message when this edge is part of a problem. */
  problem?: string;
}

export interface UnitGraph {
  nodes: UnitGraphNode[];
  edges: UnitGraphEdge[];
}

/** The workspace's unit graph, from the server's workspace index. */
export namespace UnitGraphRequest {
  export const method = 'fleet/unitGraph';
  export const type = new RequestType0<UnitGraph, void>(method);
}
