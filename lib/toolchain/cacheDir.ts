/**
 * Filling a folder of the cache from a pinned module: files copied with
 * their sha256 and size (the folder's record), and the folder replaced
 * whole: written into a temporary folder beside it and renamed over it, so
 * a reader never sees half a copy and a failed copy leaves nothing behind.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { SETUP_COMMAND, schemaDirName, YAMLCHECK_BINARY, type SchemaPin } from './pins.js';

/**
 * Builds `final` anew: `fill` writes into an empty temporary folder and
 * returns the record, which is written as the folder's manifest; then the
 * folder replaces `final`. `keepTheirs`, asked just before the swap, lets a
 * copy that another setup finished meanwhile stand (the temporary one is
 * dropped and undefined returned).
 */
export async function replaceCacheDir<R>(final: string, fill: (tmp: string) => R | Promise<R>, keepTheirs: () => boolean = () => false): Promise<R | undefined> {
  mkdirSync(dirname(final), { recursive: true });
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const record = await fill(tmp);
    writeFileSync(join(tmp, MANIFEST_NAME), `${JSON.stringify(record, null, 2)}\n`);
    if (keepTheirs()) return undefined;
    rmSync(final, { recursive: true, force: true });
    try {
      renameSync(tmp, final);
    } catch (e) {
      if (keepTheirs()) return undefined;
      throw e;
    }
    return record;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copies the files of `src` whose names match into `dest/sub`, sorted; each one's name (under `sub`), sha256 and size. */
export function copyMatching(src: string, dest: string, match: RegExp, sub = ''): ManifestFile[] {
  mkdirSync(join(dest, sub), { recursive: true });
  const files: ManifestFile[] = [];
  for (const n of readdirSync(src).filter((x) => match.test(x)).sort()) {
    const data = readFileSync(join(src, n));
    writeFileSync(join(dest, sub, n), data);
    files.push({ name: sub ? `${sub}/${n}` : n, sha256: sha256(data), bytes: data.length });
  }
  return files;
}

// ------------------------------------------------------------ the layout
// What setup writes and the validator reads: each folder's record, and where the schemas and yamlcheck are.

/** Thrown when the cache is missing or incomplete; the message names the fix. */
export class SetupNeededError extends Error {
  override name = 'SetupNeededError';
}

export interface ManifestFile {
  /** Basename in the cache folder (and in the module's `dir`). */
  name: string;
  sha256: string;
  bytes: number;
}

/** `.cache/schemas/<name>-<version>/manifest.json`, written last by the setup. */
export interface SchemaManifest {
  module: string;
  version: string;
  /** go.sum-style hash of the module zip, as `go mod download -json` reported it. */
  sum: string;
  product: string;
  productVersion: string;
  /** Folder in the module the files came from. */
  dir: string;
  files: ManifestFile[];
}

export const MANIFEST_NAME = 'manifest.json';

export function schemaDir(cacheDir: string, pin: SchemaPin): string {
  return join(cacheDir, 'schemas', schemaDirName(pin));
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function setupNeeded(pin: SchemaPin, what: string): SetupNeededError {
  return new SetupNeededError(
    `schemas for ${pin.product} ${pin.productVersion} (${pin.module}@${pin.version}) ${what}; run \`${SETUP_COMMAND}\``,
  );
}

/**
 * Reads and checks a pin's manifest. Returns undefined when the cache for
 * the pin is absent, throws SetupNeededError when it is there but wrong.
 * With `verify`, also hashes every file.
 */
export function readManifest(cacheDir: string, pin: SchemaPin, verify = false): SchemaManifest {
  const dir = schemaDir(cacheDir, pin);
  const path = join(dir, MANIFEST_NAME);
  if (!existsSync(path)) throw setupNeeded(pin, `are not set up (${path} is missing)`);
  let m: SchemaManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as SchemaManifest;
  } catch (e) {
    throw setupNeeded(pin, `have a broken manifest ${path}: ${(e as Error).message}`);
  }
  if (m.module !== pin.module || m.version !== pin.version || !Array.isArray(m.files)) {
    throw setupNeeded(pin, `in ${dir} are for ${m.module}@${m.version}, not the pinned version`);
  }
  const names = new Set(m.files.map((f) => f.name));
  for (const need of pin.mustHave) {
    if (!names.has(need)) throw setupNeeded(pin, `in ${dir} lack ${need}`);
  }
  for (const f of m.files) {
    const p = join(dir, f.name);
    let size: number;
    try {
      size = statSync(p).size;
    } catch {
      throw setupNeeded(pin, `are incomplete (${p} is missing)`);
    }
    if (size !== f.bytes) throw setupNeeded(pin, `are incomplete (${p} has ${size} bytes, expected ${f.bytes})`);
    if (verify && sha256(readFileSync(p)) !== f.sha256) throw setupNeeded(pin, `are corrupt (${p} does not match its sha256)`);
  }
  return m;
}

export function yamlcheckPath(cacheDir: string): string {
  return join(cacheDir, YAMLCHECK_BINARY);
}
