// Shared types of the validator.

/**
 * The part of OpenAPI v3 / CRD structural schemas the validator reads.
 * Keys it does not know (description, default, x-kubernetes-validations, …)
 * may be present and are ignored.
 */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
  $ref?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  [other: string]: unknown;
}

export interface KindEntry {
  apiVersion: string;
  group: string;
  version: string;
  kind: string;
  schema: Schema;
  /** true/false when known (CRD scope, or the API paths of a built-in). */
  namespaced: boolean | undefined;
  /** Where the schema comes from, e.g. "Kubernetes v1.35.4". */
  source: string;
}

export interface Catalog {
  /** Keyed by `catalogKey(apiVersion, kind)`. */
  kinds: Map<string, KindEntry>;
  /** Named schemas `$ref`s point at (`#/components/schemas/<name>`). */
  defs: Record<string, Schema>;
  /** Human label of the sources, "Kubernetes v1.35.4, Calico v3.28.5, Flux v2.9.5". */
  label: string;
}

export function catalogKey(apiVersion: string, kind: string): string {
  return `${apiVersion} ${kind}`;
}

export interface Issue {
  /** Field path, `spec.ports[0].targetPort`; '' for the whole document. */
  path: string;
  message: string;
}

/** An issue placed in a file. */
export interface FileIssue extends Issue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

export const OBJECT_META_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
export const REF_PREFIX = '#/components/schemas/';
