/**
 * `/units` and `/units/{name}` (fleet's api/units.go), with fleet's PUT decision order:
 * 415 → 400 (body) → 400 (name) → create (409/400/201) → replace (201) → update (409/400/204).
 * Validation is the unitfile core's `validateUnitName` and `validateOptions`, the functions the
 * editor's diagnostics use, with the same text; like fleet, a replacement (an existing unit, other
 * options) skips `validateOptions`.
 */
import { goQuote, isGlobalUnit, isTemplateName, unitHash, validateOptions, validateUnitName, type UnitOption } from '../../../unitfile/src';
import { JobState, type ApiUnit, type ApiUnitOption, type UnitPage } from '../../../protocol/src/api';
import type { ApiRegistry, ScheduleEntry, UnitRecord, UnitStateRecord } from '../registry';
import { ApiError } from './errors';
import { decodeFirst, forEachField, GoJsonError, isJsonObject, TypeErrors, type JsonValue } from './goJson';
import { pageOf, pageTokenFrom } from './pagination';

/** The body of PUT /units/{name}, decoded as fleet's schema.Unit. */
export interface UnitBody {
  name: string;
  options: UnitOption[];
  desiredState: string;
}

/** fleet's validateContentType. */
export function checkContentType(values: readonly string[]): void {
  if (values.length !== 1) throw new ApiError(415, `expected 1 Content-Type, got ${values.length}`);
  const media = values[0]!.split(';', 1)[0]!.trim();
  if (media !== 'application/json') throw new ApiError(415, 'only acceptable Content-Type is application/json');
}

/** JSON text → schema.Unit, with Go's decoding errors wrapped as fleet does. */
export function decodeUnitBody(text: string): UnitBody {
  try {
    const value = decodeFirst(text);
    const errors = new TypeErrors();
    const body: UnitBody = { name: '', options: [], desiredState: '' };
    if (isJsonObject(value)) {
      forEachField(value, ['currentState', 'desiredState', 'machineID', 'name', 'options'], (name, v) => {
        if (name === 'options') {
          const options = decodeOptions(v, errors);
          if (options) body.options = options;
          return;
        }
        const text = errors.string(v, 'Unit', name);
        if (text === undefined) return;
        if (name === 'name') body.name = text;
        else if (name === 'desiredState') body.desiredState = text;
        // currentState and machineID are read-only: type-checked, then ignored.
      });
    } else if (value !== null) {
      errors.topLevel(value, 'schema.Unit');
    }
    errors.throwIfAny();
    return body;
  } catch (err) {
    if (err instanceof GoJsonError) throw new ApiError(400, `unable to decode body: ${err.message}`);
    throw err;
  }
}

/** undefined for null (the field is left alone). */
function decodeOptions(value: JsonValue, errors: TypeErrors): UnitOption[] | undefined {
  if (value === null) return undefined;
  if (!Array.isArray(value)) {
    errors.mismatch(value, 'Unit', 'options', '[]*schema.UnitOption');
    return undefined;
  }
  const out: UnitOption[] = [];
  for (const [index, item] of value.entries()) {
    // A null element is a nil *UnitOption in Go, on which fleet's handler panics (the client sees
    // the connection drop). Refuse it with a message instead.
    if (item === null) throw new ApiError(400, `unable to decode body: options[${index}] is null (expected {"section","name","value"})`);
    if (!isJsonObject(item)) {
      errors.mismatch(item, 'Unit', 'options', 'schema.UnitOption');
      continue;
    }
    const option: UnitOption = { section: '', name: '', value: '' };
    forEachField(item, ['name', 'section', 'value'], (name, v) => {
      const text = errors.string(v, 'UnitOption', `options.${name}`);
      if (text !== undefined) option[name as 'name' | 'section' | 'value'] = text;
    });
    out.push(option);
  }
  return out;
}

export function toApiOptions(options: readonly UnitOption[]): ApiUnitOption[] {
  return options.map(o => (o.value === '' ? { section: o.section, name: o.name } : { section: o.section, name: o.name, value: o.value }));
}

/**
 * fleet's determineJobState: inactive without a target or without a state published by the target
 * machine; launched when the target's heartbeat says so; loaded otherwise.
 */
export function currentStateOf(entry: ScheduleEntry | undefined, reporters: ReadonlySet<string> | undefined): JobState {
  if (!entry || !reporters?.has(entry.machineId)) return 'inactive';
  return entry.launchedOn === entry.machineId ? 'launched' : 'loaded';
}

export interface UnitView {
  unit: UnitRecord;
  schedule: ReadonlyMap<string, ScheduleEntry>;
  /** unit name → machines that published a state for it. */
  reporters: ReadonlyMap<string, ReadonlySet<string>>;
  reasons: ReadonlyMap<string, string>;
  /** fleet's single GET omits currentState and machineID of global units; its list does not. */
  single: boolean;
}

export function toApiUnit({ unit, schedule, reporters, reasons, single }: UnitView): ApiUnit {
  const out: ApiUnit = { name: unit.name };
  if (unit.options.length > 0) out.options = toApiOptions(unit.options);
  out.desiredState = unit.desiredState;
  const global = isGlobalUnit(unit.options);
  const entry = global ? undefined : schedule.get(unit.name);
  if (!(global && single)) out.currentState = currentStateOf(entry, reporters.get(unit.name));
  if (entry?.machineId) out.machineID = entry.machineId;
  const reason = reasons.get(unit.name);
  if (reason && unit.desiredState !== 'inactive' && !entry) out.reason = reason;
  return out;
}

export function reportersOf(states: readonly UnitStateRecord[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of states) {
    let set = out.get(s.name);
    if (!set) out.set(s.name, (set = new Set()));
    set.add(s.machineId);
  }
  return out;
}

export class UnitsResource {
  constructor(
    private readonly registry: ApiRegistry,
    private readonly tokenLimit: number,
  ) {}

  /** Every unit as the list shows it (one read of units, schedule, states and reasons). */
  async all(): Promise<ApiUnit[]> {
    const [units, schedule, states, reasons] = await Promise.all([
      this.registry.listUnits(),
      this.registry.getSchedule(),
      this.registry.listUnitStates(),
      this.registry.getUnitReasons(),
    ]);
    const reporters = reportersOf(states);
    return units.map(unit => toApiUnit({ unit, schedule, reporters, reasons, single: false }));
  }

  /** One page (of `pageSize` units when asked, fleetd's extension); `source` gives the whole list (default: a fresh read), e.g. from a page walk's snapshot. */
  async list(
    pageTokens: readonly string[],
    source: () => Promise<readonly ApiUnit[]> = () => this.all(),
    pageSizes: readonly string[] = [],
  ): Promise<UnitPage> {
    const tok = pageTokenFrom(pageTokens, this.tokenLimit, pageSizes);
    const { items, next } = pageOf(await source(), tok);
    const page: UnitPage = {};
    if (items.length > 0) page.units = items;
    if (next) page.nextPageToken = next;
    return page;
  }

  async get(name: string): Promise<ApiUnit> {
    if (this.registry.unitDetail) {
      const detail = await this.registry.unitDetail(name);
      if (!detail) throw new ApiError(404, 'unit does not exist');
      return toApiUnit({ unit: detail.unit, schedule: detail.schedule, reporters: reportersOf(detail.states), reasons: detail.reasons, single: true });
    }
    const unit = await this.registry.getUnit(name);
    if (!unit) throw new ApiError(404, 'unit does not exist');
    const [schedule, states, reasons] = await Promise.all([this.registry.getSchedule(), this.registry.listUnitStates(), this.registry.getUnitReasons()]);
    return toApiUnit({ unit, schedule, reporters: reportersOf(states.filter(s => s.name === name)), reasons, single: true });
  }

  async destroy(name: string): Promise<void> {
    if (!(await this.registry.deleteUnit(name))) throw new ApiError(404, 'unit does not exist');
  }

  /** PUT: 201 when created or replaced, 204 when the desired state was set. */
  async set(item: string, contentTypes: readonly string[], bodyText: string): Promise<201 | 204> {
    checkContentType(contentTypes);
    const su = decodeUnitBody(bodyText);
    if (su.name === '') su.name = item;
    if (item !== su.name) throw new ApiError(400, `name in URL ${goQuote(item)} differs from unit name in request body ${goQuote(su.name)}`);
    return this.apply(su);
  }

  /**
   * A decoded PUT body, with fleet's decision order from the name check on: what the HTTP API
   * and the extension's etcd driver both run (one implementation of fleet's semantics).
   */
  async apply(su: UnitBody): Promise<201 | 204> {
    const nameError = validateUnitName(su.name);
    if (nameError) throw new ApiError(400, nameError);
    // fleetd deviation (fleet's recommendation): an unknown desiredState is a 400, not a 500 or garbage.
    if (su.desiredState !== '' && !JobState.is(su.desiredState)) {
      throw new ApiError(400, `invalid desiredState ${goQuote(su.desiredState)}: expected inactive, loaded or launched`);
    }
    const desired = su.desiredState === '' ? undefined : (su.desiredState as JobState);

    // A new unit in one registry write, without a read first: only where the answer cannot
    // depend on whether it exists (valid options, not an active template); otherwise, or when it
    // exists, fleet's decision order below.
    if (su.options.length > 0 && !validateOptions(su.options) && !(desired && desired !== 'inactive' && isTemplateName(su.name))) {
      if (await this.registry.createUnit({ name: su.name, options: su.options, desiredState: desired ?? 'inactive' })) return 201;
    }
    const existing = await this.registry.getUnit(su.name);
    let create = false;
    if (!existing) {
      if (su.options.length === 0) throw new ApiError(409, 'unit does not exist and options field empty');
      const optionsError = validateOptions(su.options);
      if (optionsError) throw new ApiError(400, optionsError);
      create = true;
    } else if (su.options.length > 0) {
      create = unitHash(su.options) !== existing.hash;
    }

    if (create) {
      // fleetd deviation (fleet's recommendation): a template cannot be created already active.
      if (desired && desired !== 'inactive' && isTemplateName(su.name)) throw new ApiError(400, templateMessage(su.name));
      await this.registry.putUnit({ name: su.name, options: su.options, desiredState: desired ?? 'inactive' });
      return 201;
    }

    if (!desired) throw new ApiError(409, 'must provide DesiredState to update existing unit');
    if (isTemplateName(su.name) && desired !== 'inactive') throw new ApiError(400, templateMessage(su.name));
    // Deleted between the read and the write: fleet would write a dangling target state; say so instead.
    if (!(await this.registry.setDesiredState(su.name, desired))) throw new ApiError(404, 'unit does not exist');
    return 204;
  }
}

/** fleet's text, which fleetctl users know: `cannot activate template "web@.service"`. */
function templateMessage(name: string): string {
  return `cannot activate template ${goQuote(name)}`;
}
