// What Flux's kustomize-controller builds, planned as data (pure): the
// Flux Kustomizations in a tree, the folder each one builds, and the
// kustomization that builds it as the controller would (fluxcd/pkg
// kustomize: a kustomization.yaml generated when the folder has none, then
// spec.targetNamespace, namePrefix, nameSuffix, patches, components and
// images laid over it). The build itself runs `kubectl kustomize` at the
// edge (./kustomizeBuild.ts).
//
// The plan never touches the user's tree: each build is a small
// kustomization in a scratch folder that names the Flux path (or, when the
// path has no kustomization, the files Flux would list) by a relative path,
// with `buildMetadata: [originAnnotations]` so that every built object says
// which file it came from.

import { posix, relative, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parsePath, type PathSegment } from './path.js';

export const FLUX_KUSTOMIZE_API_GROUP = 'kustomize.toolkit.fluxcd.io';
/** Flux's own namespace: Flux's install makes it, so the trees never define it. */
export const FLUX_NAMESPACE = 'flux-system';
/** kustomize's `buildMetadata: [originAnnotations]` writes this on every object it builds. */
export const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A Flux Kustomization (kustomize.toolkit.fluxcd.io/*), as opposed to a kustomization.yaml. */
export function isFluxKustomization(v: unknown): v is { metadata?: Record<string, unknown>; spec?: Record<string, unknown> } {
  return isObj(v) && v.kind === 'Kustomization' && typeof v.apiVersion === 'string' && v.apiVersion.startsWith(`${FLUX_KUSTOMIZE_API_GROUP}/`);
}

/** `Kind namespace/name` (or `Kind name` for an object without namespace). */
export function objectLabel(v: unknown): string {
  if (!isObj(v)) return 'a document that is not an object';
  const meta = isObj(v.metadata) ? v.metadata : {};
  const kind = typeof v.kind === 'string' ? v.kind : '(no kind)';
  const name = typeof meta.name === 'string' ? meta.name : '(no name)';
  return typeof meta.namespace === 'string' ? `${kind} ${meta.namespace}/${name}` : `${kind} ${name}`;
}

/**
 * The folder a Flux path names, inside `root` (the source's root): as
 * kustomize-controller joins it (securejoin), `..` cannot climb out and a
 * leading `/` means the root. An absent path is the root.
 */
export function fluxPathDir(root: string, path: unknown): string {
  const p = typeof path === 'string' && path !== '' ? path : '.';
  return resolve(root, `.${posix.normalize(`/${p}`)}`);
}

/** The kustomization fields a Flux Kustomization's spec lays over the folder's (empty when it sets none). */
export function fluxOverlay(spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof spec.targetNamespace === 'string') out.namespace = spec.targetNamespace;
  if (typeof spec.namePrefix === 'string') out.namePrefix = spec.namePrefix;
  if (typeof spec.nameSuffix === 'string') out.nameSuffix = spec.nameSuffix;
  if (Array.isArray(spec.patches) && spec.patches.length > 0) {
    out.patches = spec.patches.filter(isObj).map((p) => (p.target === undefined ? { patch: p.patch } : { patch: p.patch, target: p.target }));
  }
  if (Array.isArray(spec.images) && spec.images.length > 0) out.images = spec.images;
  return out;
}

/** Component paths, relative to the Flux path, as the spec lists them. */
export function fluxComponents(spec: Record<string, unknown>): string[] {
  return Array.isArray(spec.components) ? spec.components.filter((c): c is string => typeof c === 'string') : [];
}

export interface OverlayInput {
  /** The scratch folder the kustomization is written into. */
  readonly buildDir: string;
  /** The Flux path (or kustomization folder) built. */
  readonly dir: string;
  /** When the folder has no kustomization: the files and folders Flux's generator lists (absolute). */
  readonly generated?: readonly string[];
  /** Fields from fluxOverlay(). */
  readonly overlay?: Record<string, unknown>;
  /** Components (absolute) from the Flux spec. */
  readonly components?: readonly string[];
}

/**
 * The kustomization written into the scratch folder: the folder's own
 * kustomization as a resource (or the generated list of its files), the
 * Flux spec's fields, and origin annotations.
 */
export function buildKustomization(input: OverlayInput): Record<string, unknown> {
  const rel = (p: string): string => relative(input.buildDir, p) || '.';
  const resources = input.generated ? input.generated.map(rel) : [rel(input.dir)];
  const k: Record<string, unknown> = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // Flux: a folder with nothing in it builds to nothing (its placeholder namespace).
    ...(resources.length > 0 ? { resources } : { namespace: '_placeholder' }),
    ...(input.overlay ?? {}),
    buildMetadata: ['originAnnotations'],
  };
  if (input.components && input.components.length > 0) k.components = input.components.map(rel);
  return k;
}

/** The source file an object was built from (absolute), from its origin annotation; the build folder is what the annotation's path is relative to. */
export function originFile(obj: unknown, buildDir: string): string | undefined {
  if (!isObj(obj) || !isObj(obj.metadata) || !isObj(obj.metadata.annotations)) return undefined;
  const text = obj.metadata.annotations[ORIGIN_ANNOTATION];
  if (typeof text !== 'string') return undefined;
  const origin: unknown = parseDocument(text).toJS();
  if (!isObj(origin)) return undefined;
  // A generated object (configMapGenerator…) names the kustomization that configured it.
  const path = typeof origin.path === 'string' ? origin.path : typeof origin.configuredIn === 'string' ? origin.configuredIn : undefined;
  if (path === undefined || /^[a-z]+:\/\//i.test(path)) return undefined;
  return join(buildDir, path);
}

/** The object without the origin annotation this build added (and without `annotations` when it was the only one). */
export function withoutOrigin<T>(obj: T): T {
  if (!isObj(obj) || !isObj(obj.metadata) || !isObj(obj.metadata.annotations)) return obj;
  const { [ORIGIN_ANNOTATION]: _dropped, ...annotations } = obj.metadata.annotations;
  const metadata = { ...obj.metadata, annotations };
  if (Object.keys(annotations).length === 0) delete (metadata as Record<string, unknown>).annotations;
  return { ...obj, metadata } as T;
}

/**
 * The field an API error points at: `<Kind>.<group> "<name>" is invalid:
 * <path>: …` (the first cause when there are several), in formatPath's
 * syntax; undefined when the message names none.
 */
export function apiErrorField(message: string): PathSegment[] | undefined {
  const m = /\bis invalid: \[?([A-Za-z_$][^:\s]*):/.exec(message);
  if (!m) return undefined;
  // The API writes map keys as [key] and list items as [0]; formatPath quotes keys.
  const text = m[1]!.replace(/\[([^\]"]*[^\]\d"][^\]"]*)\]/g, (_all, key: string) => `[${JSON.stringify(key)}]`);
  try {
    return parsePath(text);
  } catch {
    return undefined;
  }
}

/** kubectl's error text, one line: "Error from server (Invalid): " becomes "(Invalid) ", "error: " goes. */
export function kubectlMessage(stderr: string): string {
  return stderr
    .trim()
    .split('\n')
    .filter((l) => !/^Warning: /.test(l))
    .map((l) => l.replace(/^Error from server \(([^)]+)\): /, '($1) ').replace(/^error: /, ''))
    .join('; ');
}

/**
 * A kustomize error made readable: the scratch wrapper's own frames go
 * (the first "accumulating resources from '<scratch ref>'" and the
 * recursion into the folder built), absolute paths become the paths the
 * user typed.
 */
export function kustomizeMessage(stderr: string, display: (abs: string) => string, roots: readonly string[]): string {
  let text = kubectlMessage(stderr);
  text = text.replace(/^accumulating resources: accumulation err='accumulating resources from '[^']*': read [^:']*: is a directory': (recursed accumulation of path '[^']*': )?/, '');
  for (const root of [...roots].sort((a, b) => b.length - a.length)) {
    const shown = display(root);
    text = text.split(`${root.replace(/\/$/, '')}/`).join(shown === '' ? '' : `${shown.replace(/\/$/, '')}/`);
  }
  return text;
}

/** A key that is the same for two builds that would build the same thing. */
export function buildKey(dir: string, overlay: Record<string, unknown>, components: readonly string[]): string {
  return JSON.stringify([dir, overlay, components]);
}
