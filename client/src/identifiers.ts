/**
 * The client's identifiers that several of its parts share, written once: the command ids of the
 * cluster UI (package.json lists the same ids), the view ids, and the URI schemes of the
 * read-only registry copies.
 */

import { LensCommands } from '../../protocol/src/lsp';

/** Every command id the cluster UI contributes (the code lenses' own from protocol). */
export const Commands = {
  refreshCluster: 'fleet.refreshCluster',
  retryConnection: 'fleet.retryConnection',
  selectCluster: 'fleet.selectCluster',
  addCluster: 'fleet.addCluster',
  editCluster: 'fleet.editCluster',
  setExplorerGrouping: 'fleet.setExplorerGrouping',
  setExplorerSorting: 'fleet.setExplorerSorting',
  submitUnit: 'fleet.submitUnit',
  loadUnit: 'fleet.loadUnit',
  startUnit: LensCommands.start,
  stopUnit: LensCommands.stop,
  unloadUnit: 'fleet.unloadUnit',
  destroyUnit: 'fleet.destroyUnit',
  replaceUnit: LensCommands.replace,
  showUnitFile: 'fleet.showUnitFile',
  showUnitStatus: LensCommands.status,
  showUnitJournal: LensCommands.journal,
  copyMachineId: 'fleet.copyMachineId',
  openMachineShell: 'fleet.openMachineShell',
  removeMachine: 'fleet.removeMachine',
  startUnitsMatching: 'fleet.startUnitsMatching',
  createTemplateInstances: LensCommands.createInstances,
  startLocalCluster: 'fleet.startLocalCluster',
  stopLocalCluster: 'fleet.stopLocalCluster',
  showLocalClusterLogs: 'fleet.showLocalClusterLogs',
  openSampleUnits: 'fleet.openSampleUnits',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  container: 'fleet',
  machines: 'fleet.machines',
  units: 'fleet.units',
} as const;

/** The `fleet-unit:` scheme of read-only registry copies, and `fleet-status:` for unit status pages. */
export const UNIT_SCHEME = 'fleet-unit';
export const STATUS_SCHEME = 'fleet-status';
