/**
 * The language service's inputs: a document with its parsed model, and what else it may know
 * (settings, the workspace index, the cluster, the directive catalog).
 */
import type { Range } from 'vscode-languageserver-types';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { UnitFile, UnitIndex } from '../../../unitfile/src';
import type { ClusterContext } from '../../../protocol/src/lsp';
import type { FleetLanguageSettings } from '../../../protocol/src/settings';
import type { DirectiveCatalog } from './catalog';

export interface UnitDocument {
  document: TextDocument;
  /** Parsed once per version (the adapter's cache). */
  file: UnitFile;
  /** The file's base name, e.g. `web@1.service` (for a drop-in, the unit of its directory); undefined for untitled documents. */
  unitName: string | undefined;
  /** A drop-in (`web.service.d/10-env.conf`): `unitName` is the unit it belongs to. */
  dropIn?: boolean | undefined;
}

/** An entry of the workspace index: a unit name, its parsed file and where it lives. */
export interface IndexedUnit {
  name: string;
  file: UnitFile;
  uri?: string;
}

/** The workspace index: unit name → parsed file (the current document included when it has a name). */
export interface WorkspaceIndex extends UnitIndex {
  units(): Iterable<IndexedUnit>;
  get(name: string): IndexedUnit | undefined;
}

export interface ServiceContext {
  settings: FleetLanguageSettings;
  catalog: DirectiveCatalog;
  index?: WorkspaceIndex | undefined;
  cluster?: ClusterContext | undefined;
  /**
   * The URI of an absolute path written in `fromUri` when the file exists in the workspace (the
   * adapter looks on disk); absent: no path links.
   */
  resolvePath?: ((path: string, fromUri: string) => string | undefined) | undefined;
  /** The drop-ins in the workspace whose directory is named after a unit (`web.service.d/*.conf`). */
  dropIns?: ((unit: string) => readonly DropIn[]) | undefined;
}

export namespace WorkspaceIndex {
  /** An index over a fixed list (tests, and the adapter's snapshot). */
  export function of(entries: Iterable<IndexedUnit>): WorkspaceIndex {
    const map = new Map<string, IndexedUnit>();
    for (const e of entries) map.set(e.name, e);
    return { units: () => map.values(), get: name => map.get(name) };
  }
}

export const rangeOf = (doc: TextDocument, start: number, end: number): Range => ({ start: doc.positionAt(start), end: doc.positionAt(Math.max(start, end)) });

/** One drop-in file of a unit. */
export interface DropIn {
  /** The unit whose directory it is in (`web@.service` for `web@.service.d/`). */
  unit: string;
  /** The file's base name (`10-env.conf`). */
  name: string;
  file: UnitFile;
  uri?: string;
}
