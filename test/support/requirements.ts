/**
 * External binaries the integration and e2e suites need, and how a test skips without them:
 * LOUDLY on a developer machine, never under CI=true (there the test runs and fails with the
 * error that names the apt package).
 */
import fs from 'node:fs';
import path from 'node:path';

export const isCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** A binary, a tool or an input a suite needs, with the command that provides it. */
export interface Requirement {
  name: string;
  /** Why it is missing, or undefined when present. */
  missing: string | undefined;
}

export class MissingRequirementError extends Error {
  constructor(
    readonly requirement: string,
    message: string,
  ) {
    super(message);
    this.name = 'MissingRequirementError';
  }
}

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of an executable on PATH or in the usual system directories. */
export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A binary from a Debian package. */
export function binary(name: string, aptPackage: string): Requirement {
  return {
    name,
    missing: findBinary(name)
      ? undefined
      : `${name} is not installed (as root: apt-get install ${aptPackage}, or bash scripts/lib/deps.sh for everything the tests need)`,
  };
}

/** The path of a required binary; throws a MissingRequirementError naming the apt package. */
export function requireBinary(name: string, aptPackage: string): string {
  const found = findBinary(name);
  if (!found) throw new MissingRequirementError(name, binary(name, aptPackage).missing!);
  return found;
}

const warned = new Set<string>();

function loud(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! SKIPPING: ${message}\n!! (under CI=true this is a failure)\n${bar}\n\n`);
}

/**
 * For node:test's `skip` option: a reason string when something is missing on a developer
 * machine (printed in a loud banner), `false` when everything is present or under CI=true, so
 * CI runs the test and it fails on the missing piece.
 */
export function skipUnlessAvailable(...requirements: Requirement[]): string | false {
  const missing = requirements.filter(r => r.missing).map(r => r.missing!);
  if (missing.length === 0 || isCI()) return false;
  const reason = missing.join('; ');
  loud(reason);
  return reason;
}

/** Throws a MissingRequirementError for the first missing requirement (call inside the test under CI). */
export function assertAvailable(...requirements: Requirement[]): void {
  const first = requirements.find(r => r.missing);
  if (first) throw new MissingRequirementError(first.name, first.missing!);
}
