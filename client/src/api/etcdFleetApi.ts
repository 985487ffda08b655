/**
 * EtcdFleetApi: FleetApi straight on a fleet cluster's etcd, as `fleetctl --driver=etcd` talks to
 * it (fleet-etcd-v2.md §2): fleet v1.0's v2 keyspace under the key prefix, directly or through
 * the SSH tunnel (each connection a direct-tcpip channel to the etcd host and port), with TLS.
 *
 * It runs the very code fleetd's HTTP API runs — the `registry/` project's units, state and
 * machines resources over its Etcd2Registry — in this process, so both drivers answer alike
 * (validation included, which fleetctl's etcd driver skips). Nothing is written before the
 * endpoint has proved to be etcd with v2 and fleet's keys under the prefix.
 */
import type { Duplex } from 'node:stream';
import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState, JobState, JournalLine } from '../../../protocol/src/api';
import { MachinesResource } from '../../../registry/src/api/machines';
import { ApiError } from '../../../registry/src/api/errors';
import { StateResource } from '../../../registry/src/api/state';
import { UnitsResource } from '../../../registry/src/api/units';
import { EtcdUnreachableError, EtcdV2Error } from '../../../registry/src/etcd2/client';
import { Etcd2Registry } from '../../../registry/src/etcd2/etcd2Registry';
import { FleetApiError, type FleetApi } from './types';
import { errorMessage } from '../../../protocol/src/log';

/** The in-process pages hold this many items (fleet's token limit is 16 bits); lists follow every page. */
const PAGE = 0xffff;

export interface EtcdFleetApiOptions {
  /** `http://host:port` or `https://host:port` of etcd. */
  endpoint: string;
  /** fleet's etcd key prefix; default `/_coreos.com/fleet/`. */
  prefix?: string;
  label?: string;
  /** Deadline of each etcd request (fleetctl's --request-timeout); default 3 s. */
  requestTimeoutMs?: number;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Opens the stream to etcd's host:port (an SSH tunnel); default a direct connection. */
  dial?: (target: { kind: 'tcp'; host: string; port: number }, signal?: AbortSignal) => Promise<Duplex>;
  onDispose?: () => void;
}

export class EtcdFleetApi implements FleetApi {
  readonly label: string;
  private readonly registry: Etcd2Registry;
  private readonly units: UnitsResource;
  private readonly state: StateResource;
  private readonly machines: MachinesResource;
  private connected: Promise<void> | undefined;
  private disposed = false;

  constructor(private readonly options: EtcdFleetApiOptions) {
    this.label = options.label ?? `etcd ${options.endpoint}`;
    const dial = options.dial;
    this.registry = new Etcd2Registry({
      endpoints: [options.endpoint],
      prefix: options.prefix ?? '/_coreos.com/fleet/',
      requestTimeoutMs: options.requestTimeoutMs ?? 3_000,
      ...(options.tls ? { tls: options.tls } : {}),
      ...(dial ? { dial: (t: { host: string; port: number }, signal?: AbortSignal) => dial({ kind: 'tcp', host: t.host, port: t.port }, signal) } : {}),
    });
    this.units = new UnitsResource(this.registry, PAGE);
    this.state = new StateResource(this.registry, PAGE);
    this.machines = new MachinesResource(this.registry, PAGE);
  }

  async listMachines(): Promise<ApiMachine[]> {
    await this.connect();
    return this.call('listing machines', () =>
      allPages(
        t => this.machines.list(t),
        p => p.machines,
      ),
    );
  }

  async listUnits(): Promise<ApiUnit[]> {
    await this.connect();
    return this.call('listing units', () =>
      allPages(
        t => this.units.list(t),
        p => p.units,
      ),
    );
  }

  async listUnitStates(_signal?: AbortSignal, filter?: { unitName?: string }): Promise<ApiUnitState[]> {
    await this.connect();
    const query = (t: string[]) => {
      const q = new URLSearchParams(t.map(v => ['nextPageToken', v] as [string, string]));
      if (filter?.unitName) q.set('unitName', filter.unitName);
      return q;
    };
    return this.call('listing unit states', () =>
      allPages(
        t => this.state.list(query(t)),
        p => p.states,
      ),
    );
  }

  async getUnit(name: string): Promise<ApiUnit | undefined> {
    await this.connect();
    try {
      return await this.call(`getting unit ${name}`, () => this.units.get(name));
    } catch (err) {
      if (err instanceof FleetApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async createUnit(name: string, options: ApiUnitOption[], desiredState: JobState): Promise<void> {
    await this.connect();
    const body = { name, options: options.map(o => ({ section: o.section, name: o.name, value: o.value ?? '' })), desiredState };
    await this.call(`creating unit ${name}`, () => this.units.apply(body));
  }

  async setUnitTargetState(name: string, desiredState: JobState): Promise<void> {
    await this.connect();
    await this.call(`setting unit ${name} to ${desiredState}`, () => this.units.apply({ name, options: [], desiredState }));
  }

  async destroyUnit(name: string): Promise<boolean> {
    await this.connect();
    try {
      await this.call(`destroying unit ${name}`, () => this.units.destroy(name));
      return true;
    } catch (err) {
      if (err instanceof FleetApiError && err.status === 404) return false;
      throw err;
    }
  }

  async journal(unit: string): Promise<JournalLine[]> {
    throw this.noJournal(unit);
  }

  async followJournal(unit: string): Promise<void> {
    throw this.noJournal(unit);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.registry.close();
    this.options.onDispose?.();
  }

  /**
   * Once per connection: the endpoint is etcd, serves v2, and holds fleet's keys under the
   * prefix. A failure is reported (and retried on the next call) before anything is written.
   */
  private connect(): Promise<void> {
    this.connected ??= this.probe().catch(err => {
      this.connected = undefined;
      throw err;
    });
    return this.connected;
  }

  private async probe(): Promise<void> {
    await this.call('connecting', async () => {
      await this.registry.client.version();
      const root = await this.registry.client.get(this.registry.prefix.slice(0, -1) || '/');
      if (!root) {
        throw new FleetApiError(
          `no fleet cluster at ${this.options.endpoint}: nothing is stored under the key prefix ${this.registry.prefix}. ` +
            `Check the key prefix (etcdKeyPrefix in the cluster profile, FLEETCTL_ETCD_KEY_PREFIX; fleet's default is /_coreos.com/fleet/), ` +
            `and that fleet on this cluster keeps its registry in etcd's v2 API`,
          undefined,
          'config',
        );
      }
    });
  }

  private noJournal(unit: string): FleetApiError {
    return new FleetApiError(
      `${this.label} is fleet's etcd, which keeps no journals: the journal of ${unit} is read on its machine over SSH (as fleetctl journal does)`,
      404,
      'http',
    );
  }

  /** Runs one operation and gives its failure the form every FleetApi error has. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new FleetApiError(`the connection to ${this.label} was closed`, undefined, 'network');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FleetApiError) throw err;
      if (err instanceof ApiError) {
        const message = err.message || `${what} failed`;
        throw new FleetApiError(`fleet (etcd driver) ${err.status}: ${message}`, err.status, 'http');
      }
      if (err instanceof EtcdUnreachableError) {
        const kind = err.reason === 'tls' ? 'tls' : err.reason === 'network' || err.reason === 'timeout' ? 'network' : 'config';
        const code =
          err.reason === 'fleet-api' || err.reason === 'not-etcd'
            ? 'wrong-driver'
            : err.reason === 'timeout'
              ? 'ETIMEDOUT'
              : (err.cause as { code?: unknown } | undefined)?.code;
        throw new FleetApiError(err.message, undefined, kind, typeof code === 'string' ? code : undefined, err.cause);
      }
      if (err instanceof EtcdV2Error) throw new FleetApiError(`etcd at ${this.options.endpoint}: ${what} failed: ${err.message}`, err.status, 'http');
      throw new FleetApiError(`etcd at ${this.options.endpoint}: ${what} failed: ${errorMessage(err)}`, undefined, 'network');
    }
  }
}

async function allPages<P extends { nextPageToken?: string }, T>(page: (tokens: string[]) => Promise<P>, items: (p: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  let tokens: string[] = [];
  for (let n = 0; n < 10_000; n++) {
    const p = await page(tokens);
    out.push(...(items(p) ?? []));
    if (!p.nextPageToken) return out;
    tokens = [p.nextPageToken];
  }
  throw new FleetApiError('more than 10,000 pages; stopped', undefined, 'http');
}
