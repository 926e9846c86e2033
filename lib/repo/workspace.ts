/**
 * The repository as the scripts and actions see it: the cluster specs under
 * infra/, each cluster's recorded provider facts, and the rendered trees.
 * This is the file-system edge of rendering; everything it calls is pure.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { checkFacts, decodeFacts, planWithFacts } from '../plan/facts.js';
import { platformOf } from '../platforms/index.js';
import { clusterNameOf, loadCluster } from '../platforms/load.js';
import type { Problem } from '../cluster/problems.js';
import type { LoadedCluster } from '../plan/loaded.js';
import { readFluxCrds } from '../flux/install.js';
import { FACTS_FILE, renderCluster, renderShared, type PinnedInputs, type RenderedFile } from '../render/tree.js';
import { GENERATED_MARKER } from '../render/yaml.js';
import { BIRD6_TEMPLATE } from '../render/birdTemplates.js';
import { calicoConfdDir, SETUP_COMMAND } from '../toolchain/pins.js';

/** Cluster spec files: infra/*.yaml, but not Pulumi's own project and stack files. */
export function specFiles(root: string): string[] {
  const dir = join(root, 'infra');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('Pulumi'))
    .sort()
    .map((f) => `infra/${f}`);
}

/**
 * Loads one spec (path relative to root) with its provider facts;
 * `ignoreFacts` reads the spec alone (the Pulumi program, which makes them).
 */
export function loadSpecFile(root: string, file: string, options: { ignoreFacts?: boolean } = {}): { cluster?: LoadedCluster; problems: Problem[] } {
  const name = clusterNameOf(file);
  let text: string;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch (e) {
    return { problems: [{ file, field: '(file)', message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, fix: 'check the path' }] };
  }
  const loaded = loadCluster(file, text, { expectName: name });
  if (!loaded.ok) return { problems: loaded.problems };
  const { spec } = loaded;
  const planned = platformOf(spec).plannedDevices?.(spec, loaded.plan);
  if (planned) return { cluster: { spec, plan: loaded.plan, devices: planned, sources: [file] }, problems: [] };
  // The provider gives the devices: they are the facts apply recorded.
  const factsPath = `clusters/${spec.name}/${FACTS_FILE}`;
  if (options.ignoreFacts || !existsSync(join(root, factsPath))) return { cluster: { spec, plan: loaded.plan, sources: [file] }, problems: [] };
  const decoded = decodeFacts(factsPath, readFileSync(join(root, factsPath), 'utf8'));
  if (!decoded.ok) return { problems: decoded.problems };
  const plan = planWithFacts(spec, decoded.facts);
  const problems = checkFacts(factsPath, decoded.facts, spec, plan);
  if (problems.length > 0) return { problems };
  return { cluster: { spec, plan, devices: decoded.facts.devices, sources: [file, factsPath] }, problems: [] };
}

/**
 * Every cluster of infra/ that can be rendered, and the problems of those
 * that cannot. `pending`: the specs whose block is only a size and has no
 * facts yet (nothing is rendered for them: every range is carved from the
 * block, which apply records, then renders them).
 */
export function loadAll(root: string): { clusters: LoadedCluster[]; problems: Problem[]; pending: string[] } {
  const clusters: LoadedCluster[] = [];
  const problems: Problem[] = [];
  const pending: string[] = [];
  for (const file of specFiles(root)) {
    const r = loadSpecFile(root, file);
    problems.push(...r.problems);
    if (r.cluster && !r.cluster.plan.resolved) pending.push(file);
    else if (r.cluster) clusters.push(r.cluster);
  }
  return { clusters, problems, pending };
}

/**
 * What the tree is rendered from besides the specs: the pinned Flux
 * controllers' CRDs that `npm run setup -- flux:crds` put under `cacheDir`
 * (refused, with that command, when absent or of another version than the
 * pin), and Calico's confd templates (`calico:confd-templates`).
 */
export function pinnedInputs(cacheDir: string): PinnedInputs {
  return { crds: readFluxCrds(cacheDir), calicoTemplates: readCalicoTemplates(cacheDir) };
}

/** The pinned Calico confd templates, by file name. */
export function readCalicoTemplates(cacheDir: string): Record<string, string> {
  const dir = join(calicoConfdDir(cacheDir), 'templates');
  if (!existsSync(join(dir, BIRD6_TEMPLATE))) throw new Error(`${dir} has no ${BIRD6_TEMPLATE}: run ${SETUP_COMMAND} (step calico:confd-templates)`);
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

export function renderAll(clusters: readonly LoadedCluster[], flux: PinnedInputs): RenderedFile[] {
  return [...renderShared(), ...clusters.flatMap((c) => renderCluster(c, flux))];
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export interface WriteResult {
  readonly written: string[];
  readonly removed: string[];
  readonly unchanged: number;
}

/**
 * Writes the rendered files under root. A generated file (it carries the
 * header) that is no longer rendered is removed; hand-written files are
 * never touched. Only changed files are written.
 */
export function writeTree(root: string, files: readonly RenderedFile[], owned: readonly string[]): WriteResult {
  const wanted = new Map(files.map((f) => [f.path, f.content]));
  const written: string[] = [];
  const removed: string[] = [];
  let unchanged = 0;
  for (const dir of owned) {
    for (const abs of walk(join(root, dir))) {
      const rel = relative(root, abs);
      if (wanted.has(rel)) continue;
      if (readFileSync(abs, 'utf8').startsWith(GENERATED_MARKER)) {
        rmSync(abs);
        removed.push(rel);
      }
    }
  }
  for (const [path, content] of wanted) {
    const abs = join(root, path);
    if (existsSync(abs) && readFileSync(abs, 'utf8') === content) {
      unchanged++;
      continue;
    }
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
    written.push(path);
  }
  return { written: written.sort(), removed: removed.sort(), unchanged };
}

/** The directories render owns: the shared trees and every cluster's folder. */
export function ownedDirs(clusters: readonly LoadedCluster[]): string[] {
  return ['policies', 'apps', ...clusters.map((c) => `clusters/${c.spec.name}`)];
}
