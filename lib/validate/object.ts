// validateObject: one Kubernetes object against the catalog.

import { closeKinds } from './catalog.js';
import { ANNOTATIONS_TOTAL_MAX, checkName, dns1123Label, labelValue, nameRuleFor, qualifiedName } from './names.js';
import { formatPath, type PathSegment } from './path.js';
import { jsonType, validateValue } from './schema.js';
import { catalogKey, type Catalog, type Issue, type KindEntry } from './types.js';

export interface ObjectOptions {
  /**
   * The object is a strategic merge patch (a kustomize `patches[].path`
   * file): required fields and metadata.name are not demanded.
   */
  partial?: boolean;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The catalog entry for an object, or undefined. */
export function lookupKind(catalog: Catalog, obj: unknown): KindEntry | undefined {
  if (!isObj(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return undefined;
  return catalog.kinds.get(catalogKey(obj.apiVersion, obj.kind));
}

export function validateObject(obj: unknown, catalog: Catalog, opts: ObjectOptions = {}): Issue[] {
  if (!isObj(obj)) return [{ path: '', message: `a Kubernetes object must be a mapping, got ${jsonType(obj)}` }];
  const issues: Issue[] = [];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    issues.push({ path: 'apiVersion', message: apiVersion === undefined ? 'required field is missing' : 'must be a non-empty string' });
  }
  if (typeof kind !== 'string' || kind === '') {
    issues.push({ path: 'kind', message: kind === undefined ? 'required field is missing' : 'must be a non-empty string' });
  }
  if (issues.length > 0) return issues;
  const av = apiVersion as string;
  const k = kind as string;
  const entry = catalog.kinds.get(catalogKey(av, k));
  if (!entry) {
    const close = closeKinds(catalog, av, k);
    const hint = close.length > 0 ? `known: ${close.join(', ')}` : `no close match among ${catalog.kinds.size} kinds`;
    return [{ path: 'apiVersion', message: `no schema for ${av} ${k} (${hint})` }];
  }

  issues.push(...validateValue(obj, entry.schema, catalog.defs, { partial: opts.partial ?? false, root: true }));
  issues.push(...checkMetadata(obj.metadata, entry, opts));
  return dedupe(issues);
}

function checkMetadata(meta: unknown, entry: KindEntry, opts: ObjectOptions): Issue[] {
  const out: Issue[] = [];
  const at = (...rest: PathSegment[]): string => formatPath(['metadata', ...rest]);
  if (meta === undefined) {
    if (!opts.partial) out.push({ path: 'metadata', message: 'required field is missing (metadata.name is needed)' });
    return out;
  }
  if (!isObj(meta)) return out; // the schema walk already reported it

  const name = meta.name;
  if (name === undefined || name === '') {
    if (!opts.partial) out.push({ path: at('name'), message: 'required field is missing' });
  } else if (typeof name === 'string') {
    const rule = nameRuleFor(entry.group, entry.kind);
    for (const m of checkName(rule, name)) out.push({ path: at('name'), message: `invalid name ${JSON.stringify(name)}: ${m}` });
  }

  const ns = meta.namespace;
  if (typeof ns === 'string') {
    if (entry.namespaced === false) {
      out.push({ path: at('namespace'), message: `${entry.kind} is cluster-scoped; remove metadata.namespace` });
    } else {
      for (const m of dns1123Label(ns)) out.push({ path: at('namespace'), message: `invalid namespace ${JSON.stringify(ns)}: ${m}` });
    }
  }

  if (isObj(meta.labels)) {
    for (const [k, v] of Object.entries(meta.labels)) {
      for (const m of qualifiedName(k)) out.push({ path: at('labels', k), message: `invalid label key: ${m}` });
      if (typeof v === 'string') {
        for (const m of labelValue(v)) out.push({ path: at('labels', k), message: `invalid label value ${JSON.stringify(v)}: ${m}` });
      }
    }
  }

  if (isObj(meta.annotations)) {
    let total = 0;
    for (const [k, v] of Object.entries(meta.annotations)) {
      for (const m of qualifiedName(k.toLowerCase())) out.push({ path: at('annotations', k), message: `invalid annotation key: ${m}` });
      total += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
    }
    if (total > ANNOTATIONS_TOTAL_MAX) {
      out.push({ path: at('annotations'), message: `annotations total ${total} bytes, must be at most ${ANNOTATIONS_TOTAL_MAX}` });
    }
  }
  return out;
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
