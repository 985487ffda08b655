/**
 * fleet's v1 HTTP API wire types (fleet-reference §3.3, fleet's schema/v1.json), plus the
 * extension fields fleetd adds. Go's `omitempty` applies to every field: empty strings, maps and
 * arrays are omitted on the wire, which is why almost everything is optional here.
 * fleetctl's JSON decoder ignores unknown fields, so extensions are safe.
 */

export type JobState = 'inactive' | 'loaded' | 'launched';
export const JOB_STATES: readonly JobState[] = ['inactive', 'loaded', 'launched'];

export namespace JobState {
  export function is(value: unknown): value is JobState {
    return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
  }
}

export interface ApiUnitOption {
  section: string;
  name: string;
  /** Omitted when empty. */
  value?: string;
}

export interface ApiUnit {
  name: string;
  options?: ApiUnitOption[];
  desiredState?: JobState;
  currentState?: JobState;
  /** The machine the unit is scheduled to. */
  machineID?: string;
  /**
   * fleetd extension: why a unit with desiredState ≠ inactive is not scheduled
   * (e.g. `no machine has metadata region=west`). Absent when scheduled or inactive.
   */
  reason?: string;
}

export interface ApiUnitState {
  name: string;
  /** 40-hex SHA-1 of the unit file the agent loaded. */
  hash?: string;
  machineID?: string;
  systemdLoadState?: string;
  systemdActiveState?: string;
  systemdSubState?: string;
  /**
   * fleetd extension: what the agent wants the user to know about this unit on this machine
   * (unsupported directives, the last exit status, a failed start).
   */
  detail?: string;
}

export interface ApiMachine {
  id: string;
  primaryIP?: string;
  metadata?: Record<string, string>;
}

export interface UnitPage {
  units?: ApiUnit[];
  nextPageToken?: string;
}

export interface UnitStatePage {
  states?: ApiUnitState[];
  nextPageToken?: string;
}

export interface MachinePage {
  machines?: ApiMachine[];
  nextPageToken?: string;
}

/** `{"error":{"code":…,"message":…}}` */
export interface ApiErrorBody {
  error: { code: number; message: string };
}

/** One operation of `PATCH /fleet/v1/machines` (the value is nested, as fleet requires). */
export interface MachinePatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: { value: string };
}

/** fleetd extension: `GET /fleet/v1/journal/{unit}` answers with these lines (or streams them with `follow=true`). */
export interface JournalLine {
  /** Milliseconds since the epoch. */
  time: number;
  machineID: string;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
}
