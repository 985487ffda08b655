/**
 * The catalog the server uses: the generated systemd catalog when present, with the built-in
 * table filling its gaps.
 */
import { builtinCatalog } from './builtinCatalog';
import type { DirectiveCatalog } from './catalog';

export const defaultCatalog: DirectiveCatalog = builtinCatalog;
