/**
 * A unit as the editor has it: its name from the file name (fleetctl's path.Base), its options
 * from fleet's parser. No `vscode` import.
 */
import { mangleUnitName, parseUnitFile, toOptions, UnitFile, validateUnitName } from '../../../unitfile/src';
import type { LocalUnit } from './deploy';

/** Parses editor text into a LocalUnit, or explains (naming the file) why fleet would refuse it. */
export function localUnitFromText(fileName: string, text: string): { unit: LocalUnit } | { error: string } {
  const base = fileName.replace(/\\/g, '/').split('/').pop() ?? fileName;
  const name = mangleUnitName(base);
  const nameProblem = validateUnitName(name);
  if (nameProblem) return { error: `Cannot submit ${base}: ${nameProblem}. Rename the file to a valid unit name such as web.service.` };
  const file = parseUnitFile(text);
  const parseError = UnitFile.fleetError(file);
  if (parseError) return { error: `Cannot submit ${name}: fleet cannot parse it: ${parseError}` };
  const options = toOptions(file);
  if (options.length === 0) return { error: `Cannot submit ${name}: the file has no options; add at least a [Service] section with ExecStart=.` };
  return { unit: { name, options } };
}
