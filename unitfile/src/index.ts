/** The unit-file core: parse, serialize, hash, names, specifiers, [X-Fleet], the directive catalog, validation. */
export * from './problem';
export * from './parse';
export * from './serialize';
export * from './sha1';
export * from './unitName';
export * from './xfleet';
export * from './multivalue';
export * from './glob';
export * from './goText';
export * from './suggest';
export * from './rules';
export * from './fleetValidation';
export * from './optionFixes';
export * from './fleetRules';
export * from './validate';
export * from './hints';
