/** Writes and removes this `fleetd local`'s record (protocol/src/localCluster.ts) so an editor can adopt it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localClusterDir, type LocalClusterRecord } from '../../../protocol/src/localCluster';
import { errorMessage, type Log } from '../../../protocol/src/log';

/** Where this process's stderr goes, when it is a regular file (e.g. `npm start`'s fleetd.log). */
function outputFile(): string | undefined {
  try {
    const target = fs.readlinkSync('/proc/self/fd/2');
    return target.startsWith('/') && fs.statSync(target).isFile() ? target : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the record (0600 in a 0700 directory); returns the function that removes it. */
export function publishLocalCluster(record: Omit<LocalClusterRecord, 'pid' | 'startedAt' | 'logFile'>, log: Log): () => void {
  const dir = localClusterDir(process.env, os.homedir());
  const file = path.join(dir, `${process.pid}.json`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const full: LocalClusterRecord = { pid: process.pid, ...record, startedAt: Date.now() };
    const logFile = outputFile();
    if (logFile) full.logFile = logFile;
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(full)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (err) {
    log('warn', `cannot write the local cluster record ${file} (editors will not find this cluster): ${errorMessage(err)}`);
    return () => undefined;
  }
  return () => fs.rmSync(file, { force: true });
}
