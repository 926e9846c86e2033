/** Setup steps schemas:*: the pinned API schemas (Kubernetes OpenAPI, Calico and Flux CRDs) copied from their modules. */
import { type PhaseReport } from '../../phases/phase.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_PINS, type SchemaPin } from '../pins.js';
import { readManifest, schemaDir, type SchemaManifest } from '../cacheDir.js';
import { type RunOptions, type Step, runSteps } from './step.js';
import { DEFAULT_CACHE_DIR } from '../repo.js';
import { goModDownload } from '../go.js';
import { copyMatching, replaceCacheDir } from '../cacheDir.js';

// ----------------------------------------------------------------- schemas

/** true when the pin's files are in the cache and match their manifest. */
export function schemasCached(cacheDir: string, pin: SchemaPin): boolean {
  try {
    readManifest(cacheDir, pin);
    return true;
  } catch {
    return false;
  }
}

/** Downloads one pinned module and copies its schema files into the cache. */
export async function fetchSchemas(cacheDir: string, pin: SchemaPin): Promise<string> {
  const mod = await goModDownload(pin.module, pin.version);
  const src = join(mod.Dir, pin.dir);
  let names: string[];
  try {
    names = readdirSync(src).filter((n) => pin.match.test(n)).sort();
  } catch (e) {
    throw new Error(`${pin.module}@${pin.version} has no ${pin.dir}: ${(e as Error).message}`);
  }
  const missing = pin.mustHave.filter((n) => !names.includes(n));
  if (missing.length > 0) throw new Error(`${pin.module}@${pin.version} lacks ${missing.map((n) => `${pin.dir}/${n}`).join(', ')}`);

  const made = await replaceCacheDir(
    schemaDir(cacheDir, pin),
    (tmp): SchemaManifest => ({
      module: pin.module,
      version: pin.version,
      sum: mod.Sum,
      product: pin.product,
      productVersion: pin.productVersion,
      dir: pin.dir,
      files: copyMatching(src, tmp, pin.match),
    }),
    // Another setup (a parallel test run) may have finished first; keep
    // its complete copy rather than pulling it from under its readers.
    () => schemasCached(cacheDir, pin),
  );
  if (made === undefined) return 'cached (by a concurrent setup)';
  return `copied ${names.length} file${names.length === 1 ? "" : "s"} from ${pin.module}@${pin.version}`;
}

export function schemaSteps(cacheDir: string = DEFAULT_CACHE_DIR, pins: readonly SchemaPin[] = SCHEMA_PINS): Step[] {
  return pins.map((pin) => ({
    name: `schemas:${pin.name}`,
    done: () => schemasCached(cacheDir, pin),
    run: () => fetchSchemas(cacheDir, pin),
  }));
}

/** Makes sure every pinned schema source is in `<cacheDir>/schemas/`. */
export async function ensureSchemas(cacheDir: string = DEFAULT_CACHE_DIR, opts: RunOptions = {}): Promise<PhaseReport[]> {
  return runSteps(schemaSteps(cacheDir), opts);
}
