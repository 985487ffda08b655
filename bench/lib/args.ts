/** The command line of a bench: its arguments, `--name value` options and `--flag`s. */
export const benchArgs = process.argv.slice(2);

/** The value after `--name`, or `def` when the option (or its value) is missing. */
export function benchOption(name: string, def: string): string {
  const i = benchArgs.indexOf(`--${name}`);
  return i >= 0 && benchArgs[i + 1] !== undefined ? benchArgs[i + 1]! : def;
}

/** The number after `--name`, or `def`. */
export function benchNumber(name: string, def: number): number {
  return Number(benchOption(name, String(def)));
}

/** Whether `--name` was given. */
export function benchFlag(name: string): boolean {
  return benchArgs.includes(`--${name}`);
}
