// Builds a tree as Flux's kustomize-controller would (the edge: reads the
// tree, writes only into a scratch folder, runs the pinned `kubectl
// kustomize`). Every Flux Kustomization found in the files builds its
// spec.path; every kustomization folder that no Flux path reaches builds
// on its own. Each built object keeps the file it came from.

import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Runner } from '../exec/run.js';
import {
  buildKey,
  buildKustomization,
  fluxComponents,
  fluxOverlay,
  fluxPathDir,
  isFluxKustomization,
  kustomizeMessage,
  objectLabel,
  originFile,
  withoutOrigin,
} from './fluxBuild.js';
import { isKustomization, KUSTOMIZATION_FILE_NAMES } from './kustomize.js';
import { locate, type ParsedFile } from './tree.js';
import type { FileIssue } from './types.js';

/** Who asked for a build: a Flux Kustomization (its spec.path) or a kustomization file. */
export interface BuildOwner {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The field named in issues ('spec.path', or '' for a kustomization file). */
  readonly path: string;
  /** "Kustomization flux-system/apps", or "kustomization" for a folder built on its own. */
  readonly label: string;
  /** Set when the Flux Kustomization substitutes variables after the build (spec.postBuild). */
  readonly postBuild: boolean;
}

export interface BuildTarget {
  readonly key: string;
  /** The folder built (absolute). */
  readonly dir: string;
  readonly overlay: Record<string, unknown>;
  /** Components from the Flux spec (absolute). */
  readonly components: readonly string[];
  /** Missing components are left out (spec.ignoreMissingComponents). */
  readonly ignoreMissingComponents: boolean;
  readonly owners: BuildOwner[];
}

export interface BuiltObject {
  /** The object as Flux would apply it (the origin annotation removed). */
  readonly object: Record<string, unknown>;
  /** The file it came from (absolute), when kustomize said. */
  readonly source: string | undefined;
  readonly target: BuildTarget;
}

function kustomizationFileIn(dir: string): string | undefined {
  for (const n of KUSTOMIZATION_FILE_NAMES) {
    const p = join(dir, n);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readKustomization(dir: string): Record<string, unknown> | undefined {
  const file = kustomizationFileIn(dir);
  if (file === undefined) return undefined;
  try {
    const v: unknown = parseAllDocuments(readFileSync(file, 'utf8'))[0]?.toJS();
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * What Flux's generator lists for a folder without a kustomization (fluxcd/pkg
 * kustomize scanManifests): every .yaml/.yml file below it in lexical order,
 * except below a folder that has a kustomization, which is listed instead.
 * A file that is not YAML is an error, as it is for Flux.
 */
export function scanManifests(dir: string): { entries: string[]; errors: string[] } {
  const entries: string[] = [];
  const errors: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (isDir(p)) {
        if (kustomizationFileIn(p) !== undefined) entries.push(p);
        else walk(p);
      } else if (/\.ya?ml$/.test(name)) {
        const bad = parseAllDocuments(readFileSync(p, 'utf8')).find((doc) => doc.errors.length > 0);
        if (bad) errors.push(`${p}: ${bad.errors[0]!.message.split('\n')[0]}`);
        else entries.push(p);
      }
    }
  };
  walk(dir);
  return { entries, errors };
}

/** The folders a build reaches: the folder, the folders its kustomization names, recursively (and, without one, every folder the generator would list). */
function reachedFolders(dir: string, out: Set<string>): void {
  if (out.has(dir) || !isDir(dir)) return;
  out.add(dir);
  const k = readKustomization(dir);
  if (k === undefined) {
    for (const e of scanManifests(dir).entries) if (isDir(e)) reachedFolders(e, out);
    return;
  }
  for (const field of ['resources', 'components', 'bases']) {
    const list = k[field];
    if (Array.isArray(list)) for (const ref of list) if (typeof ref === 'string') reachedFolders(resolve(dir, ref), out);
  }
}

export interface BuildPlan {
  readonly targets: BuildTarget[];
  /** Flux paths that do not exist. */
  readonly issues: FileIssue[];
}

/**
 * The builds of a tree: one per distinct Flux Kustomization build (two
 * clusters building the same folder the same way share one), and one per
 * kustomization folder in `files` that no Flux build reaches.
 */
export function planBuilds(files: readonly ParsedFile[], root: string, display: (abs: string) => string): BuildPlan {
  const byKey = new Map<string, BuildTarget>();
  const issues: FileIssue[] = [];
  const reached = new Set<string>();
  for (const f of files) {
    for (const d of f.docs) {
      if (!isFluxKustomization(d.value)) continue;
      const spec = d.value.spec ?? {};
      const at = locate(f, d.doc, spec.path === undefined ? ['spec'] : ['spec', 'path']);
      const label = objectLabel(d.value);
      const dir = fluxPathDir(root, spec.path);
      if (!isDir(dir)) {
        issues.push({ file: f.path, ...at, path: 'spec.path', message: `${label}: kustomization path not found: ${JSON.stringify(spec.path)} (looked for ${display(dir) || '.'})` });
        continue;
      }
      const overlay = fluxOverlay(spec);
      const components = fluxComponents(spec).map((c) => resolve(dir, c));
      const key = buildKey(dir, overlay, components);
      const owner: BuildOwner = { file: f.path, ...at, path: spec.path === undefined ? 'spec' : 'spec.path', label, postBuild: spec.postBuild !== undefined };
      const seen = byKey.get(key);
      if (seen) seen.owners.push(owner);
      else byKey.set(key, { key, dir, overlay, components, ignoreMissingComponents: spec.ignoreMissingComponents === true, owners: [owner] });
      reachedFolders(dir, reached);
      for (const c of components) reachedFolders(c, reached);
    }
  }
  for (const f of files) {
    if (!(KUSTOMIZATION_FILE_NAMES as readonly string[]).includes(basename(f.path))) continue;
    const d = f.docs.find((x) => isKustomization(x.value));
    if (!d || (d.value as { kind?: unknown }).kind !== 'Kustomization') continue;
    const dir = resolve(f.path, '..');
    if (reached.has(dir)) continue;
    const key = buildKey(dir, {}, []);
    if (byKey.has(key)) continue;
    byKey.set(key, { key, dir, overlay: {}, components: [], ignoreMissingComponents: false, owners: [{ file: f.path, line: 1, col: 1, path: '', label: 'kustomization', postBuild: false }] });
  }
  return { targets: [...byKey.values()], issues };
}

export interface BuildOptions {
  readonly kubectl: string;
  /** An empty scratch folder (the caller removes it). */
  readonly scratch: string;
  readonly root: string;
  readonly runner: Runner;
  readonly display: (abs: string) => string;
  /** Builds at once; 4 by default. */
  readonly concurrency?: number;
}

function ownerIssue(o: BuildOwner, message: string): FileIssue {
  return { file: o.file, line: o.line, col: o.col, path: o.path, message: `${o.label}: ${message}` };
}

async function buildOne(t: BuildTarget, i: number, opts: BuildOptions): Promise<{ objects: BuiltObject[]; issues: FileIssue[] }> {
  const buildDir = join(opts.scratch, `build-${i}`);
  mkdirSync(buildDir, { recursive: true });
  const fail = (message: string) => ({ objects: [], issues: t.owners.map((o) => ownerIssue(o, message)) });
  const own = kustomizationFileIn(t.dir);
  let generated: string[] | undefined;
  if (own === undefined) {
    const scan = scanManifests(t.dir);
    if (scan.errors.length > 0) return fail(`failed to decode Kubernetes YAML from ${scan.errors.map((e) => kustomizeMessage(e, opts.display, [opts.root])).join('; ')}`);
    generated = scan.entries;
  }
  const components = t.ignoreMissingComponents ? t.components.filter((c) => existsSync(c)) : t.components;
  const k = buildKustomization({ buildDir, dir: t.dir, overlay: t.overlay, components, ...(generated ? { generated } : {}) });
  writeFileSync(join(buildDir, 'kustomization.yaml'), `${JSON.stringify(k, null, 2)}\n`);
  const r = await opts.runner.run(opts.kubectl, ['kustomize', '--load-restrictor=LoadRestrictionsNone', buildDir], { allowFail: true, timeoutMs: 120_000 });
  const what = own ? opts.display(own) : `${opts.display(t.dir) || '.'} (a kustomization.yaml generated as Flux does: the folder has none)`;
  if (r.code !== 0) return fail(`building ${what} failed: ${kustomizeMessage(r.stderr || r.stdout, opts.display, [opts.root, buildDir])}`);
  const objects: BuiltObject[] = [];
  for (const doc of parseAllDocuments(r.stdout)) {
    if (doc.errors.length > 0) return fail(`building ${what}: kubectl kustomize wrote YAML that does not parse: ${doc.errors[0]!.message.split('\n')[0]}`);
    const v: unknown = doc.toJS();
    if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
    objects.push({ object: withoutOrigin(v as Record<string, unknown>), source: originFile(v, buildDir), target: t });
  }
  return { objects, issues: [] };
}

/** Runs every build; the objects in build order, and an issue on each owner of a build that failed. */
export async function runBuilds(targets: readonly BuildTarget[], opts: BuildOptions): Promise<{ objects: BuiltObject[]; issues: FileIssue[] }> {
  const results: Array<{ objects: BuiltObject[]; issues: FileIssue[] }> = new Array(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      results[i] = await buildOne(targets[i]!, i, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, targets.length) }, worker));
  return { objects: results.flatMap((r) => r.objects), issues: results.flatMap((r) => r.issues) };
}
