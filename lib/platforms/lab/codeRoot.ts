/**
 * The project's own folder, where the lab finds the programs it starts in
 * its namespaces (programs/) and setup's cache. Three folders up from this
 * file, and also from actions/<name>/dist/index.js when an action's bundle
 * inlines it (the bundle's import.meta.url is its own).
 */
import { fileURLToPath } from 'node:url';

export const CODE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
