/**
 * Code lens when a cluster is connected, on the first line of a unit file: its live state wired to
 * the client's commands, and where placement is constrained, on how many machines the scheduler's
 * own checks (scheduler/src/checks.ts) would let it run.
 */
import type { CodeLens, Command } from 'vscode-languageserver-types';
import { isTemplateName, requirements, toOptions, unitHash, type Requirements } from '../../../unitfile/src';
import { LensCommands, type ClusterContext, type ClusterUnit } from '../../../protocol/src/lsp';
import { followsSummary, placement } from './placement';
import type { ServiceContext, UnitDocument } from './types';

/** The client's command ids the lenses run (protocol/src/lsp.ts, which the client registers too). */
export const LENS_COMMANDS = LensCommands;

const short = (id: string) => id.slice(0, 8);

export function codeLenses(doc: UnitDocument, ctx: ServiceContext): CodeLens[] {
  const cluster = ctx.cluster;
  const name = doc.unitName;
  // A drop-in is not what fleet schedules: its unit's state belongs on the unit file.
  if (!cluster || name === undefined || !name.includes('.') || doc.dropIn) return [];
  const uri = doc.document.uri;
  const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  const lens = (title: string, command: string | undefined): CodeLens => ({
    range,
    command: { title, command: command ?? '', ...(command ? { arguments: [uri] } : {}) } as Command,
  });
  const out: CodeLens[] = [];
  const unit = cluster.unitDetails?.find(u => u.name === name) ?? (cluster.units.includes(name) ? { name } : undefined);
  // fleet never schedules a template (web@.service), only its instances: no Start, no placement.
  if (isTemplateName(name))
    return [
      lens(unit ? 'template, in the cluster' : 'template: fleet runs its instances', unit ? LENS_COMMANDS.status : undefined),
      lens('Create Instances…', LENS_COMMANDS.createInstances),
    ];
  const hash = doc.file.options.length > 0 ? unitHash(toOptions(doc.file)) : undefined;
  if (!unit) {
    out.push(lens('not in the cluster', undefined), lens('Start', LENS_COMMANDS.start));
  } else if (unit.hash !== undefined && hash !== undefined && unit.hash !== hash) {
    out.push(lens('differs from the cluster', LENS_COMMANDS.status), lens('Replace…', LENS_COMMANDS.replace));
  } else {
    out.push(lens(stateText(unit, cluster), LENS_COMMANDS.status));
    if (unit.desiredState === 'launched') out.push(lens('Stop', LENS_COMMANDS.stop));
    else out.push(lens('Start', LENS_COMMANDS.start));
    out.push(lens('Journal', LENS_COMMANDS.journal));
  }
  // The placement preview (the scheduler's, over the cluster's units and their requirements): shown
  // where the unit is constrained, by its own [X-Fleet] or by its neighbours'.
  const req = requirements(toOptions(doc.file), name);
  if (cluster.machines.length > 0) {
    const p = placement(doc.file, name, cluster);
    const { eligible, total } = p;
    if (constrained(req) || eligible.length < total) {
      const verb = req.global ? 'runs on' : 'eligible on';
      out.push(
        lens(
          eligible.length === 0
            ? `no machine can take it now: ${p.reason ?? 'every machine is ruled out'}`
            : `${verb} ${eligible.length} of ${total} machine${total === 1 ? '' : 's'}${eligible.length <= 3 ? `: ${eligible.map(m => short(m.id)).join(', ')}` : ''}`,
          undefined,
        ),
      );
    }
    const follows = followsSummary(p);
    if (follows) out.push(lens(follows, undefined));
  }
  return out;
}

function stateText(unit: ClusterUnit, cluster: ClusterContext): string {
  const state = unit.currentState ?? unit.desiredState ?? 'inactive';
  if (!unit.machineID) return state === 'inactive' ? 'inactive in the cluster' : `${unit.desiredState ?? state}, not scheduled`;
  const ip = cluster.machines.find(m => m.id === unit.machineID)?.primaryIP;
  return `${state} on ${short(unit.machineID)}${ip ? ` / ${ip}` : ''}`;
}

function constrained(req: Requirements): boolean {
  return req.machineId !== undefined || req.metadata.size > 0 || req.peers.length > 0 || req.conflicts.length > 0 || req.replaces.length > 0 || req.global;
}
