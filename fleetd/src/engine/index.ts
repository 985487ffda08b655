/** fleetd's engine role: leader election and the cluster reconcile loop. */
export { startEngine, type Engine, type EngineOptions } from './engine';
export { reconcileOnce, ActionsFailedError, type PassResult, type Log } from './reconcile';
