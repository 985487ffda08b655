/**
 * startAgent: the agent role of fleetd for one machine (the contract shared with main.ts): a
 * journal (served over HTTP on loopback TCP or a unix socket when `journal` is given), the unit manager (processes by
 * default), and the Agent loop. stop() is fleet's clean shutdown: stops and unloads its units,
 * removes their states, releases the machine, closes the journal server.
 */
import path from 'node:path';
import type { AgentRegistry } from '../../../registry/src/registry';
import type { Log } from '../../../protocol/src/log';
import { Agent } from './agent';
import { Journal, startJournalServer, type JournalServer } from './journal';
import { machineEnvironment } from './machineEnv';
import { ProcessUnitManager } from './processUnitManager';
import type { UnitManager } from './unitManager';

export { Agent, heartbeatInterval, type AgentOptions } from './agent';
export { Journal, startJournalServer, handleJournalRequest, type JournalServer } from './journal';
export { ProcessUnitManager, type ProcessUnitManagerOptions } from './processUnitManager';
export { machineEnvironment } from './machineEnv';
export { FakeUnitManager, UnitNotLoadedError, type UnitManager, type UnitManagerState } from './unitManager';

export interface StartAgentOptions {
  registry: AgentRegistry;
  machine: { id: string; publicIP: string; metadata: Record<string, string> };
  /** Per-machine state: unit files (`units/`) and the runtime directory (`run/`) of the process manager. */
  stateDir: string;
  ttlMs?: number;
  intervalMs?: number;
  /** Defaults to a ProcessUnitManager under `stateDir`. */
  unitManager?: UnitManager;
  /** Extra environment for every unit process (e.g. the markers `fleetd local` reaps orphans by). */
  unitEnv?: Record<string, string>;
  /**
   * The cluster's etcd when the registry is one: every unit gets it in ETCDCTL_ENDPOINTS and
   * ETCDCTL_PEERS (and always the machine's address in COREOS_PUBLIC_IPV4/COREOS_PRIVATE_IPV4).
   */
  etcdEndpoints?: readonly string[];
  /** Have the process manager keep each unit's stop recipe for a watchdog (see ProcessUnitManagerOptions.stopRecipes). */
  stopRecipes?: boolean;
  /** Serve the journal on this TCP address (port 0: any free port) or unix socket (0600). */
  journal?: { host: string; port: number } | { socketPath: string };
  log?: Log;
}

export interface RunningAgent {
  /** The journal server's base URL (`GET {journalUrl}/journal/{unit}?lines=N&follow=true`). */
  journalUrl?: string;
  journal: Journal;
  unitManager: UnitManager;
  agent: Agent;
  stop(): Promise<void>;
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { registry, machine, log } = options;
  if (!machine.id) throw new Error('startAgent: machine.id is empty; give the machine an ID (32 hex characters)');
  const journal = new Journal({ machineId: machine.id });
  // The manager first: it takes the state dir's lock, so a second agent on the same directory
  // fails before its journal server could replace the first one's socket there.
  const unitManager: UnitManager =
    options.unitManager ??
    new ProcessUnitManager({
      machineId: machine.id,
      journal,
      stateDir: path.resolve(options.stateDir),
      env: { ...machineEnvironment(machine.publicIP, options.etcdEndpoints), ...options.unitEnv },
      stopRecipes: options.stopRecipes,
      log,
    });
  let server: JournalServer | undefined;
  try {
    if (options.journal) server = await startJournalServer(journal, options.journal);
  } catch (err) {
    await unitManager.close().catch(() => undefined);
    throw err;
  }
  const agent = new Agent({
    registry,
    machine,
    unitManager,
    ttlMs: options.ttlMs,
    intervalMs: options.intervalMs,
    journalUrl: server?.url,
    log,
  });
  try {
    await agent.start();
  } catch (err) {
    await unitManager.close().catch(() => undefined);
    await server?.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    ...(server ? { journalUrl: server.url } : {}),
    journal,
    unitManager,
    agent,
    stop: () =>
      (stopping ??= (async () => {
        try {
          await agent.stop();
        } finally {
          await server?.close();
        }
      })()),
  };
}
