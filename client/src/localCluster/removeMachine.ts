/**
 * Fleet: Remove Machine's request: `DELETE /fleet/v1/machines/{id}` to the local cluster's fleetd
 * (a fleetd extension, over its unix socket or TCP), which answers once the machine has stopped
 * its units. Plain Node; no `vscode` import.
 */
import http from 'node:http';

/** How long the removal may take: the machine's units each get up to their TimeoutStopSec= (90 s by default). */
export const REMOVE_TIMEOUT_MS = 5 * 60_000;

/** Sends the removal; rejects with fleetd's own message (it names the machine and the fix). */
export function removeLocalMachine(url: string, machineId: string, timeoutMs = REMOVE_TIMEOUT_MS): Promise<void> {
  const path = `/fleet/v1/machines/${encodeURIComponent(machineId)}`;
  const target = url.startsWith('unix://')
    ? { socketPath: url.slice('unix://'.length), path }
    : { host: new URL(url).hostname, port: Number(new URL(url).port), path };
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method: 'DELETE', timeout: timeoutMs }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body = (body + c).slice(0, 64 * 1024)));
      res.on('end', () => {
        if (res.statusCode === 204) return resolve();
        let message = body.trim();
        try {
          message = (JSON.parse(body) as { error?: { message?: string } }).error?.message || message;
        } catch {
          // not fleet's error body: keep the text
        }
        reject(new Error(`Could not remove machine ${machineId}: ${message || `HTTP ${res.statusCode}`}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`Removing machine ${machineId} took longer than ${timeoutMs / 1000} s; see Fleet: Show Local Cluster Logs`)));
    req.on('error', err =>
      reject(
        err.message.startsWith('Removing machine')
          ? err
          : new Error(`Could not reach the local cluster at ${url} to remove machine ${machineId}: ${err.message}`),
      ),
    );
    req.end();
  });
}
