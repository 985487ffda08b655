/**
 * Cluster profiles: where a fleet API is and how to reach it (directly, or through an SSH
 * tunnel as `fleetctl --tunnel` does). `resolveProfiles` turns the user's `fleet.clusters`
 * setting plus fleetctl's `FLEETCTL_*` environment into validated profiles, and every
 * rejected value into a problem that names the profile, the field and the fix. The pieces:
 * `profileTypes.ts` (the profile, its defaults and fields), `profileFields.ts` (one parser per
 * field), `profileDrafts.ts` (a draft from a settings entry or from FLEETCTL_*); here, what makes
 * a draft a profile: ~/.ssh/config for the tunnel host, the checks across fields, the defaults.
 *
 * Plain Node: no `vscode` import. The only I/O is reading ~/.ssh/config (overridable).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';
import { errorMessage } from '../../../protocol/src/log';
import { driverOf, expandHome } from './profileFields';
import { crossCheck, environmentDraft, settingsDraft, type Draft } from './profileDrafts';
import {
  DEFAULT_ETCD_KEY_PREFIX,
  DEFAULT_KNOWN_HOSTS_FILE,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SSH_PORT,
  DEFAULT_SSH_TIMEOUT_MS,
  DEFAULT_SSH_USER,
  ENVIRONMENT_PROFILE_NAME,
  FLEETCTL_ENV,
  type ClusterProfile,
  type ProfileProblem,
  type ResolvedProfiles,
  type ResolveOptions,
  type SshTarget,
} from './profileTypes';

export * from './profileTypes';
export * from './profileFields';

function loadSshConfig(options: ResolveOptions, home: string, problems: ProfileProblem[]): SSHConfig | undefined {
  let text = options.sshConfig;
  const file = path.join(home, '.ssh', 'config');
  if (text === undefined) {
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        problems.push({ profile: '~/.ssh/config', severity: 'warning', message: `cannot read ${file}: ${errorMessage(err)}; host aliases are ignored` });
      }
      return undefined;
    }
  }
  if (text.trim() === '') return undefined;
  try {
    return SSHConfig.parse(text);
  } catch (err) {
    problems.push({ profile: '~/.ssh/config', severity: 'warning', message: `cannot parse ${file}: ${errorMessage(err)}; host aliases are ignored` });
    return undefined;
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Applies ~/.ssh/config (`HostName`, `Port`, `User`, `IdentityFile`) to the tunnel host; the profile's own values win. */
function sshTarget(draft: Draft, sshConfig: SSHConfig | undefined, home: string, problems: ProfileProblem[]): SshTarget | undefined {
  if (!draft.tunnel) return undefined;
  const computed = sshConfig?.compute(draft.tunnel.host) ?? {};
  for (const unsupported of ['ProxyJump', 'ProxyCommand']) {
    if (computed[unsupported] !== undefined && first(computed[unsupported]) !== 'none') {
      problems.push({
        profile: draft.name,
        field: 'tunnel',
        severity: 'warning',
        message: `profile "${draft.name}": ~/.ssh/config sets ${unsupported} for ${draft.tunnel.host}, which the extension does not follow (nor does fleetctl); the tunnel dials it directly. Use the jump host itself as the tunnel.`,
      });
    }
  }
  const hostName = first(computed['HostName']);
  const configPort = Number(first(computed['Port']));
  const configUser = first(computed['User']);
  const configIdentity = first(computed['IdentityFile']);
  const host = hostName ? hostName.replace(/%h/g, draft.tunnel.host) : draft.tunnel.host;
  const identity = draft.identityFile ? expandHome(draft.identityFile, home) : configIdentity ? expandHome(configIdentity, home) : undefined;
  return {
    host,
    port: draft.tunnel.port ?? (Number.isInteger(configPort) && configPort > 0 ? configPort : DEFAULT_SSH_PORT),
    user: draft.sshUser ?? configUser ?? DEFAULT_SSH_USER,
    ...(host !== draft.tunnel.host ? { alias: draft.tunnel.host } : {}),
    ...(identity ? { identityFile: identity } : {}),
  };
}

function finish(draft: Draft, sshConfig: SSHConfig | undefined, home: string, problems: ProfileProblem[]): ClusterProfile {
  const target = sshTarget(draft, sshConfig, home, problems);
  const profile: ClusterProfile = {
    name: draft.name,
    endpoint: draft.endpoint,
    driver: driverOf(draft),
    etcdKeyPrefix: draft.etcdKeyPrefix ?? DEFAULT_ETCD_KEY_PREFIX,
    sshUser: target?.user ?? draft.sshUser ?? DEFAULT_SSH_USER,
    knownHostsFile: expandHome(draft.knownHostsFile ?? DEFAULT_KNOWN_HOSTS_FILE, home),
    strictHostKeyChecking: draft.strictHostKeyChecking ?? true,
    requestTimeoutMs: draft.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    sshTimeoutMs: draft.sshTimeoutMs ?? DEFAULT_SSH_TIMEOUT_MS,
    source: draft.source,
  };
  if (draft.tunnel && target) {
    profile.tunnel = `${draft.tunnel.host.includes(':') ? `[${draft.tunnel.host}]` : draft.tunnel.host}:${draft.tunnel.port ?? target.port}`;
    profile.tunnelTarget = target;
  }
  const identity = target?.identityFile ?? (draft.identityFile ? expandHome(draft.identityFile, home) : undefined);
  if (identity) profile.identityFile = identity;
  if (draft.caFile) profile.caFile = expandHome(draft.caFile, home);
  if (draft.certFile) profile.certFile = expandHome(draft.certFile, home);
  if (draft.keyFile) profile.keyFile = expandHome(draft.keyFile, home);
  return profile;
}

/**
 * Validated profiles from `fleet.clusters` (in order) and the FLEETCTL_* environment.
 * The environment profile ("FLEETCTL environment") comes last; it is present when any
 * FLEETCTL_* variable is set, or when the settings define no usable profile (then it is what
 * fleetctl would use with no flags: unix:///var/run/fleet.sock).
 * Profiles with errors are left out; warnings keep the profile.
 */
export function resolveProfiles(settings: readonly unknown[], env: NodeJS.ProcessEnv, options: ResolveOptions = {}): ResolvedProfiles {
  const problems: ProfileProblem[] = [];
  const home = options.home ?? (env['HOME'] || os.homedir());
  const sshConfig = loadSshConfig(options, home, problems);
  const profiles: ClusterProfile[] = [];
  const seen = new Set<string>();
  if (!Array.isArray(settings)) {
    problems.push({ profile: 'fleet.clusters', severity: 'error', message: 'fleet.clusters must be a list of cluster objects' });
  } else {
    settings.forEach((raw, index) => {
      const draft = settingsDraft(raw, index, problems);
      if (!draft) return;
      if (seen.has(draft.name) || draft.name === ENVIRONMENT_PROFILE_NAME) {
        problems.push({
          profile: draft.name,
          field: 'name',
          severity: 'error',
          message: `fleet.clusters[${index}]: the name "${draft.name}" is already used; give each cluster a unique name`,
        });
        return;
      }
      seen.add(draft.name);
      profiles.push(finish(draft, sshConfig, home, problems));
    });
  }
  const envSet = FLEETCTL_ENV.some(key => (env[key] ?? '') !== '');
  if (envSet || profiles.length === 0) {
    const draft = environmentDraft(env, problems);
    if (crossCheck(draft, problems)) profiles.push(finish(draft, sshConfig, home, problems));
  }
  return { profiles, problems };
}

/** A short description for pickers and logs: `core@bastion:22 → unix:///var/run/fleet.sock`. */
export function describeProfile(profile: ClusterProfile): string {
  const target = profile.driver === 'etcd' ? `etcd ${profile.endpoint}` : profile.endpoint;
  if (!profile.tunnelTarget) return target;
  const t = profile.tunnelTarget;
  const host = t.alias ?? t.host;
  return `${t.user}@${host.includes(':') ? `[${host}]` : host}:${t.port} → ${target}`;
}
