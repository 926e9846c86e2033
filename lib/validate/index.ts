// Public API of the validator. Everything here is pure except what comes
// from ./load.js (reads the cache and the tree, runs tools/yamlcheck).

export type { Catalog, FileIssue, Issue, KindEntry, Schema } from './types.js';
export { catalogKey } from './types.js';
export { formatPath, parsePath, type PathSegment } from './path.js';
export { validateValue, resolveSchema, type WalkOptions } from './schema.js';
export { compilePattern } from './pattern.js';
export { buildCatalog, crdEntries, closeKinds, type CatalogInput, type CrdInput, type OpenApiInput } from './catalog.js';
export { validateObject, lookupKind, type ObjectOptions } from './object.js';
export {
  checkKustomization,
  isKustomization,
  kustomizationRefs,
  KUSTOMIZATION_FIELDS,
  type FsView,
  type PathKind,
} from './kustomize.js';
export {
  compareParsers,
  formatFileIssue,
  isYamlFile,
  locate,
  parseYamlFile,
  validateTree,
  type GoDoc,
  type ParsedDoc,
  type ParsedFile,
  type SourceFile,
  type TreeOptions,
  type TreeResult,
} from './tree.js';
export * as names from './names.js';
export { loadCatalog, readTree, realFs, runYamlcheck, parseYamlcheckOutput } from './load.js';
// The cache's layout is the toolchain's (setup writes it); the validator reads it.
export { readManifest, schemaDir, yamlcheckPath, SetupNeededError, MANIFEST_NAME, type SchemaManifest, type ManifestFile } from '../toolchain/cacheDir.js';
