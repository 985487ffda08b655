/** Machine identity kept in a state dir, so a restarted machine keeps its ID (as /etc/machine-id does). */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function machineIdIn(stateDir: string): string {
  const file = path.join(stateDir, 'machine-id');
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{32}$/.test(id)) return id;
  } catch {
    // absent: create below
  }
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const id = randomBytes(16).toString('hex');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${id}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return id;
}

export function describeMachine(m: { id: string; publicIP: string; metadata: Record<string, string> }): string {
  const md = Object.entries(m.metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `fleetd: machine ${m.id} ${m.publicIP || '-'} ${md || '-'}`;
}
