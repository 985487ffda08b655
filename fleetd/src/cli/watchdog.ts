/**
 * The per-machine watchdog of a standalone `fleetd agent` (issue 12, item 4). Unit processes run
 * in their own process groups (to be stopped by group, as systemd does), so an agent killed with
 * SIGKILL left them running, and once its presence expired the engine started them elsewhere:
 * twice. The agent starts this small process (`fleetd __watchdog STATE_DIR BUDGET_MS`, its own
 * process group) with a pipe on its stdin; when the pipe closes (the agent is gone, however it
 * died) the watchdog stops every unit the agent left running as the agent would have: ExecStop=
 * with the unit's environment, the kill signal to each of its process groups, SIGKILL at the
 * deadline, then ExecStopPost=. The deadline is the unit's TimeoutStopSec= but at most BUDGET_MS
 * (half the agent TTL), so nothing runs by the time the engine moves the units. After a clean
 * stop the agent has stopped everything itself and the watchdog finds nothing to do.
 *
 * What it reads: `<stateDir>/groups/<pgid>` (`<leader start time> <unit>`, written by the
 * ProcessUnitManager at each spawn; a group whose leader PID now belongs to another process is
 * never signalled) and `<stateDir>/stop/*.json` (StopRecipe, kept current by the manager).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, type Log } from '../../../protocol/src/log';
import { expandEnvArgs, type ExecCommand } from '../agent/commandLine';
import { spawnWith } from '../agent/credentials';
import { groupAlive, sendGroup, statFields } from '../agent/processes';
import type { StopRecipe } from '../agent/service';

const POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

function readDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Live process groups the agent recorded, by unit. */
function leftGroups(stateDir: string): Map<string, number[]> {
  const byUnit = new Map<string, number[]>();
  const dir = path.join(stateDir, 'groups');
  for (const file of readDir(dir)) {
    const pgid = Number(file);
    if (!/^\d+$/.test(file) || pgid <= 1) continue;
    let record: string;
    try {
      record = fs.readFileSync(path.join(dir, file), 'utf8');
    } catch {
      continue;
    }
    const [startTime, unit] = record.split(' ');
    if (!unit || !groupAlive(pgid)) continue;
    const leader = statFields(pgid);
    if (leader && leader[19] !== startTime) continue; // the PID now belongs to someone else
    byUnit.set(unit, [...(byUnit.get(unit) ?? []), pgid]);
  }
  return byUnit;
}

function recipes(stateDir: string): Map<string, StopRecipe> {
  const out = new Map<string, StopRecipe>();
  const dir = path.join(stateDir, 'stop');
  for (const file of readDir(dir)) {
    if (!file.endsWith('.json')) continue;
    try {
      const recipe = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as StopRecipe;
      if (typeof recipe.unit === 'string') out.set(recipe.unit, recipe);
    } catch {
      // half written by a dying agent: the unit is stopped without ExecStop=
    }
  }
  return out;
}

/** Run one control command to its end or the deadline (then its group is killed). */
async function runControl(cmd: ExecCommand, recipe: StopRecipe, deadline: number, log: Log): Promise<void> {
  const argv = cmd.noEnvExpansion ? cmd.argv : expandEnvArgs(cmd.argv, recipe.env);
  const cwd = fs.existsSync(recipe.cwd) ? recipe.cwd : '/';
  const how = recipe.credentials ? spawnWith(recipe.credentials, cmd.path, argv.slice(1)) : { path: cmd.path, args: argv.slice(1) };
  if (typeof how === 'string') return log('warn', `${recipe.unit}: ${cmd.line}: ${how}`);
  await new Promise<void>(resolve => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(how.path, how.args, {
        argv0: how.path === cmd.path ? (argv[0] ?? cmd.path) : how.path,
        env: recipe.env,
        cwd,
        detached: true,
        stdio: 'ignore',
        ...(how.uid !== undefined ? { uid: how.uid, gid: how.gid } : {}),
      });
    } catch (err) {
      log('warn', `${recipe.unit}: ${cmd.line}: ${errorMessage(err)}`);
      return resolve();
    }
    const timer = setTimeout(
      () => {
        log('warn', `${recipe.unit}: ${cmd.line} timed out; killing it`);
        if (child.pid) sendGroup(child.pid, 'SIGKILL');
        resolve();
      },
      Math.max(0, deadline - Date.now()),
    );
    child.once('error', err => {
      clearTimeout(timer);
      log('warn', `${recipe.unit}: ${cmd.line}: ${err.message}`);
      resolve();
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function stopUnit(unit: string, groups: number[], recipe: StopRecipe | undefined, budgetMs: number, log: Log): Promise<void> {
  const deadline = Date.now() + Math.min(recipe?.timeoutStopMs ?? budgetMs, budgetMs);
  if (recipe) for (const cmd of recipe.execStop) await runControl(cmd, recipe, deadline, log);
  const alive = () => groups.filter(groupAlive);
  for (const g of alive()) sendGroup(g, recipe?.killSignal ?? 'SIGTERM');
  while (alive().length > 0 && Date.now() < deadline) await sleep(POLL_MS);
  const stubborn = alive();
  // Even with SendSIGKILL=no: a unit left running here would run twice once the engine moves it.
  for (const g of stubborn) sendGroup(g, 'SIGKILL');
  if (recipe) for (const cmd of recipe.execStopPost) await runControl(cmd, recipe, Date.now() + Math.min(recipe.timeoutStopMs, budgetMs), log);
  log(
    'warn',
    `stopped ${unit} left running by its dead agent (${groups.length} process group(s)${recipe?.execStop.length ? ', ExecStop= ran' : ''}` +
      `${stubborn.length > 0 ? `, ${stubborn.length} killed at the deadline` : ''})`,
  );
}

/** Stop what the agent of `stateDir` left running. Returns the units stopped. */
export async function stopLeftovers(stateDir: string, budgetMs: number, log: Log): Promise<string[]> {
  const groups = leftGroups(stateDir);
  if (groups.size === 0) return [];
  const known = recipes(stateDir);
  await Promise.all([...groups].map(([unit, pgids]) => stopUnit(unit, pgids, known.get(unit), budgetMs, log)));
  return [...groups.keys()];
}

/** `fleetd __watchdog STATE_DIR BUDGET_MS`: wait for stdin to close, then stop the leftovers. */
export async function watchdogMain(args: readonly string[]): Promise<number> {
  const [stateDir, budgetText] = args;
  const budgetMs = Number(budgetText);
  if (!stateDir || !(budgetMs > 0)) {
    process.stderr.write('fleetd __watchdog: usage: fleetd __watchdog STATE_DIR BUDGET_MS (started by `fleetd agent`, not by hand)\n');
    return 2;
  }
  const log: Log = (level, message) => process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} fleetd watchdog: ${message}\n`);
  await new Promise<void>(resolve => {
    process.stdin.on('end', resolve);
    process.stdin.on('error', () => resolve());
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
  await stopLeftovers(stateDir, budgetMs, log);
  return 0;
}
