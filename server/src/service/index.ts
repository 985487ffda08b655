/** The pure fleet language service: inputs are a document and its parsed model, outputs are LSP types. */
export * from './types';
export * from './catalog';
export { builtinCatalog } from './builtinCatalog';
export { defaultCatalog } from './systemdCatalog';
export * from './cursor';
export * from './diagnostics';
export * from './completion';
export * from './hover';
export * from './codeActions';
export * from './outline';
export * from './format';
export * from './navigation';
export * from './placement';
export * from './submit';
export * from './unitRefs';
export * from './unitGraph';
