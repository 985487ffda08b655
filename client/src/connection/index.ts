/**
 * The client's connection layer (plain Node, no `vscode`): cluster profiles, known_hosts, SSH
 * tunnels, and the FleetApi factory. The UI wraps it:
 *
 *   const { profiles, problems } = resolveProfiles(config.get('fleet.clusters', []), process.env);
 *   const api = createFleetApi(profile, {
 *     confirmUnknownHost: (host, fingerprint, keyType, notes) => askUser(host, fingerprint, keyType, notes),  // modal prompt
 *     log: (level, line) => output[level](line),                   // progress at info, warnings at warn
 *   });
 *   await api.listUnits();   // FleetApiError: .kind 'http' | 'network' | 'ssh' | 'tls' | 'config', message names the fix
 *   api.dispose();           // closes the tunnel too
 */
export * from './connect';
export * from './knownHosts';
export * from './profile';
export * from './tunnel';
