/**
 * Calico's upstream manifest as the install reads it (`manifests/calico.yaml`
 * of the pinned Calico, copied by `npm run setup -- calico:manifest`): the
 * reader, the checks of the objects' shape the adjustment relies on, and
 * the CNI configuration template as data. What is changed, and why, is
 * calicoInstall.ts. Every refusal names the file (or CALICO_UPSTREAM) and
 * what is wrong.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/objects.js';
import { CALICO_NAMESPACE } from '../render/calico.js';
import { CALICO_MANIFEST, calicoManifestFile, readCalicoManifestRecord } from '../toolchain/calicoManifest.js';

/** What the objects are, for messages when no file path is given. */
export const CALICO_UPSTREAM = `${CALICO_MANIFEST.path} of Calico ${CALICO_MANIFEST.productVersion}`;

export class CalicoManifestError extends Error {
  override name = 'CalicoManifestError';
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ------------------------------------------------------------ CNI template

// install-cni fills placeholders like __CNI_MTU__ in by text, some of them
// outside quotes: the template is JSON only once they are quoted.
const MARK = 'n6-bare-placeholder:';
const BARE = /(^|[^"\w])(__[A-Z][A-Z0-9_]*__)(?=[^"\w]|$)/g;
const MARKED = new RegExp(`"${MARK}(__[A-Z][A-Z0-9_]*__)"`, 'g');

/** Calico's CNI configuration template (calico-config's cni_network_config) as data; bare placeholders become marked strings. */
export function parseCniTemplate(text: string): unknown {
  if (text.includes(MARK)) throw new Error(`the template already holds "${MARK}"`);
  return JSON.parse(text.replace(BARE, (_m, pre: string, token: string) => `${pre}"${MARK}${token}"`));
}

/** The inverse of parseCniTemplate: JSON, two-space indented, bare placeholders bare again. */
export function formatCniTemplate(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(MARKED, '$1');
}

// ----------------------------------------------------------- shape checks

/** "Kind namespace/name", for messages. */
export function describe(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Every object has apiVersion, kind and metadata.name (refused otherwise, naming its position). */
export function checkShape(upstream: readonly unknown[], source: string): KubeObject[] {
  if (!Array.isArray(upstream) || upstream.length === 0) throw new CalicoManifestError(`${source}: no objects`);
  upstream.forEach((o, i) => {
    const meta = isObj(o) ? o.metadata : undefined;
    if (!isObj(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !isObj(meta) || typeof meta.name !== 'string' || meta.name === '') {
      throw new CalicoManifestError(`${source}: object ${i + 1} is not a Kubernetes object with apiVersion, kind and metadata.name`);
    }
  });
  return upstream as KubeObject[];
}

/** The one object of that kind and name, of that apiVersion, in Calico's namespace. */
export function theOne(objects: readonly KubeObject[], source: string, apiVersion: string, kind: string, name: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length === 0) {
    const kinds = [...new Set(objects.map((o) => o.kind))].sort().join(', ');
    throw new CalicoManifestError(`${source}: no ${kind} named ${name} (it holds ${objects.length} objects: ${kinds})`);
  }
  if (found.length > 1) throw new CalicoManifestError(`${source}: ${found.length} objects are ${kind} ${name}; expected one`);
  const o = found[0]!;
  if (o.apiVersion !== apiVersion) throw new CalicoManifestError(`${source}: ${describe(o)} is ${o.apiVersion}; expected ${apiVersion}`);
  if (o.metadata.namespace !== CALICO_NAMESPACE) {
    throw new CalicoManifestError(`${source}: ${describe(o)} is not in ${CALICO_NAMESPACE}, where the fabric's RBAC for the BGP passwords expects Calico (lib/render/calico.ts)`);
  }
  return o;
}

/** A workload's pod spec, which must list containers. */
export function podSpec(o: KubeObject, source: string): Obj {
  const spec = o.spec;
  const template = isObj(spec) ? spec.template : undefined;
  const pod = isObj(template) ? template.spec : undefined;
  if (!isObj(pod) || !Array.isArray(pod.containers)) throw new CalicoManifestError(`${source}: ${describe(o)} has no spec.template.spec.containers`);
  return pod;
}

/** A pod's containers or init containers (none when absent), each named. */
export function containersOf(pod: Obj, field: 'containers' | 'initContainers', o: KubeObject, source: string): Obj[] {
  const list = pod[field] ?? [];
  if (!Array.isArray(list) || !list.every((c) => isObj(c) && typeof c.name === 'string')) {
    throw new CalicoManifestError(`${source}: ${describe(o)} spec.template.spec.${field} is not a list of named containers`);
  }
  return list as Obj[];
}

/** The container of that name. */
export function container(list: readonly Obj[], name: string, field: string, o: KubeObject, source: string): Obj {
  const c = list.find((x) => x.name === name);
  if (!c) throw new CalicoManifestError(`${source}: ${describe(o)} has no ${field} named ${name} (it has ${list.map((x) => String(x.name)).join(', ') || 'none'})`);
  return c;
}

/** A container's env (made an empty list when absent), each variable named. */
export function envOf(c: Obj, o: KubeObject, source: string): EnvVar[] {
  c.env ??= [];
  if (!Array.isArray(c.env) || !c.env.every((e) => isObj(e) && typeof e.name === 'string')) {
    throw new CalicoManifestError(`${source}: ${describe(o)} container ${String(c.name)} has an env that is not a list of named variables`);
  }
  return c.env as EnvVar[];
}

/** Sets a variable to a value: in place of the first entry of that name (every other entry of it removed), or appended. */
export function setEnv(env: EnvVar[], v: EnvVar): void {
  const at = env.findIndex((e) => e.name === v.name);
  for (let i = env.length - 1; i >= 0; i--) if (env[i]!.name === v.name) env.splice(i, 1);
  if (at < 0) env.push({ ...v });
  else env.splice(at, 0, { ...v });
}

/** Every container runs an image of the pinned Calico release. */
export function checkImages(list: readonly Obj[], o: KubeObject, source: string): void {
  for (const c of list) {
    const image = c.image;
    if (typeof image !== 'string' || !image.endsWith(`:${CALICO_MANIFEST.productVersion}`)) {
      throw new CalicoManifestError(`${source}: ${describe(o)} container ${String(c.name)} runs ${String(image)}, not the pinned Calico ${CALICO_MANIFEST.productVersion}`);
    }
  }
}

/**
 * The objects of the manifest `npm run setup -- calico:manifest` copied,
 * after checking it is the pinned module's file, unchanged. Throws naming
 * the file, the document and its line when a document is not a Kubernetes
 * object.
 */
export function readCalicoManifest(cacheDir: string): KubeObject[] {
  readCalicoManifestRecord(cacheDir);
  const file = calicoManifestFile(cacheDir);
  const text = readFileSync(file, 'utf8');
  const lines = new LineCounter();
  const out: KubeObject[] = [];
  let index = 0;
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })) {
    index++;
    const line = lines.linePos(doc.contents?.range?.[0] ?? doc.range[0]).line;
    if (doc.errors.length > 0) throw new CalicoManifestError(`${file}: document ${index} (line ${line}): ${doc.errors[0]!.message.split('\n')[0]}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const meta = isObj(value) ? value.metadata : undefined;
    if (!isObj(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string' || !isObj(meta) || typeof meta.name !== 'string') {
      throw new CalicoManifestError(`${file}: document ${index} (line ${line}) is not a Kubernetes object with apiVersion, kind and metadata.name`);
    }
    out.push(value as KubeObject);
  }
  if (out.length === 0) throw new CalicoManifestError(`${file}: holds no objects`);
  return out;
}
