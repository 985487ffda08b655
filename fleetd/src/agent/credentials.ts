/**
 * User=, Group= and SupplementaryGroups= (issue 12, item 2), with systemd's semantics where a
 * process manager without systemd can have them: names or numbers, looked up in /etc/passwd and
 * /etc/group at each start; a missing user or group fails the start (systemd: 217/USER,
 * 216/GROUP); the user's own group memberships are kept (initgroups) plus SupplementaryGroups=;
 * HOME, USER, LOGNAME and SHELL follow the user. Switching users needs root: when fleetd is not
 * root, a unit asking for credentials other than fleetd's own fails with a clear detail instead of
 * silently running as the caller.
 */
import fs from 'node:fs';

export interface Credentials {
  uid: number;
  gid: number;
  /** Supplementary groups (without `gid`). */
  groups: number[];
  /** Variables systemd sets for User=. */
  env: Record<string, string>;
  /** False when they are fleetd's own (nothing to switch). */
  switchNeeded: boolean;
}

export interface CredentialRequest {
  user?: string;
  group?: string;
  supplementaryGroups: readonly string[];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function readLines(file: string): string[][] {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(l => l && !l.startsWith('#'))
      .map(l => l.split(':'));
  } catch {
    return [];
  }
}

function lookupUser(nameOrId: string): PasswdEntry | undefined {
  const numeric = /^\d+$/.test(nameOrId);
  for (const f of readLines('/etc/passwd')) {
    if (f.length < 7) continue;
    if (numeric ? f[2] === nameOrId : f[0] === nameOrId) return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
  }
  // systemd accepts a numeric UID without a passwd entry.
  return numeric ? { name: nameOrId, uid: Number(nameOrId), gid: Number(nameOrId), home: '/', shell: '/bin/sh' } : undefined;
}

function lookupGroup(nameOrId: string): number | undefined {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  for (const f of readLines('/etc/group')) if (f[0] === nameOrId && f.length >= 3) return Number(f[2]);
  return undefined;
}

/** The groups /etc/group lists `user` as a member of (what initgroups adds). */
function membershipsOf(user: string): number[] {
  return readLines('/etc/group')
    .filter(f => (f[3] ?? '').split(',').includes(user))
    .map(f => Number(f[2]));
}

/** undefined: no credentials asked for (run as fleetd); a string: why the start fails. */
export function resolveCredentials(req: CredentialRequest): Credentials | string | undefined {
  if (req.user === undefined && req.group === undefined && req.supplementaryGroups.length === 0) return undefined;
  const myUid = process.getuid?.() ?? 0;
  const myGid = process.getgid?.() ?? 0;
  let uid = myUid;
  let gid = myGid;
  let groups: number[] = [];
  const env: Record<string, string> = {};
  if (req.user !== undefined) {
    const u = lookupUser(req.user);
    if (!u) return `User=${req.user}: no such user (status 217/USER); create the user or fix User=`;
    uid = u.uid;
    gid = u.gid;
    groups = membershipsOf(u.name);
    Object.assign(env, { USER: u.name, LOGNAME: u.name, HOME: u.home, SHELL: u.shell });
  }
  if (req.group !== undefined) {
    const g = lookupGroup(req.group);
    if (g === undefined) return `Group=${req.group}: no such group (status 216/GROUP); create the group or fix Group=`;
    gid = g;
  }
  for (const name of req.supplementaryGroups) {
    const g = lookupGroup(name);
    if (g === undefined) return `SupplementaryGroups=${name}: no such group (status 216/GROUP); create the group or fix SupplementaryGroups=`;
    groups.push(g);
  }
  groups = [...new Set(groups)].filter(g => g !== gid);
  const mine = new Set(process.getgroups?.() ?? []);
  const switchNeeded = uid !== myUid || gid !== myGid || groups.some(g => !mine.has(g));
  if (switchNeeded && myUid !== 0) {
    const what = uid !== myUid ? `User=${req.user}` : gid !== myGid ? `Group=${req.group}` : `SupplementaryGroups=${req.supplementaryGroups.join(' ')}`;
    return `${what}: fleetd runs as uid ${myUid}, not as root, so it cannot run units as another user or group; ` + 'remove the setting, or run fleetd as root';
  }
  return { uid, gid, groups, env, switchNeeded };
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

/**
 * How to spawn `path argv…` with the credentials: Node's spawn sets uid and gid and drops every
 * supplementary group, so with supplementary groups the command runs through util-linux's
 * setpriv, which sets all three. A string: why it cannot.
 */
export function spawnWith(c: Credentials, path: string, args: readonly string[]): { path: string; args: string[]; uid?: number; gid?: number } | string {
  if (!c.switchNeeded) return { path, args: [...args] };
  if (c.groups.length === 0) return { path, args: [...args], uid: c.uid, gid: c.gid };
  const setpriv = SETPRIV.find(p => fs.existsSync(p));
  if (!setpriv) return 'supplementary groups need setpriv (util-linux), which is not installed; install util-linux or remove SupplementaryGroups=';
  return { path: setpriv, args: [`--reuid=${c.uid}`, `--regid=${c.gid}`, `--groups=${c.groups.join(',')}`, '--', path, ...args] };
}
