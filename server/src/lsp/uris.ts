/** URIs of unit files: their unit names and file-system paths. */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dropInUnitOf, UNIT_FILE_EXTENSIONS } from '../../../protocol/src/lsp';

/** The unit name of a document: its base name (`web@1.service`), or undefined for untitled documents. */
export function unitNameOf(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  const path = uri.replace(/[?#].*$/, '');
  const base = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(base);
  } catch {
    return base; // a malformed escape: the raw base name is the best guess
  }
}

export function isUnitFileName(name: string): boolean {
  return UNIT_FILE_EXTENSIONS.some(ext => name.endsWith(ext) && name.length > ext.length);
}

export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

export function pathToUri(path: string): string {
  return pathToFileURL(path).href;
}

/** For a drop-in URI (`…/web.service.d/10-env.conf`), the unit it belongs to; else undefined. */
export function dropInOf(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  const path = uri.replace(/[?#].*$/, '');
  try {
    return dropInUnitOf(decodeURIComponent(path));
  } catch {
    return dropInUnitOf(path);
  }
}
