// A hand-written walker that checks a JSON value against a Kubernetes
// OpenAPI v3 / CRD structural schema, the way the API server does with
// strict field validation: fields the schema does not declare are errors.
//
// Pure: no I/O. `$ref`s are resolved lazily against `defs`, so recursive
// schemas (JSONSchemaProps) cost nothing until a value actually nests.

import { closestNames } from '../text/suggest.js';
import { compilePattern } from './pattern.js';
import { formatPath, type PathSegment } from './path.js';
import { OBJECT_META_REF, REF_PREFIX, type Issue, type Schema } from './types.js';

export interface WalkOptions {
  /**
   * A patch, not a whole object: `required` is not enforced (a strategic
   * merge patch names only what it changes).
   */
  partial?: boolean;
}

interface Ctx {
  defs: Record<string, Schema>;
  issues: Issue[];
  partial: boolean;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2 ** 63);
const INT64_MAX = 2 ** 63; // exclusive bound; floats cannot say 2^63-1

/** Checks `value` against `schema`; returns the problems found. */
export function validateValue(
  value: unknown,
  schema: Schema,
  defs: Record<string, Schema>,
  opts: WalkOptions & { at?: readonly PathSegment[]; root?: boolean } = {},
): Issue[] {
  const ctx: Ctx = { defs, issues: [], partial: opts.partial ?? false };
  walk(value, schema, [...(opts.at ?? [])], ctx, opts.root ?? false);
  return ctx.issues;
}

// ---------------------------------------------------------------- resolving

const resolvedCache = new WeakMap<Schema, Schema>();

class SchemaRefError extends Error {}

/**
 * Flattens `$ref` and `allOf` at the top of a schema into one schema. Nested
 * schemas (properties, items, …) stay as they are until walked.
 */
export function resolveSchema(s: Schema, defs: Record<string, Schema>, depth = 0): Schema {
  const hit = resolvedCache.get(s);
  if (hit) return hit;
  if (depth > 32) throw new SchemaRefError('schema $ref chain too deep');
  let out: Schema = s;
  if (typeof s.$ref === 'string') {
    const { $ref, ...rest } = s;
    const name = $ref.startsWith(REF_PREFIX) ? $ref.slice(REF_PREFIX.length) : $ref;
    const target = defs[name];
    if (!target) throw new SchemaRefError(`schema reference ${$ref} not found`);
    out = mergeSchemas(rest, resolveSchema(target, defs, depth + 1));
  }
  if (Array.isArray(out.allOf)) {
    const { allOf, ...rest } = out;
    let merged: Schema = rest;
    for (const sub of allOf) merged = mergeSchemas(merged, resolveSchema(sub, defs, depth + 1));
    out = merged;
  }
  resolvedCache.set(s, out);
  return out;
}

/** `a` and `b` both hold; `a`'s single-valued keywords win on conflict. */
function mergeSchemas(a: Schema, b: Schema): Schema {
  const out: Schema = { ...b, ...a };
  if (a.properties && b.properties) {
    const props: Record<string, Schema> = { ...b.properties };
    for (const [k, v] of Object.entries(a.properties)) {
      const other = props[k];
      props[k] = other ? { allOf: [v, other] } : v;
    }
    out.properties = props;
  }
  if (a.required && b.required) out.required = [...new Set([...a.required, ...b.required])];
  if (a.type === undefined && b.type !== undefined) out.type = b.type;
  return out;
}

// ------------------------------------------------------------------ walking

function add(ctx: Ctx, at: readonly PathSegment[], message: string): void {
  ctx.issues.push({ path: formatPath(at), message });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

export function preview(v: unknown, max = 48): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function describe(v: unknown): string {
  const t = jsonType(v);
  if (t === 'object') return 'a mapping';
  if (t === 'array') return 'a list';
  if (t === 'null') return 'null';
  return `${t} ${preview(v)}`;
}

function typeMatches(type: NonNullable<Schema['type']>, v: unknown): boolean {
  switch (type) {
    case 'object':
      return isPlainObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

function isEmptySchema(s: Schema): boolean {
  return (
    s.type === undefined &&
    s.properties === undefined &&
    s.additionalProperties === undefined &&
    s.items === undefined &&
    s.anyOf === undefined &&
    s.oneOf === undefined &&
    s.enum === undefined &&
    s.not === undefined
  );
}

function walk(v: unknown, schema: Schema, at: PathSegment[], ctx: Ctx, root: boolean): void {
  let s: Schema;
  try {
    s = resolveSchema(schema, ctx.defs);
  } catch (e) {
    add(ctx, at, `schema error: ${(e as Error).message}`);
    return;
  }

  if (v === null) {
    if (s.nullable === true || isEmptySchema(s)) return;
    add(ctx, at, `must not be null (leave the field out instead)`);
    return;
  }

  const intOrString = s['x-kubernetes-int-or-string'] === true || s.format === 'int-or-string';
  if (intOrString) {
    if (typeof v === 'number' && Number.isInteger(v)) {
      if (s.format === 'int-or-string' && (v < INT32_MIN || v > INT32_MAX)) {
        add(ctx, at, `${v} is out of range for a 32-bit integer`);
      }
      checkNumber(v, s, at, ctx);
    } else if (typeof v === 'string') {
      checkString(v, s, at, ctx);
    } else {
      add(ctx, at, `must be an integer or a string, got ${describe(v)}`);
      return;
    }
    checkEnum(v, s, at, ctx);
    return;
  }

  if (s.type !== undefined && !typeMatches(s.type, v)) {
    add(ctx, at, `must be ${article(s.type)}, got ${describe(v)}`);
    return;
  }

  checkEnum(v, s, at, ctx);

  if (typeof v === 'string') checkString(v, s, at, ctx);
  else if (typeof v === 'number') checkNumber(v, s, at, ctx);
  else if (Array.isArray(v)) checkArray(v, s, at, ctx);
  else if (isPlainObject(v)) checkObject(v, s, at, ctx, root);

  if (s.anyOf) checkAlternatives(v, s.anyOf, 'any', at, ctx);
  if (s.oneOf) checkAlternatives(v, s.oneOf, 'one', at, ctx);
  if (s.not) {
    const sub: Ctx = { ...ctx, issues: [] };
    walk(v, s.not, at, sub, false);
    if (sub.issues.length === 0) add(ctx, at, `must not match ${summarize(s.not, ctx)}`);
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function checkEnum(v: unknown, s: Schema, at: PathSegment[], ctx: Ctx): void {
  if (!Array.isArray(s.enum)) return;
  if (s.enum.some((e) => deepEqual(e, v))) return;
  const allowed = s.enum.map((e) => preview(e, 40)).join(', ');
  add(ctx, at, `must be one of ${allowed}; got ${preview(v)}`);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

function checkString(v: string, s: Schema, at: PathSegment[], ctx: Ctx): void {
  if (s.minLength !== undefined || s.maxLength !== undefined) {
    const n = [...v].length;
    if (s.minLength !== undefined && n < s.minLength) {
      add(ctx, at, `must be at least ${s.minLength} characters long, got ${n}`);
    }
    if (s.maxLength !== undefined && n > s.maxLength) {
      add(ctx, at, `must be at most ${s.maxLength} characters long, got ${n}`);
    }
  }
  if (typeof s.pattern === 'string') {
    const re = compilePattern(s.pattern);
    if (re === undefined) add(ctx, at, `schema error: cannot compile pattern ${preview(s.pattern, 80)}`);
    else if (!re.test(v)) add(ctx, at, `${preview(v)} does not match pattern ${s.pattern}`);
  }
  switch (s.format) {
    case 'date-time':
      if (!RFC3339.test(v)) add(ctx, at, `${preview(v)} is not an RFC 3339 date-time`);
      break;
    case 'byte':
      if (!BASE64.test(v)) add(ctx, at, `must be base64-encoded data`);
      break;
    case 'quantity':
      if (!QUANTITY.test(v)) add(ctx, at, `${preview(v)} is not a quantity (e.g. 100m, 1.5, 128Mi, 2Gi)`);
      break;
    default:
      break;
  }
}

function checkNumber(v: number, s: Schema, at: PathSegment[], ctx: Ctx): void {
  if (s.format === 'int32' && (v < INT32_MIN || v > INT32_MAX)) {
    add(ctx, at, `${v} is out of range for int32`);
  } else if (s.format === 'int64' && (v < INT64_MIN || v >= INT64_MAX)) {
    add(ctx, at, `${v} is out of range for int64`);
  }
  if (typeof s.minimum === 'number') {
    if (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum) {
      add(ctx, at, `must be ${s.exclusiveMinimum === true ? 'greater than' : 'at least'} ${s.minimum}, got ${v}`);
    }
  }
  if (typeof s.maximum === 'number') {
    if (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum) {
      add(ctx, at, `must be ${s.exclusiveMaximum === true ? 'less than' : 'at most'} ${s.maximum}, got ${v}`);
    }
  }
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0) {
    const q = v / s.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) add(ctx, at, `must be a multiple of ${s.multipleOf}`);
  }
}

function checkArray(v: unknown[], s: Schema, at: PathSegment[], ctx: Ctx): void {
  if (s.minItems !== undefined && v.length < s.minItems) {
    add(ctx, at, `must have at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}, got ${v.length}`);
  }
  if (s.maxItems !== undefined && v.length > s.maxItems) {
    add(ctx, at, `must have at most ${s.maxItems} item${s.maxItems === 1 ? '' : 's'}, got ${v.length}`);
  }
  if (s.items) {
    for (let i = 0; i < v.length; i++) walk(v[i], s.items, [...at, i], ctx, false);
  }
  const listType = s['x-kubernetes-list-type'];
  if (s.uniqueItems === true || listType === 'set') {
    const seen = new Map<string, number>();
    v.forEach((item, i) => {
      const k = stableKey(item);
      const first = seen.get(k);
      if (first !== undefined) add(ctx, [...at, i], `duplicate entry ${preview(item)} (same as [${first}])`);
      else seen.set(k, i);
    });
  } else if (listType === 'map' && Array.isArray(s['x-kubernetes-list-map-keys']) && s.items) {
    const keys = s['x-kubernetes-list-map-keys'];
    let itemSchema: Schema | undefined;
    try {
      itemSchema = resolveSchema(s.items, ctx.defs);
    } catch {
      itemSchema = undefined;
    }
    const seen = new Map<string, number>();
    v.forEach((item, i) => {
      if (!isPlainObject(item)) return;
      const tuple = keys.map((k) => {
        if (item[k] !== undefined) return item[k];
        const prop = itemSchema?.properties?.[k];
        if (!prop) return undefined;
        try {
          return resolveSchema(prop, ctx.defs).default;
        } catch {
          return undefined;
        }
      });
      const key = stableKey(tuple);
      const first = seen.get(key);
      if (first !== undefined) {
        const shown = keys.map((k, j) => `${k}=${preview(tuple[j], 40)}`).join(', ');
        add(ctx, [...at, i], `duplicate entry for key (${shown}) (same as [${first}])`);
      } else seen.set(key, i);
    });
  }
}

const EMBEDDED_IMPLICIT = ['apiVersion', 'kind', 'metadata'] as const;

function checkObject(v: Record<string, unknown>, s: Schema, at: PathSegment[], ctx: Ctx, root: boolean): void {
  const props = s.properties;
  const embedded = s['x-kubernetes-embedded-resource'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  const implicit = root || embedded;
  const closed = s.additionalProperties === false || (props !== undefined && s.additionalProperties === undefined);

  for (const [k, child] of Object.entries(v)) {
    if (child === undefined) continue;
    const here = [...at, k];
    const declared = props !== undefined && Object.prototype.hasOwnProperty.call(props, k) ? props[k] : undefined;
    if (declared) {
      walk(child, declared, here, ctx, false);
    } else if (implicit && (EMBEDDED_IMPLICIT as readonly string[]).includes(k)) {
      if (k === 'metadata') {
        if (ctx.defs[OBJECT_META_REF]) walk(child, { $ref: REF_PREFIX + OBJECT_META_REF }, here, ctx, false);
        else if (!isPlainObject(child)) add(ctx, here, `must be a mapping, got ${describe(child)}`);
      } else if (typeof child !== 'string') {
        add(ctx, here, `must be a string, got ${describe(child)}`);
      }
    } else if (typeof s.additionalProperties === 'object') {
      walk(child, s.additionalProperties, here, ctx, false);
    } else if (s.additionalProperties === true || preserve) {
      // free-form
    } else if (closed) {
      add(ctx, here, unknownField(k, props ? Object.keys(props) : []));
    }
  }

  if (!ctx.partial) {
    for (const r of s.required ?? []) {
      if (v[r] === undefined) add(ctx, [...at, r], 'required field is missing');
    }
    if (embedded) {
      for (const k of ['apiVersion', 'kind']) {
        if (typeof v[k] !== 'string' || v[k] === '') {
          if (!s.required?.includes(k)) add(ctx, [...at, k], 'required field is missing (embedded object)');
        }
      }
    }
  }
  const n = Object.keys(v).length;
  if (s.minProperties !== undefined && n < s.minProperties) {
    add(ctx, at, `must have at least ${s.minProperties} field${s.minProperties === 1 ? '' : 's'}`);
  }
  if (s.maxProperties !== undefined && n > s.maxProperties) {
    add(ctx, at, `must have at most ${s.maxProperties} field${s.maxProperties === 1 ? '' : 's'}`);
  }
}

function checkAlternatives(v: unknown, alts: Schema[], mode: 'any' | 'one', at: PathSegment[], ctx: Ctx): void {
  let passing = 0;
  for (const alt of alts) {
    const sub: Ctx = { ...ctx, issues: [] };
    walk(v, alt, at, sub, false);
    if (sub.issues.length === 0) passing++;
  }
  if (passing === 0) {
    const forms = alts.map((a) => summarize(a, ctx)).join(' | ');
    add(ctx, at, `must match ${mode === 'any' ? 'at least one' : 'exactly one'} of: ${forms}; got ${describe(v)}`);
  } else if (mode === 'one' && passing > 1) {
    add(ctx, at, `matches ${passing} of the oneOf alternatives, must match exactly one`);
  }
}

function summarize(s: Schema, ctx: Ctx): string {
  let r: Schema;
  try {
    r = resolveSchema(s, ctx.defs);
  } catch {
    return 'schema';
  }
  if (r.type === 'object' && r.required?.length) return `object with ${r.required.join(', ')}`;
  if (r.type) return r.type;
  if (r.required?.length) return `with ${r.required.join(', ')}`;
  if (r.enum) return r.enum.map((e) => preview(e, 20)).join('/');
  return 'schema';
}

// ------------------------------------------------------------------ helpers

function unknownField(k: string, known: string[]): string {
  const close = closestNames(k, known, 3);
  if (close.length > 0) return `unknown field ${JSON.stringify(k)} (did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}?)`;
  if (known.length === 0) return `unknown field ${JSON.stringify(k)} (no fields are allowed here)`;
  const list = known.slice().sort();
  const shown = list.length > 12 ? `${list.slice(0, 12).join(', ')}, … (${list.length} in all)` : list.join(', ');
  return `unknown field ${JSON.stringify(k)} (known: ${shown})`;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

function stableKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  if (isPlainObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableKey(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}
