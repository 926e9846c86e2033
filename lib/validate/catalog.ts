// Builds the catalog (apiVersion, kind) → schema from already-parsed
// upstream documents. Pure; lib/validate/load.ts does the reading.

import { closestNames } from '../text/suggest.js';
import { catalogKey, OBJECT_META_REF, REF_PREFIX, type Catalog, type KindEntry, type Schema } from './types.js';

export interface OpenApiInput {
  /** e.g. "Kubernetes v1.35.4" */
  source: string;
  /** A parsed Kubernetes OpenAPI v3 document (api/openapi-spec/v3/*.json). */
  doc: unknown;
}

export interface CrdInput {
  /** e.g. "Calico v3.28.5" */
  source: string;
  /** A parsed apiextensions.k8s.io/v1 CustomResourceDefinition. */
  crd: unknown;
}

export interface CatalogInput {
  openapi: OpenApiInput[];
  crds: CrdInput[];
  label: string;
}

const QUANTITY_REF = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

interface Gvk {
  group: string;
  version: string;
  kind: string;
}

function asGvk(v: unknown): Gvk | undefined {
  if (!isObj(v)) return undefined;
  const { group, version, kind } = v;
  if (typeof group !== 'string' || typeof version !== 'string' || typeof kind !== 'string') return undefined;
  return { group, version, kind };
}

export function buildCatalog(input: CatalogInput): Catalog {
  const defs: Record<string, Schema> = {};
  const kinds = new Map<string, KindEntry>();
  const scope = new Map<string, boolean>();

  for (const { source, doc } of input.openapi) {
    if (!isObj(doc) || !isObj(doc.components) || !isObj(doc.components.schemas)) {
      throw new Error(`${source}: not an OpenAPI v3 document with components.schemas`);
    }
    const schemas = doc.components.schemas as Record<string, Schema>;
    for (const [name, schema] of Object.entries(schemas)) {
      if (!(name in defs)) defs[name] = schema;
    }
    // Scope from the create operations: namespaced kinds are created under
    // /namespaces/{namespace}/, cluster-scoped ones are not.
    if (isObj(doc.paths)) {
      for (const [p, item] of Object.entries(doc.paths)) {
        if (!isObj(item) || p.includes('{name}')) continue;
        const post = item.post;
        if (!isObj(post) || post['x-kubernetes-action'] !== 'post') continue;
        const gvk = asGvk(post['x-kubernetes-group-version-kind']);
        if (!gvk) continue;
        const key = catalogKey(apiVersionOf(gvk.group, gvk.version), gvk.kind);
        if (!scope.has(key)) scope.set(key, p.includes('/namespaces/{namespace}/'));
      }
    }
    for (const [, schema] of Object.entries(schemas)) {
      const list = schema['x-kubernetes-group-version-kind'];
      if (!Array.isArray(list)) continue;
      for (const raw of list) {
        const gvk = asGvk(raw);
        if (!gvk) continue;
        const apiVersion = apiVersionOf(gvk.group, gvk.version);
        const key = catalogKey(apiVersion, gvk.kind);
        if (kinds.has(key)) continue;
        kinds.set(key, {
          apiVersion,
          group: gvk.group,
          version: gvk.version,
          kind: gvk.kind,
          schema,
          namespaced: undefined,
          source,
        });
      }
    }
  }
  for (const [key, entry] of kinds) entry.namespaced = scope.get(key);

  // Quantities are strings or numbers; strings must parse as a quantity.
  const q = defs[QUANTITY_REF];
  if (q) defs[QUANTITY_REF] = { ...q, format: 'quantity' };

  const haveObjectMeta = OBJECT_META_REF in defs;
  for (const { source, crd } of input.crds) {
    for (const entry of crdEntries(crd, source, haveObjectMeta)) {
      kinds.set(catalogKey(entry.apiVersion, entry.kind), entry);
    }
  }
  return { kinds, defs, label: input.label };
}

/** The served versions of one CRD, as catalog entries. */
export function crdEntries(crd: unknown, source: string, useObjectMeta = true): KindEntry[] {
  const where = `${source}: CustomResourceDefinition`;
  if (!isObj(crd) || crd.kind !== 'CustomResourceDefinition' || !isObj(crd.spec)) {
    throw new Error(`${where}: not a CustomResourceDefinition`);
  }
  const spec = crd.spec;
  const group = spec.group;
  const names = spec.names;
  if (typeof group !== 'string' || !isObj(names) || typeof names.kind !== 'string') {
    throw new Error(`${where}: missing spec.group or spec.names.kind`);
  }
  const kind = names.kind;
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  const out: KindEntry[] = [];
  for (const v of versions) {
    if (!isObj(v) || typeof v.name !== 'string' || v.served !== true) continue;
    const raw = isObj(v.schema) ? v.schema.openAPIV3Schema : undefined;
    if (!isObj(raw)) throw new Error(`${where} ${group}/${v.name} ${kind}: version has no openAPIV3Schema`);
    out.push({
      apiVersion: `${group}/${v.name}`,
      group,
      version: v.name,
      kind,
      schema: normalizeCrdSchema(raw as Schema, true, useObjectMeta),
      namespaced: spec.scope === 'Namespaced',
      source,
    });
  }
  if (out.length === 0) throw new Error(`${where} ${group} ${kind}: no served version`);
  return out;
}

/**
 * Copies a CRD structural schema with two adjustments that make it say what
 * the API server enforces:
 *  - `metadata` of the object (and of embedded resources) is ObjectMeta;
 *  - a `type: object` with neither properties, additionalProperties nor
 *    x-kubernetes-preserve-unknown-fields keeps no fields (the API server
 *    prunes them all), so any field there is unknown.
 */
function normalizeCrdSchema(s: Schema, root: boolean, useObjectMeta: boolean): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    const props: Record<string, Schema> = {};
    for (const [k, v] of Object.entries(s.properties)) {
      if (k === 'metadata' && useObjectMeta && (root || s['x-kubernetes-embedded-resource'] === true)) {
        props[k] = metadataSchema(v);
      } else props[k] = normalizeCrdSchema(v, false, useObjectMeta);
    }
    out.properties = props;
  }
  if (s.items) out.items = normalizeCrdSchema(s.items, false, useObjectMeta);
  if (isObj(s.additionalProperties)) {
    out.additionalProperties = normalizeCrdSchema(s.additionalProperties as Schema, false, useObjectMeta);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = s[k];
    if (Array.isArray(list)) out[k] = list.map((x) => normalizeCrdSchema(x, false, useObjectMeta));
  }
  if (s.not) out.not = normalizeCrdSchema(s.not, false, useObjectMeta);
  if (
    s.type === 'object' &&
    s.properties === undefined &&
    s.additionalProperties === undefined &&
    s['x-kubernetes-preserve-unknown-fields'] !== true &&
    s['x-kubernetes-embedded-resource'] !== true
  ) {
    out.properties = {};
  }
  return out;
}

function metadataSchema(crdMeta: Schema): Schema {
  const ref: Schema = { $ref: REF_PREFIX + OBJECT_META_REF };
  const { type: _t, description: _d, ...rest } = crdMeta;
  if (Object.keys(rest).length === 0) return ref;
  // A CRD may only narrow name/generateName; check both.
  return { allOf: [rest as Schema, ref] };
}

/** "no schema for x/v1 Foo (known: …)" hint: close apiVersion/kind pairs. */
export function closeKinds(catalog: Catalog, apiVersion: string, kind: string, max = 5): string[] {
  const sameKind: string[] = [];
  const sameGroupKinds: string[] = [];
  const allKinds = new Set<string>();
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '';
  for (const e of catalog.kinds.values()) {
    if (e.kind.endsWith('List') || e.kind === 'WatchEvent' || e.kind === 'DeleteOptions') continue;
    if (e.kind === kind || e.kind.toLowerCase() === kind.toLowerCase()) sameKind.push(`${e.apiVersion} ${e.kind}`);
    if (e.apiVersion === apiVersion || e.group === group) sameGroupKinds.push(e.kind);
    allKinds.add(e.kind);
  }
  if (sameKind.length > 0) return sameKind.sort().slice(0, max);
  const near = closestNames(kind, sameGroupKinds.length > 0 ? new Set(sameGroupKinds) : allKinds, max);
  const pool = near.length > 0 ? near : closestNames(kind, allKinds, max);
  const out: string[] = [];
  for (const k of pool) {
    for (const e of catalog.kinds.values()) if (e.kind === k) out.push(`${e.apiVersion} ${e.kind}`);
  }
  return [...new Set(out)].sort().slice(0, max);
}
