/** `/state` and `/state/{name}` (fleet's api/state.go), plus the `detail` extension. */
import type { ApiUnitState, UnitStatePage } from '../../../protocol/src/api';
import type { ApiRegistry, UnitStateRecord } from '../registry';
import { ApiError } from './errors';
import { pageOf, pageTokenFrom } from './pagination';

export function toApiState(s: UnitStateRecord): ApiUnitState {
  const out: ApiUnitState = { name: s.name };
  if (s.hash) out.hash = s.hash;
  if (s.machineId) out.machineID = s.machineId;
  if (s.loadState) out.systemdLoadState = s.loadState;
  if (s.activeState) out.systemdActiveState = s.activeState;
  if (s.subState) out.systemdSubState = s.subState;
  if (s.detail) out.detail = s.detail;
  return out;
}

export class StateResource {
  constructor(
    private readonly registry: ApiRegistry,
    private readonly tokenLimit: number,
  ) {}

  /** Every state as the list shows it. */
  async all(): Promise<ApiUnitState[]> {
    return (await this.registry.listUnitStates()).map(toApiState);
  }

  /** Filters (exact match, first value of each) apply before pagination (`pageSize`: fleetd's extension); `source` gives the whole, unfiltered list. */
  async list(query: URLSearchParams, source: () => Promise<readonly ApiUnitState[]> = () => this.all()): Promise<UnitStatePage> {
    const tok = pageTokenFrom(query.getAll('nextPageToken'), this.tokenLimit, query.getAll('pageSize'));
    const machineId = query.get('machineID') ?? '';
    const unitName = query.get('unitName') ?? '';
    const states = (await source()).filter(s => (machineId === '' || s.machineID === machineId) && (unitName === '' || s.name === unitName));
    const { items, next } = pageOf(states, tok);
    const page: UnitStatePage = {};
    if (items.length > 0) page.states = items;
    if (next) page.nextPageToken = next;
    return page;
  }

  /** The first state found for the unit, on any machine (fleet). */
  async get(name: string): Promise<ApiUnitState> {
    const state = (await this.registry.listUnitStates()).find(s => s.name === name);
    if (!state) throw new ApiError(404, 'unit state does not exist');
    return toApiState(state);
  }
}
