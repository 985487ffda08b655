/** The client's connection layer (plain Node): profiles, known_hosts, SSH tunnels, and the FleetApi factory. */
export * from './connect';
export * from './knownHosts';
export * from './profile';
export * from './tunnel';
