/**
 * Units inherit no file descriptor but 0-2 (issue 12, item 7). Node opens its own descriptors
 * close-on-exec, and libuv's spawn closes none: a descriptor fleetd itself inherited without
 * close-on-exec (a shell's `exec 30<secret`, a parent's leaked pipe) would reach every machine
 * process and every unit. fleetd uses none of them, so it closes them at start. Linux only
 * (/proc/self/fdinfo); elsewhere it does nothing.
 */
import fs from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Close every descriptor above 2 that is not close-on-exec (except Node's IPC channel); returns them. */
export function closeInheritedDescriptors(): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const keep = new Set([process.env.NODE_CHANNEL_FD].filter(Boolean).map(Number));
  const closed: number[] = [];
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2 || keep.has(fd)) continue;
    let info: string;
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // the directory descriptor readdir used, already closed
    }
    const flags = /^flags:\s+([0-7]+)/m.exec(info);
    if (!flags || (parseInt(flags[1]!, 8) & O_CLOEXEC) !== 0) continue;
    try {
      fs.closeSync(fd);
      closed.push(fd);
    } catch {
      // gone meanwhile
    }
  }
  return closed;
}
