/**
 * The directive knowledge the language service reads, as one small interface. The systemd
 * catalog (unitfile/src/systemd) implements it through `systemdCatalog.ts`; tests pass their own.
 */
import type { Directive, SectionInfo } from '../../../unitfile/src/systemd/types';

export interface SpecifierInfo {
  /** `%n`, `%i`, … */
  specifier: string;
  /** One line of our own words. */
  description: string;
}

export interface DirectiveCatalog {
  /** Sections a unit of this type may contain (excluding [X-Fleet], which the service adds). */
  sectionsFor(unitType: string): readonly SectionInfo[];
  sectionInfo(name: string): SectionInfo | undefined;
  /** Directives of a section that the given systemd version knows. */
  directivesFor(section: string, unitType: string, version?: number): readonly Directive[];
  lookupDirective(section: string, name: string, unitType?: string): Directive | undefined;
  specifiers: readonly SpecifierInfo[];
  booleanValues: readonly string[];
  /** The oldest systemd version the catalog covers: "since" is shown only for newer directives. */
  oldestVersion?: number;
}

/** Value kinds whose values are unit names (completion, definition and references look at these). */
export const UNIT_LIST_KINDS: ReadonlySet<string> = new Set(['units', 'unit']);

/**
 * Dependency directives by name, for when the catalog does not know a directive (or an older
 * catalog): their values are unit names.
 */
export const DEPENDENCY_DIRECTIVES: ReadonlySet<string> = new Set([
  'After',
  'Before',
  'Requires',
  'Requisite',
  'Wants',
  'BindsTo',
  'PartOf',
  'Upholds',
  'Conflicts',
  'OnFailure',
  'OnSuccess',
  'PropagatesReloadTo',
  'ReloadPropagatedFrom',
  'PropagatesStopTo',
  'StopPropagatedFrom',
  'JoinsNamespaceOf',
  'WantedBy',
  'RequiredBy',
  'UpheldBy',
  'Also',
  'Unit',
  'Sockets',
  'Service',
  'Slice',
]);
