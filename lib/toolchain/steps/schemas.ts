/** Setup steps schemas:*: the pinned API schemas (Kubernetes OpenAPI, Calico and Flux CRDs) copied from their modules. */
import { type PhaseReport } from '../../phases/phase.js';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SCHEMA_PINS, type SchemaPin } from '../../validate/pins.js';
import { MANIFEST_NAME, readManifest, schemaDir, sha256, type ManifestFile, type SchemaManifest } from '../../validate/load.js';
import { type RunOptions, type Step, runSteps } from './step.js';
import { DEFAULT_CACHE_DIR } from '../repo.js';
import { goModDownload } from '../go.js';

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

  const final = schemaDir(cacheDir, pin);
  mkdirSync(dirname(final), { recursive: true });
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const files: ManifestFile[] = [];
    for (const name of names) {
      const data = readFileSync(join(src, name));
      writeFileSync(join(tmp, name), data);
      files.push({ name, sha256: sha256(data), bytes: data.length });
    }
    const manifest: SchemaManifest = {
      module: pin.module,
      version: pin.version,
      sum: mod.Sum,
      product: pin.product,
      productVersion: pin.productVersion,
      dir: pin.dir,
      files,
    };
    writeFileSync(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    // Another setup (a parallel test run) may have finished first; keep
    // its complete copy rather than pulling it from under its readers.
    if (schemasCached(cacheDir, pin)) {
      rmSync(tmp, { recursive: true, force: true });
      return 'cached (by a concurrent setup)';
    }
    rmSync(final, { recursive: true, force: true });
    try {
      renameSync(tmp, final);
    } catch (e) {
      if (!schemasCached(cacheDir, pin)) throw e;
      rmSync(tmp, { recursive: true, force: true });
      return 'cached (by a concurrent setup)';
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
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
