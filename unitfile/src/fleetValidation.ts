/**
 * fleet's ValidateOptions (api/units.go, fleet-reference §2.4), as one ordered list of violations.
 * fleetd's API answers with the first message; the editor shows every violation on the options
 * involved. Both read the same list, so the texts are identical by construction.
 */
import { globMatch } from './glob';
import { parseUnitFile } from './parse';
import { serializeOptions, type UnitOption } from './serialize';
import { goQuote } from './goText';
import { requirements, type XFleetKind } from './xfleet';

export interface OptionViolation {
  message: string;
  /** The two requirement kinds that clash (for a peer/glob overlap: machineOf and conflicts or replaces). */
  kinds: [XFleetKind, XFleetKind];
  /** For overlaps: the peer and the glob that matches it. */
  peer?: string;
  pattern?: string;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * Every ValidateOptions violation, in the order fleet checks them. Specifiers are not substituted
 * (fleet validates a nameless job), so `MachineOf=%p.socket` + `Conflicts=*.socket` is a violation.
 */
export function optionViolations(options: readonly UnitOption[]): OptionViolation[] {
  const req = requirements(options);
  const conflicts = unique(req.conflicts);
  const replaces = unique(req.replaces);
  const peers = unique(req.peers);
  const out: OptionViolation[] = [];
  for (const peer of peers) {
    for (const pattern of conflicts) {
      if (globMatch(pattern, peer)) {
        out.push({
          message: `unresolvable requirements: peer ${goQuote(peer)} matches conflict ${goQuote(pattern)}`,
          kinds: ['machineOf', 'conflicts'],
          peer,
          pattern,
        });
      }
    }
    for (const pattern of replaces) {
      if (globMatch(pattern, peer)) {
        out.push({
          message: `unresolvable requirements: peer ${goQuote(peer)} matches replace ${goQuote(pattern)}`,
          kinds: ['machineOf', 'replaces'],
          peer,
          pattern,
        });
      }
    }
  }
  const target = req.machineId !== undefined;
  const has = { peers: peers.length > 0, conflicts: conflicts.length > 0, replaces: replaces.length > 0 };
  const combos: [boolean, string, XFleetKind, XFleetKind][] = [
    [target && has.peers, 'MachineID cannot be used with Peers', 'machineId', 'machineOf'],
    [target && has.conflicts, 'MachineID cannot be used with Conflicts', 'machineId', 'conflicts'],
    [target && req.global, 'MachineID cannot be used with Global', 'machineId', 'global'],
    [target && has.replaces, 'MachineID cannot be used with Replaces', 'machineId', 'replaces'],
    [req.global && has.peers, 'Global cannot be used with Peers', 'global', 'machineOf'],
    [req.global && has.replaces, 'Global cannot be used with Replaces', 'global', 'replaces'],
    [has.conflicts && has.replaces, 'Conflicts cannot be used with Replaces', 'conflicts', 'replaces'],
  ];
  for (const [violated, message, a, b] of combos) if (violated) out.push({ message, kinds: [a, b] });
  return out;
}

/**
 * fleet's ValidateOptions: undefined when fleet accepts the options, else fleet's exact message.
 * Step 1 is the round trip: serialize, parse again, and report the parser's first error.
 */
export function validateOptions(options: readonly UnitOption[]): string | undefined {
  const roundTrip = parseUnitFile(serializeOptions(options)).problems[0];
  if (roundTrip) return roundTrip.message;
  return optionViolations(options)[0]?.message;
}
