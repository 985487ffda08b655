/**
 * The catalog the server uses: the systemd directive catalog generated from systemd's own tables
 * (unitfile/src/systemd/catalog.ts), seen through the service's DirectiveCatalog interface.
 */
import {
  BOOLEAN_VALUES,
  directivesFor,
  lookupDirective,
  OLDEST_CATALOGED_VERSION,
  sectionInfo,
  sectionsFor,
  SYSTEMD_SPECIFIERS,
} from '../../../unitfile/src/systemd/catalog';
import type { DirectiveCatalog } from './catalog';

/** The spellings completion offers first (systemd accepts a few more: y, n, t, f). */
const PREFERRED_BOOLEANS = ['yes', 'no', 'true', 'false', 'on', 'off', '1', '0'];
const accepted = new Set<string>(BOOLEAN_VALUES);

const sentence = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}${s.endsWith('.') ? '' : '.'}`;

export const systemdCatalog: DirectiveCatalog = {
  sectionsFor: unitType => sectionsFor(unitType),
  sectionInfo: name => sectionInfo(name),
  directivesFor: (section, unitType, version) => directivesFor(section, unitType, version),
  lookupDirective: (section, name, unitType) => lookupDirective(section, name, unitType),
  specifiers: SYSTEMD_SPECIFIERS.map(s => ({ specifier: s.specifier, description: sentence(s.meaning) })),
  booleanValues: PREFERRED_BOOLEANS.filter(b => accepted.has(b)),
  oldestVersion: OLDEST_CATALOGED_VERSION,
};

export const defaultCatalog: DirectiveCatalog = systemdCatalog;
