/**
 * From a ClusterProfile to a FleetApi: reads the TLS files, builds the SSH tunnel when the
 * profile has one, and wires them into HttpFleetApi (fleet's HTTP API) or EtcdFleetApi (fleet's
 * registry in etcd, as fleetctl --driver=etcd). The UI passes its prompt in as a callback.
 * Plain Node: no `vscode` import.
 */
import fs from 'node:fs';
import { errorMessage } from '../../../protocol/src/log';
import { EtcdFleetApi } from '../api/etcdFleetApi';
import { HttpFleetApi } from '../api/fleetApi';
import { FleetApiError, type FleetApi } from '../api/types';
import { describeProfile, type ClusterProfile } from './profile';
import type { SshCredentials } from './sshSession';
import { SshTunnel } from './tunnel';

/** The prompt for the tunnel host's unknown key (absent: unknown hosts are refused), the log, the environment. */
export type ConnectDeps = Pick<SshCredentials, 'confirmUnknownHost' | 'log' | 'env'>;

function readPem(profile: ClusterProfile, field: 'caFile' | 'certFile' | 'keyFile'): Buffer | undefined {
  const file = profile[field];
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new FleetApiError(
      `profile "${profile.name}": cannot read ${field} ${file}: ${errorMessage(err)}. Fix ${field} in the cluster profile.`,
      undefined,
      'config',
    );
  }
}

/** A FleetApi for the profile. Throws FleetApiError('config') when a file it names cannot be read. */
export function createFleetApi(profile: ClusterProfile, deps: ConnectDeps = {}): FleetApi {
  const ca = readPem(profile, 'caFile');
  const cert = readPem(profile, 'certFile');
  const key = readPem(profile, 'keyFile');
  const tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  const target = profile.tunnelTarget;
  const tunnel = target
    ? new SshTunnel({
        host: target.host,
        port: target.port,
        username: target.user,
        displayHost: target.alias,
        identityFile: profile.identityFile,
        knownHostsFile: profile.knownHostsFile,
        strictHostKeyChecking: profile.strictHostKeyChecking,
        timeoutMs: profile.sshTimeoutMs,
        confirmUnknownHost: deps.confirmUnknownHost,
        log: deps.log,
        env: deps.env,
      })
    : undefined;
  if (profile.driver === 'etcd') {
    return new EtcdFleetApi({
      endpoint: profile.endpoint,
      prefix: profile.etcdKeyPrefix,
      label: describeProfile(profile),
      requestTimeoutMs: profile.requestTimeoutMs,
      tls,
      ...(tunnel ? { dial: (t, signal) => tunnel.dial(t, signal), onDispose: () => tunnel.dispose() } : {}),
    });
  }
  return new HttpFleetApi({
    endpoint: profile.endpoint,
    label: describeProfile(profile),
    requestTimeoutMs: profile.requestTimeoutMs,
    tls,
    ...(tunnel ? { dial: (t, signal) => tunnel.dial(t, signal), onDispose: () => tunnel.dispose() } : {}),
  });
}
