/** `/machines` (fleet's api/machines.go): the list, and PATCH of dynamic metadata. */
import type { ApiMachine, MachinePage } from '../../../protocol/src/api';
import { MAX_BATCH_OPS, type MachineRecord, type ApiRegistry } from '../registry';
import { ApiError } from './errors';
import { decodeFirst, forEachField, GoJsonError, isJsonObject, TypeErrors } from './goJson';
import { pageOf, pageTokenFrom } from './pagination';

const METADATA_PATH = /^\/([^/]+)\/metadata\/([A-Za-z0-9_.-]+)$/;

export function toApiMachine(m: MachineRecord): ApiMachine {
  const out: ApiMachine = { id: m.id };
  if (m.publicIP) out.primaryIP = m.publicIP;
  if (Object.keys(m.metadata).length > 0) out.metadata = { ...m.metadata };
  return out;
}

interface Op {
  op: string;
  path: string;
  value: string;
}

/** The PATCH body as Go decodes `[]machineMetadataOp` (errors are sent without a prefix, as fleet does). */
export function decodeOps(text: string): Op[] {
  try {
    const value = decodeFirst(text);
    const errors = new TypeErrors();
    const ops: Op[] = [];
    if (Array.isArray(value)) {
      for (const item of value) {
        if (item === null) {
          ops.push({ op: '', path: '', value: '' });
          continue;
        }
        if (!isJsonObject(item)) {
          errors.topLevel(item, 'api.machineMetadataOp');
          continue;
        }
        const op: Op = { op: '', path: '', value: '' };
        forEachField(item, ['op', 'path', 'Value'], (name, v) => {
          if (name === 'Value') {
            // An anonymous struct: Go names it "" in the error (`Go struct field .Value.value`).
            if (isJsonObject(v)) {
              forEachField(v, ['value'], (_, inner) => {
                const text = errors.string(inner, '', 'Value.value');
                if (text !== undefined) op.value = text;
              });
            } else if (v !== null) {
              errors.mismatch(v, 'machineMetadataOp', 'Value', 'struct { Value string "json:\\"value\\"" }');
            }
            return;
          }
          const text = errors.string(v, 'machineMetadataOp', name);
          if (text !== undefined) op[name as 'op' | 'path'] = text;
        });
        ops.push(op);
      }
    } else if (value !== null) {
      errors.topLevel(value, '[]api.machineMetadataOp');
    }
    errors.throwIfAny();
    return ops;
  } catch (err) {
    if (err instanceof GoJsonError) throw new ApiError(400, err.message);
    throw err;
  }
}

export class MachinesResource {
  constructor(
    private readonly registry: ApiRegistry,
    private readonly tokenLimit: number,
  ) {}

  async all(): Promise<ApiMachine[]> {
    return (await this.registry.listMachines()).map(toApiMachine);
  }

  async list(
    pageTokens: readonly string[],
    source: () => Promise<readonly ApiMachine[]> = () => this.all(),
    pageSizes: readonly string[] = [],
  ): Promise<MachinePage> {
    const tok = pageTokenFrom(pageTokens, this.tokenLimit, pageSizes);
    const { items, next } = pageOf(await source(), tok);
    const page: MachinePage = {};
    if (items.length > 0) page.machines = items;
    if (next) page.nextPageToken = next;
    return page;
  }

  /** Every op is validated before any is applied; `remove` writes a tombstone. */
  async patch(bodyText: string): Promise<void> {
    const ops = decodeOps(bodyText);
    // fleetd deviation: fleet sends them in one etcd transaction, which etcd refuses beyond its
    // --max-txn-ops (128), and answers 503 "unable to communicate with etcd".
    if (ops.length > MAX_BATCH_OPS) {
      throw new ApiError(
        400,
        `too many operations: ${ops.length} operations in one PATCH, fleetd applies at most ${MAX_BATCH_OPS} at once ` +
          "(etcd's --max-txn-ops); send them in several requests",
      );
    }
    const writes: { machineId: string; key: string; value: string }[] = [];
    for (const op of ops) {
      if (op.op !== 'add' && op.op !== 'remove' && op.op !== 'replace') throw new ApiError(400, 'invalid op: expect add, remove, or replace');
      const match = METADATA_PATH.exec(op.path);
      if (!match) throw new ApiError(400, 'machine metadata path invalid');
      if (op.op !== 'remove' && op.value === '') throw new ApiError(400, 'invalid value: add and replace require a value');
      writes.push({ machineId: match[1]!, key: match[2]!, value: op.op === 'remove' ? '' : op.value });
    }
    await this.registry.patchMachineMetadata(writes);
  }
}
