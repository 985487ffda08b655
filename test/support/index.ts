/** Helpers for integration tests: private etcd, sshd + ssh-agent, free ports, process groups, requirements. */
export * from './etcd';
export * from './fleetHttp';
export * from './ports';
export * from './process';
export * from './requirements';
export * from './sshd';
export * from './fleetdLocal';
