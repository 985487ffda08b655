/**
 * The synthetic cluster the map and model benchmarks and the map's tests use, as fleet's wire
 * JSON: `machines` machines (`<8 hex>aaaa…`, a region each), `units` launched units
 * `app-<i % 50>.<i>.service` of which a tenth follow the previous unit (MachineOf) and a fifth
 * carry a Conflicts glob, every unit active on its machine.
 */
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';

export interface SyntheticCluster {
  machines: ApiMachine[];
  units: ApiUnit[];
  states: ApiUnitState[];
}

export function syntheticCluster(machines: number, units: number): SyntheticCluster {
  const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
  const ms: ApiMachine[] = Array.from({ length: machines }, (_, i) => ({
    id: `${hex(i + 1, 8)}${'a'.repeat(24)}`,
    primaryIP: `10.0.${i >> 8}.${i & 255}`,
    metadata: { region: ['east', 'west', 'north'][i % 3]! },
  }));
  const us: ApiUnit[] = [];
  const states: ApiUnitState[] = [];
  for (let i = 0; i < units; i++) {
    const name = `app-${i % 50}.${i}.service`;
    const options = [{ section: 'Service', name: 'ExecStart', value: `/bin/sleep ${i}` }];
    if (i % 10 === 1) options.push({ section: 'X-Fleet', name: 'MachineOf', value: `app-${(i - 1) % 50}.${i - 1}.service` });
    else if (i % 5 === 2) options.push({ section: 'X-Fleet', name: 'Conflicts', value: `app-${i % 50}.*.service` });
    const machineID = ms[(i % 10 === 1 ? i - 1 : i) % machines]!.id;
    us.push({ name, options, desiredState: 'launched', currentState: 'launched', machineID });
    states.push({ name, hash: hex(i, 40), machineID, systemdLoadState: 'loaded', systemdActiveState: 'active', systemdSubState: 'running' });
  }
  return { machines: ms, units: us, states };
}
