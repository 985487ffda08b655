/**
 * What a deploy says when it is done, and what Start asks before it writes a unit no machine
 * would take: one message for any number of units, with at most one action. Pure; no `vscode`
 * import (deployController.ts shows it).
 */
import type { DeployResult } from './deploy';
import type { Unplaceable } from './placementCheck';

export type ReportAction =
  | { kind: 'open'; label: 'Open Unit'; unit: string }
  | { kind: 'machines'; label: 'Show Machines' }
  | { kind: 'journal'; label: 'Show Journal'; unit: string }
  | { kind: 'log'; label: 'Show Log' };

export interface Report {
  level: 'info' | 'error';
  message: string;
  action?: ReportAction;
}

const SHOW_MACHINES: ReportAction = { kind: 'machines', label: 'Show Machines' };

/**
 * The one action for a unit no machine takes: the machines when the reason is about them (their
 * metadata or IDs, or none at all), else the unit's file when there is one (its [X-Fleet] rules
 * it out: Conflicts, MachineOf, Replaces), else the machines.
 */
export function unplaceableAction(unit: string, reason: string, hasFile: boolean): ReportAction {
  if (/\bmetadata\b|\bMachineID\b|no machines in the cluster/.test(reason) || !hasFile) return SHOW_MACHINES;
  return { kind: 'open', label: 'Open Unit', unit };
}

/** The engine's reason in an unplaceable result (`Unit x cannot be placed: <reason>`). */
function reasonOf(r: DeployResult): string {
  return /cannot be placed: (.*)$/.exec(r.message)?.[1] ?? r.message;
}

/** `nginx.4.service cannot be placed: …` — a result in a list of several. */
function listed(r: DeployResult): string {
  return (r.summary ?? r.message).replace(/^Unit /, '').replace(/\.$/, '');
}

/** A unit that ran and failed: its journal (the message says "see Fleet: Show Journal"); else the deploy log. */
function failedAction(failed: readonly DeployResult[]): ReportAction {
  const only = failed.length === 1 ? failed[0]! : undefined;
  return only?.failing ? { kind: 'journal', label: 'Show Journal', unit: only.name } : { kind: 'log', label: 'Show Log' };
}

export function deployReport(results: readonly DeployResult[], hasFile: (unit: string) => boolean): Report {
  const failed = results.filter(r => !r.ok);
  if (results.length === 1) {
    const r = results[0]!;
    if (r.ok) return { level: 'info', message: r.message };
    return {
      level: 'error',
      message: r.message,
      action: r.unplaceable ? unplaceableAction(r.name, reasonOf(r), hasFile(r.name)) : failedAction([r]),
    };
  }
  if (failed.length === 0) return { level: 'info', message: `${results.length} units done: ${results.map(r => r.message.replace(/^Unit /, '')).join('; ')}` };
  const advice = [...new Set(failed.flatMap(r => (r.advice ? [r.advice] : [])))];
  const ok = results.filter(r => r.ok);
  const message = [
    `${failed.length} of ${results.length} units failed: ${failed.map(listed).join('; ')}.`,
    ...advice,
    ...(ok.length > 0 ? [`Done: ${ok.map(r => r.message.replace(/^Unit /, '')).join('; ')}.`] : []),
  ].join(' ');
  let action = failedAction(failed);
  if (failed.every(r => r.unplaceable)) {
    const actions = failed.map(r => unplaceableAction(r.name, reasonOf(r), hasFile(r.name)));
    action = actions.length === 1 ? actions[0]! : SHOW_MACHINES;
  }
  return { level: 'error', message, action };
}

export interface PlacementQuestion {
  message: string;
  detail: string;
  /** The answer that goes on with the Start. */
  proceed: string;
  /** The other button: look at the unit or the machines instead. */
  action: ReportAction;
}

/** Start's question when its own placement check finds units that no machine would take now. */
export function placementQuestion(
  blocked: readonly Unplaceable[],
  total: number,
  cluster: string,
  verb: 'start' | 'load',
  hasFile: (unit: string) => boolean,
): PlacementQuestion {
  const Verb = verb === 'start' ? 'Start' : 'Load';
  const waits = `fleet keeps ${blocked.length === 1 ? 'it' : 'them'} in the registry, waiting, until a machine qualifies.`;
  if (blocked.length === 1) {
    const b = blocked[0]!;
    return {
      message: `No machine of ${cluster} can take ${b.name} now: ${b.reason}. ${Verb} it anyway?`,
      detail: `${total > 1 ? `The other ${total - 1} unit${total === 2 ? '' : 's'} can be placed. ` : ''}${Verb}ed anyway, ${waits}`,
      proceed: `${Verb} Anyway`,
      action: unplaceableAction(b.name, b.reason, hasFile(b.name)),
    };
  }
  return {
    message: `No machine of ${cluster} can take ${blocked.length} of the ${total} units now. ${Verb} anyway?`,
    detail: `${blocked.map(b => `${b.name}: ${b.reason}`).join('\n')}\n\n${Verb}ed anyway, ${waits}`,
    proceed: `${Verb} Anyway`,
    action: SHOW_MACHINES,
  };
}
