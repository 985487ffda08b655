/** Pure scheduling decisions: the engine's planCluster and grace for missing machines (and the agent's planMachine). */
export * from './snapshot';
export * from './checks';
export * from './planCluster';
export * from './planMachine';
export * from './machineGrace';
export * from './preview';
