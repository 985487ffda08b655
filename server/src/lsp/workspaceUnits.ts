/**
 * The workspace index: every unit file under the workspace folders (parsed from disk) with open
 * documents overriding their disk text. Kept current from didChangeWatchedFiles.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../../protocol/src/log';
import { parseUnitFile, type UnitFile } from '../../../unitfile/src';
import { WorkspaceIndex, type DropIn, type IndexedUnit } from '../service';
import { dropInOf, isUnitFileName, pathToUri, unitNameOf, uriToPath } from './uris';

/** Limits that keep a scan of a huge folder (or a home directory) bounded. */
export const SCAN_LIMITS = { maxFiles: 5000, maxDepth: 12, maxFileBytes: 1 << 20 };
const SKIP_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', 'out', 'dist', '.vscode-test']);

export class WorkspaceUnits {
  private readonly disk = new Map<string, IndexedUnit>();
  private readonly open = new Map<string, IndexedUnit>();
  /** Drop-ins by URI: read from disk, and open documents (which win). */
  private readonly diskDropIns = new Map<string, DropIn>();
  private readonly openDropIns = new Map<string, DropIn>();
  /** Unit name → winning entry; undefined when it must be rebuilt. */
  private byName: Map<string, IndexedUnit> | undefined;
  /** A live view of the index (callers read it synchronously, within one request). */
  private readonly view: WorkspaceIndex = {
    units: () => this.current().values(),
    get: name => this.current().get(name),
  };

  constructor(private readonly log: (message: string) => void) {}

  /** The index as of now. */
  snapshot(): WorkspaceIndex {
    return this.view;
  }

  private current(): Map<string, IndexedUnit> {
    if (this.byName) return this.byName;
    const byName = new Map<string, IndexedUnit>();
    // Disk first (sorted by URI for a stable winner among same-named files), then open documents win.
    for (const uri of [...this.disk.keys()].sort()) {
      const e = this.disk.get(uri)!;
      if (!byName.has(e.name)) byName.set(e.name, e);
    }
    for (const e of this.open.values()) byName.set(e.name, e);
    this.byName = byName;
    return byName;
  }

  /** The drop-ins of `unit` (its `unit.d/*.conf` files anywhere in the workspace), open documents' text first. */
  dropIns(unit: string): DropIn[] {
    const out = new Map<string, DropIn>();
    for (const [uri, d] of this.diskDropIns) if (d.unit === unit) out.set(uri, d);
    for (const [uri, d] of this.openDropIns) if (d.unit === unit) out.set(uri, d);
    return [...out.values()];
  }

  setOpen(uri: string, file: UnitFile | undefined): void {
    const unit = dropInOf(uri);
    if (unit !== undefined) {
      if (file) this.openDropIns.set(uri, { unit, name: baseName(uri), file, uri });
      else this.openDropIns.delete(uri);
      return;
    }
    const name = unitNameOf(uri);
    if (name === undefined) return;
    const before = this.open.get(uri);
    if (file) {
      const entry = { name, file, uri };
      this.open.set(uri, entry);
      // An edit of an open document (the common case, on every keystroke): the same entry wins or
      // loses as before, so only its own slot changes; no rebuild.
      if (before && this.byName) {
        if (this.byName.get(name) === before) this.byName.set(name, entry);
        return;
      }
    } else {
      this.open.delete(uri);
    }
    this.byName = undefined;
  }
  /** Scans folders for unit files; resolves when done. Errors on single entries are logged and skipped. */
  async scan(folderUris: readonly string[]): Promise<number> {
    let count = 0;
    const walk = async (dir: string, depth: number): Promise<void> => {
      if (depth > SCAN_LIMITS.maxDepth || count >= SCAN_LIMITS.maxFiles) return;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        this.log(`workspace scan: cannot read ${dir}: ${errorMessage(e)}`);
        return;
      }
      for (const entry of entries) {
        if (count >= SCAN_LIMITS.maxFiles) {
          this.log(`workspace scan: stopped after ${SCAN_LIMITS.maxFiles} unit files`);
          return;
        }
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) await walk(path, depth + 1);
        } else if (
          (entry.isFile() || entry.isSymbolicLink()) &&
          (isUnitFileName(entry.name) || (entry.name.endsWith('.conf') && dropInOf(pathToUri(path)) !== undefined))
        ) {
          if (await this.readFromDisk(pathToUri(path))) count++;
        }
      }
    };
    for (const folder of folderUris) {
      const path = uriToPath(folder);
      if (path) await walk(path, 0);
    }
    return count;
  }

  /** (Re)reads one file; returns whether it is indexed now. */
  async readFromDisk(uri: string): Promise<boolean> {
    const path = uriToPath(uri);
    const name = unitNameOf(uri);
    const unit = dropInOf(uri);
    if (path && unit !== undefined) return this.readDropIn(uri, path, unit);
    if (!path || name === undefined || !isUnitFileName(name)) return false;
    try {
      const info = await stat(path);
      if (!info.isFile() || info.size > SCAN_LIMITS.maxFileBytes) {
        this.removeFromDisk(uri);
        return false;
      }
      const text = await readFile(path, 'utf8');
      this.disk.set(uri, { name, file: parseUnitFile(text), uri });
      this.byName = undefined;
      return true;
    } catch {
      this.removeFromDisk(uri); // deleted between the event and the read
      return false;
    }
  }

  private async readDropIn(uri: string, path: string, unit: string): Promise<boolean> {
    try {
      const info = await stat(path);
      if (!info.isFile() || info.size > SCAN_LIMITS.maxFileBytes) {
        this.diskDropIns.delete(uri);
        return false;
      }
      this.diskDropIns.set(uri, { unit, name: baseName(uri), file: parseUnitFile(await readFile(path, 'utf8')), uri });
      return true;
    } catch {
      this.diskDropIns.delete(uri);
      return false;
    }
  }

  /** Forgets every disk entry under a folder (a removed workspace folder). */
  removeUnder(folderUri: string): void {
    const prefix = folderUri.endsWith('/') ? folderUri : `${folderUri}/`;
    for (const uri of [...this.disk.keys()]) if (uri.startsWith(prefix)) this.disk.delete(uri);
    for (const uri of [...this.diskDropIns.keys()]) if (uri.startsWith(prefix)) this.diskDropIns.delete(uri);
    this.byName = undefined;
  }

  removeFromDisk(uri: string): void {
    this.diskDropIns.delete(uri);
    if (this.disk.delete(uri)) this.byName = undefined;
  }

  /** The disk entry of a URI (for validateForSubmit on a file that is not open). */
  diskEntry(uri: string): IndexedUnit | undefined {
    return this.disk.get(uri);
  }

  get size(): number {
    return this.disk.size;
  }
}

function baseName(uri: string): string {
  const base = uri.slice(uri.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(base);
  } catch {
    return base;
  }
}
