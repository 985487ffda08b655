/**
 * Deploying units the way fleetctl does (fleet-reference §4.2): submit, load and start create a
 * missing unit and set its desired state, then wait like fleetctl's blocking mode until the
 * registry (and, for start, systemd) reports the target state; stop, unload and destroy act on
 * registry units. Pure over the FleetApi seam; no `vscode` import, time arrives as parameters.
 */
import type { ApiMachine, ApiUnit, ApiUnitState, JobState } from '../../../protocol/src/api';
import { isGlobalUnit, isTemplateName, unitHash, type UnitOption } from '../../../unitfile/src';
import type { FleetApi } from '../api/types';
import { machineLabel } from '../cluster/snapshot';
import { toUnitOptions } from '../cluster/unitRows';
import { errorMessage } from '../../../protocol/src/log';

export type DeployOp = 'submit' | 'load' | 'start' | 'stop' | 'unload' | 'destroy';

/** A unit from the editor: the file name is the unit name, as for fleetctl. */
export interface LocalUnit {
  name: string;
  options: UnitOption[];
}

export interface DeployRequest {
  name: string;
  /** The local file, for submit/load/start of a unit the registry does not have yet. */
  local?: LocalUnit;
}

export interface DeployResult {
  name: string;
  ok: boolean;
  /** fleetctl-style text, e.g. `Unit nginx.1.service launched on 4d389537.../10.1.1.7`. */
  message: string;
  /** Warnings that did not stop the operation (e.g. the registry copy differs from the local file). */
  warnings: string[];
  /** The engine says no machine can take the unit now (the message gives its reason). */
  unplaceable?: boolean;
  /** The unit ran and failed, or keeps failing: its journal says why. */
  failing?: boolean;
  /** The message without its advice, for a list of several units' outcomes. */
  summary?: string;
  /** What to do about it, said once under a list of several units. */
  advice?: string;
}

/** The advice after a wait that ran out (said once for several units). */
export const TIMEOUT_ADVICE = 'Raise fleet.deploy.timeoutSeconds or check the unit in the Fleet explorer.';

export interface DeployOptions {
  /** Overall wait budget; 0 means do not wait (fleetctl --no-block). */
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** A unit and its states as the wait read them (the explorer shows them at once). */
  onUnit?: (unit: ApiUnit, states: readonly ApiUnitState[]) => void;
}

/** Waiting for this many units or fewer reads each of them; more, the whole lists. */
const PER_UNIT_READS = 8;
/** An engine reason seen this long means the unit cannot be placed now: stop waiting for it. */
const UNPLACEABLE_AFTER_MS = 1_000;

export class DeployCancelledError extends Error {
  constructor() {
    super('Cancelled.');
    this.name = 'DeployCancelledError';
  }
}

export const TARGET_STATE: Readonly<Record<Exclude<DeployOp, 'destroy'>, JobState>> = {
  submit: 'inactive',
  load: 'loaded',
  start: 'launched',
  stop: 'loaded',
  unload: 'inactive',
};

const PAST: Readonly<Record<Exclude<DeployOp, 'destroy'>, string>> = {
  submit: 'submitted',
  load: 'loaded',
  start: 'launched',
  stop: 'stopped',
  unload: 'unloaded',
};

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DeployCancelledError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DeployCancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DeployCancelledError();
}

function isGlobal(unit: ApiUnit | undefined, local?: LocalUnit): boolean {
  const options = unit?.options?.length ? toUnitOptions(unit.options) : (local?.options ?? []);
  return options.length > 0 && isGlobalUnit(options);
}

/** Runs one operation over many units; every unit gets a result, failures do not stop the others. */
export async function runDeploy(api: FleetApi, op: DeployOp, requests: readonly DeployRequest[], options: DeployOptions): Promise<DeployResult[]> {
  const results = new Map<string, DeployResult>();
  const waiting: { name: string; target: JobState; global: boolean }[] = [];
  const unique = dedupe(requests);
  for (const request of unique) {
    checkCancelled(options.signal);
    const result: DeployResult = { name: request.name, ok: true, message: '', warnings: [] };
    results.set(request.name, result);
    try {
      const outcome = await applyOne(api, op, request, result, options);
      if (outcome) waiting.push({ name: request.name, ...outcome });
    } catch (err) {
      if (err instanceof DeployCancelledError) throw err;
      result.ok = false;
      result.message = errorMessage(err);
    }
  }
  if (op !== 'destroy' && waiting.length > 0) await waitFor(api, op, waiting, results, options);
  return unique.map(r => results.get(r.name)!);
}

function dedupe(requests: readonly DeployRequest[]): DeployRequest[] {
  const seen = new Map<string, DeployRequest>();
  for (const r of requests) if (!seen.has(r.name)) seen.set(r.name, r);
  return [...seen.values()];
}

/** Applies the change for one unit; returns what to wait for, or undefined when done. */
async function applyOne(
  api: FleetApi,
  op: DeployOp,
  request: DeployRequest,
  result: DeployResult,
  options: DeployOptions,
): Promise<{ target: JobState; global: boolean } | undefined> {
  const { name } = request;
  if ((op === 'load' || op === 'start') && isTemplateName(name)) {
    throw new Error(
      `Unit ${name} is a template and cannot be ${op === 'start' ? 'launched' : 'loaded'}; submit it, then start instances such as ${name.replace('@.', '@1.')} (Fleet: Create Template Instances).`,
    );
  }
  const existing = await api.getUnit(name, options.signal);
  if (op === 'destroy') {
    const removed = await api.destroyUnit(name, options.signal);
    result.message = removed || existing ? `Destroyed ${name}` : `Unit ${name} was not in the registry; nothing to destroy`;
    return undefined;
  }
  const target = TARGET_STATE[op];
  if (op === 'submit' || op === 'load' || op === 'start') {
    if (!existing) {
      if (!request.local)
        throw new Error(`Unit ${name} is not in the registry and there is no local unit file to submit; open the file and run the command from the editor.`);
      if (request.local.options.length === 0) throw new Error(`Unit ${name} has no options; fleet refuses an empty unit (add a [Service] section).`);
      options.onProgress?.(`Submitting ${name}…`);
      await api.createUnit(name, request.local.options, target, options.signal);
      return { target, global: isGlobalUnit(request.local.options) };
    }
    if (request.local && existing.options?.length && unitHash(request.local.options) !== unitHash(toUnitOptions(existing.options))) {
      result.warnings.push(`Unit ${name} in the registry differs from the local unit file; run Fleet: Replace Unit to override.`);
    }
    if (op !== 'submit' && existing.desiredState !== target) {
      options.onProgress?.(`Setting ${name} to ${target}…`);
      await api.setUnitTargetState(name, target, options.signal);
    }
    return { target, global: isGlobal(existing, request.local) };
  }
  // stop, unload: registry units only
  if (!existing) throw new Error(`Unit ${name} is not in the registry.`);
  const global = isGlobal(existing);
  if (op === 'stop') {
    if (!global && (existing.currentState ?? 'inactive') === 'inactive' && existing.desiredState !== 'launched') {
      throw new Error(`Unable to stop unit ${name} in state inactive; load or start it first.`);
    }
    if (existing.desiredState === 'loaded' && existing.currentState === 'loaded') {
      result.message = `Unit ${name} is already stopped (loaded)`;
      return undefined;
    }
  }
  if (existing.desiredState !== target) {
    options.onProgress?.(`Setting ${name} to ${target}…`);
    await api.setUnitTargetState(name, target, options.signal);
  }
  return { target, global };
}

/** Polls until every unit reached its target (fleetctl's blocking wait), the budget ends, or the user cancels. */
async function waitFor(
  api: FleetApi,
  op: Exclude<DeployOp, 'destroy'>,
  waiting: { name: string; target: JobState; global: boolean }[],
  results: Map<string, DeployResult>,
  options: DeployOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const pollMs = options.pollMs ?? 250;
  const deadline = now() + options.timeoutMs;
  let machines: ApiMachine[] | undefined;
  const machinesOnce = async () => (machines ??= await api.listMachines(options.signal).catch(() => []));
  let pending = waiting.filter(w => {
    if (!w.global) return true;
    const r = results.get(w.name)!;
    if (r.ok && !r.message) r.message = op === 'start' ? `Triggered global unit ${w.name} start` : `Triggered global unit ${w.name} ${PAST[op]}`;
    return false;
  });
  if (options.timeoutMs <= 0) {
    for (const w of pending) {
      const r = results.get(w.name)!;
      if (r.ok && !r.message) r.message = `Triggered unit ${w.name} ${op}`;
    }
    return;
  }
  let lastUnits = new Map<string, ApiUnit>();
  /** When each waited unit was first seen with an engine reason (it cannot be placed). */
  const unplaceableSince = new Map<string, number>();
  for (let round = 0; pending.length > 0; round++) {
    checkCancelled(options.signal);
    // A few units: read just them (GET /units/{name}, /state?unitName=); many: the lists once.
    let units: ApiUnit[] | undefined;
    let states: ApiUnitState[] = [];
    if (pending.length <= PER_UNIT_READS) {
      const reads = await Promise.all(
        pending.map(async w => {
          const unit = await api.getUnit(w.name, options.signal);
          const unitStates = op === 'start' && unit ? await api.listUnitStates(options.signal, { unitName: w.name }) : [];
          return { unit, unitStates };
        }),
      ).catch(() => undefined);
      if (reads) {
        units = reads.flatMap(r => (r.unit ? [r.unit] : []));
        states = reads.flatMap(r => r.unitStates);
        for (const u of units) lastUnits.set(u.name, u);
        for (const w of pending) if (!units.some(u => u.name === w.name)) lastUnits.delete(w.name);
      }
    } else {
      units = await api.listUnits(options.signal).catch(() => undefined);
      if (units) lastUnits = new Map(units.map(u => [u.name, u]));
      states = op === 'start' ? await api.listUnitStates(options.signal).catch(() => [] as ApiUnitState[]) : [];
    }
    const still: typeof pending = [];
    for (const w of pending) {
      const r = results.get(w.name)!;
      if (!r.ok || r.message) continue;
      const unit = lastUnits.get(w.name);
      if (units && unit)
        options.onUnit?.(
          unit,
          states.filter(s => s.name === w.name),
        );
      let verdict = units ? judge(w, unit, states, op) : 'wait';
      if (verdict === 'wait' && unit?.reason && !unit.machineID && w.target !== 'inactive') {
        const since = unplaceableSince.get(w.name) ?? now();
        unplaceableSince.set(w.name, since);
        if (now() - since >= UNPLACEABLE_AFTER_MS) verdict = { failed: `Unit ${w.name} cannot be placed: ${unit.reason}`, unplaceable: true };
      } else {
        unplaceableSince.delete(w.name);
      }
      if (verdict === 'done') {
        const where = unit?.machineID ? ` on ${machineLabel(unit.machineID, await machinesOnce())}` : '';
        r.message = op === 'submit' || op === 'unload' ? `Unit ${w.name} ${PAST[op]} (${w.target})` : `Unit ${w.name} ${PAST[op]}${where}`;
      } else if (typeof verdict === 'object') {
        r.ok = false;
        r.message = verdict.failed;
        if (verdict.unplaceable) r.unplaceable = true;
        if (verdict.failing) r.failing = true;
      } else still.push(w);
    }
    pending = still;
    if (pending.length === 0) break;
    if (now() >= deadline) {
      for (const w of pending) {
        const r = results.get(w.name)!;
        r.ok = false;
        r.summary = timeoutMessage(w.name, w.target, lastUnits.get(w.name), options.timeoutMs);
        r.advice = TIMEOUT_ADVICE;
        r.message = `${r.summary}. ${TIMEOUT_ADVICE}`;
      }
      break;
    }
    options.onProgress?.(`Waiting for ${pending.length === 1 ? pending[0]!.name : `${pending.length} units`} to be ${PAST[op]}…`);
    await sleep(Math.max(1, Math.min(pollMs, deadline - now())), options.signal);
  }
}

function judge(
  w: { name: string; target: JobState },
  unit: ApiUnit | undefined,
  states: readonly ApiUnitState[],
  op: Exclude<DeployOp, 'destroy'>,
): 'done' | 'wait' | { failed: string; unplaceable?: boolean; failing?: boolean } {
  if (!unit) return { failed: `Unit ${w.name} disappeared from the registry while waiting (destroyed by someone else?)` };
  if ((unit.currentState ?? 'inactive') !== w.target) return 'wait';
  if (op !== 'start') return 'done';
  const state = states.find(s => s.name === w.name && s.machineID === unit.machineID);
  if (!state) return 'wait';
  if (state.systemdSubState === 'auto-restart') {
    // Restart= brought it back, and it exited again: launched is not the news here.
    return {
      failed: `Unit ${w.name} started, but it keeps failing on ${unit.machineID?.slice(0, 8) ?? '?'}...: ${state.detail ?? 'its main process exits and systemd restarts it'}; see Fleet: Show Journal.`,
      failing: true,
    };
  }
  if (state.systemdActiveState === 'failed') {
    return {
      failed: `Unit ${w.name} failed on ${unit.machineID?.slice(0, 8) ?? '?'}...: ${state.detail ?? `systemd reports ${state.systemdActiveState} (${state.systemdSubState ?? '-'})`}; see Fleet: Show Journal.`,
      failing: true,
    };
  }
  return state.systemdActiveState === 'active' && state.systemdLoadState === 'loaded' ? 'done' : 'wait';
}

function timeoutMessage(name: string, target: JobState, unit: ApiUnit | undefined, timeoutMs: number): string {
  const seconds = Math.round(timeoutMs / 1000);
  const current = unit?.currentState ?? 'inactive';
  const why = unit?.reason ? `not scheduled: ${unit.reason}` : current === target ? 'systemd has not reported it active yet' : `current state ${current}`;
  return `Unit ${name} did not become ${target} within ${seconds}s (${why})`;
}

export interface ReplacePlan {
  kind: 'create' | 'identical' | 'replace';
  /** The registry copy, when there is one. */
  existing?: ApiUnit;
  /** The desired state the unit returns to after the replacement. */
  desiredState: JobState;
}

/** What Replace Unit will do for a local file (fleetctl --replace: same name, new options, back to its desired state). */
export async function planReplace(api: FleetApi, local: LocalUnit, signal?: AbortSignal): Promise<ReplacePlan> {
  const existing = await api.getUnit(local.name, signal);
  if (!existing) return { kind: 'create', desiredState: 'inactive' };
  const same = existing.options?.length ? unitHash(toUnitOptions(existing.options)) === unitHash(local.options) : false;
  return { kind: same ? 'identical' : 'replace', existing, desiredState: existing.desiredState ?? 'inactive' };
}

/** Replaces the registry copy with the local file and waits for the unit to come back to its desired state. */
export async function replaceUnit(api: FleetApi, local: LocalUnit, plan: ReplacePlan, options: DeployOptions): Promise<DeployResult> {
  if (plan.kind === 'identical')
    return { name: local.name, ok: true, message: `Unit ${local.name} in the registry is identical to the local file; nothing to replace`, warnings: [] };
  if (isTemplateName(local.name) && plan.desiredState !== 'inactive') throw new Error(`Unit ${local.name} is a template and cannot be activated.`);
  options.onProgress?.(`Replacing ${local.name}…`);
  // A PUT with new options replaces the unit and resets its target state to the one in the body (§3.5 step 7).
  await api.createUnit(local.name, local.options, plan.desiredState, options.signal);
  const op: DeployOp = plan.desiredState === 'launched' ? 'start' : plan.desiredState === 'loaded' ? 'load' : 'submit';
  const [result] = await runDeploy(api, op, [{ name: local.name, local }], options);
  const r = result!;
  if (r.ok) r.message = `Unit ${local.name} replaced; ${r.message.replace(/^Unit \S+ /, '')}`;
  return r;
}
