// The validator's only I/O module: reads the schema cache written by
// `npm run setup` (its layout is the toolchain's: lib/toolchain/cacheDir.ts),
// walks directories, and runs tools/yamlcheck.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildCatalog, type CrdInput, type OpenApiInput } from './catalog.js';
import type { FsView, PathKind } from './kustomize.js';
import { SCHEMA_PINS, SETUP_COMMAND, schemaSourcesLabel, type SchemaPin } from '../toolchain/pins.js';
import { readManifest, schemaDir, setupNeeded, SetupNeededError, yamlcheckPath } from '../toolchain/cacheDir.js';
import type { GoDoc, SourceFile } from './tree.js';
import type { Catalog } from './types.js';

/**
 * Loads every pinned schema source from `<cacheDir>/schemas/` into a
 * catalog. Throws SetupNeededError (message says `npm run setup`) if any
 * pin's files are missing or incomplete.
 */
export function loadCatalog(cacheDir: string, pins: readonly SchemaPin[] = SCHEMA_PINS): Catalog {
  const openapi: OpenApiInput[] = [];
  const crds: CrdInput[] = [];
  for (const pin of pins) {
    const m = readManifest(cacheDir, pin);
    const dir = schemaDir(cacheDir, pin);
    const source = `${pin.product} ${pin.productVersion}`;
    for (const f of m.files) {
      const path = join(dir, f.name);
      const text = readFileSync(path, 'utf8');
      try {
        if (pin.format === 'openapi-v3') {
          openapi.push({ source, doc: JSON.parse(text) });
        } else {
          for (const doc of parseAllDocuments(text)) {
            if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
            const crd = doc.toJS() as unknown;
            if (crd !== null) crds.push({ source, crd });
          }
        }
      } catch (e) {
        throw setupNeeded(pin, `cannot be read (${path}: ${(e as Error).message})`);
      }
    }
  }
  return buildCatalog({ openapi, crds, label: schemaSourcesLabel(pins) });
}

// ------------------------------------------------------------ files on disk

export const realFs: FsView = {
  kind(path: string): PathKind {
    try {
      const st = statSync(path);
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
    } catch {
      return undefined;
    }
  },
};

const SKIP_DIRS = new Set(['.git', 'node_modules', '.cache']);

/**
 * Every file under the given paths (files are taken as they are), sorted,
 * with contents. Paths that do not exist are returned in `missing`.
 */
export function readTree(paths: readonly string[]): { files: SourceFile[]; missing: string[] } {
  const files: SourceFile[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  const visit = (p: string): void => {
    const kind = realFs.kind(p);
    if (kind === 'file') {
      if (!seen.has(p)) {
        seen.add(p);
        files.push({ path: p, content: readFileSync(p, 'utf8') });
      }
    } else if (kind === 'dir') {
      for (const name of readdirSync(p).sort()) {
        if (SKIP_DIRS.has(name)) continue;
        visit(join(p, name));
      }
    }
  };
  for (const p of paths) {
    if (realFs.kind(p) === undefined) missing.push(p);
    else visit(p);
  }
  return { files, missing };
}


/** Parses tools/yamlcheck output (JSON lines). */
export function parseYamlcheckOutput(stdout: string): GoDoc[] {
  const out: GoDoc[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    out.push(JSON.parse(line) as GoDoc);
  }
  return out;
}

/** Runs tools/yamlcheck (built by the setup) over `files`. */
export async function runYamlcheck(cacheDir: string, files: readonly string[]): Promise<GoDoc[]> {
  const bin = yamlcheckPath(cacheDir);
  if (!existsSync(bin)) {
    throw new SetupNeededError(`${bin} is missing (kubectl/Flux YAML parser check); run \`${SETUP_COMMAND}\``);
  }
  if (files.length === 0) return [];
  const out: GoDoc[] = [];
  // Keep command lines well below the kernel's limit.
  const BATCH = 500;
  for (let i = 0; i < files.length; i += BATCH) {
    const batch = files.slice(i, i + BATCH);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(bin, batch, { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, so, se) => {
        if (err) reject(new Error(`${bin} failed: ${se.trim() || err.message}`));
        else resolve(so);
      });
    });
    out.push(...parseYamlcheckOutput(stdout));
  }
  return out;
}
