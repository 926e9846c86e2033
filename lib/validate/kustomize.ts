// kustomization.yaml files are build instructions, not API objects: they
// get a small closed schema of their own and a check that everything they
// point at exists. The file system is seen through a FsView so this stays
// pure.

import { dirname, join, basename } from 'node:path';
import { formatPath } from './path.js';
import { validateValue } from './schema.js';
import type { Issue, Schema } from './types.js';

export type PathKind = 'file' | 'dir' | undefined;

/** What the validator may ask of the file system. */
export interface FsView {
  /** 'file', 'dir', or undefined when nothing is there. */
  kind(path: string): PathKind;
}

export const KUSTOMIZE_API_VERSION = 'kustomize.config.k8s.io/v1beta1';
export const KUSTOMIZE_COMPONENT_API_VERSION = 'kustomize.config.k8s.io/v1alpha1';
export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

export const KUSTOMIZATION_FIELDS = [
  'apiVersion',
  'kind',
  'resources',
  'components',
  'patches',
  'namespace',
  'labels',
  'commonAnnotations',
  'nameSuffix',
  'namePrefix',
  'images',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
] as const;

/** Fields kustomize still reads but this repo does not use, and what to use instead. */
const REPLACED: Record<string, string> = {
  bases: 'resources',
  commonLabels: 'labels (with includeSelectors if needed)',
  patchesStrategicMerge: 'patches',
  patchesJson6902: 'patches',
  vars: 'nothing (render the value instead)',
  replacements: 'nothing (render the value instead)',
};

const str: Schema = { type: 'string' };
const strList: Schema = { type: 'array', items: str };
const strMap: Schema = { type: 'object', additionalProperties: str };

const target: Schema = {
  type: 'object',
  properties: {
    group: str,
    version: str,
    kind: str,
    name: str,
    namespace: str,
    labelSelector: str,
    annotationSelector: str,
  },
};

const generatorOptionsSchema: Schema = {
  type: 'object',
  properties: {
    labels: strMap,
    annotations: strMap,
    disableNameSuffixHash: { type: 'boolean' },
    immutable: { type: 'boolean' },
  },
};

function generator(extra: Record<string, Schema>): Schema {
  return {
    type: 'array',
    items: {
      type: 'object',
      required: ['name'],
      properties: {
        name: str,
        namespace: str,
        behavior: { type: 'string', enum: ['create', 'replace', 'merge'] },
        files: strList,
        literals: strList,
        envs: strList,
        options: generatorOptionsSchema,
        ...extra,
      },
    },
  };
}

export const KUSTOMIZATION_SCHEMA: Schema = {
  type: 'object',
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { type: 'string', enum: [KUSTOMIZE_API_VERSION, KUSTOMIZE_COMPONENT_API_VERSION] },
    kind: { type: 'string', enum: ['Kustomization', 'Component'] },
    resources: strList,
    components: strList,
    patches: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          path: str,
          patch: str,
          target,
          options: {
            type: 'object',
            properties: { allowNameChange: { type: 'boolean' }, allowKindChange: { type: 'boolean' } },
          },
        },
      },
    },
    namespace: str,
    labels: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pairs'],
        properties: {
          pairs: strMap,
          includeSelectors: { type: 'boolean' },
          includeTemplates: { type: 'boolean' },
          fields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      },
    },
    commonAnnotations: strMap,
    nameSuffix: str,
    namePrefix: str,
    images: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: str, newName: str, newTag: str, digest: str },
      },
    },
    configMapGenerator: generator({}),
    secretGenerator: generator({ type: str }),
    generatorOptions: generatorOptionsSchema,
  },
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A kustomize Kustomization (or Component), as opposed to Flux's Kustomization. */
export function isKustomization(v: unknown): boolean {
  if (!isObj(v)) return false;
  return (
    (v.apiVersion === KUSTOMIZE_API_VERSION && v.kind === 'Kustomization') ||
    (v.apiVersion === KUSTOMIZE_COMPONENT_API_VERSION && v.kind === 'Component')
  );
}

function isRemote(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) || ref.startsWith('git@') || /^github\.com\//.test(ref) || ref.includes('?ref=');
}

/** Generator inputs: `key=path` or `path`. */
function generatorPath(entry: string): string {
  const eq = entry.indexOf('=');
  return eq >= 0 ? entry.slice(eq + 1) : entry;
}

export interface KustomizationRefs {
  /** Files named by patches[].path, resolved against the kustomization's folder. */
  patches: string[];
  /** Files read by config map / secret generators (data, not objects). */
  dataFiles: string[];
}

/** Files a kustomization points at that must not be read as whole objects. */
export function kustomizationRefs(v: unknown, file: string): KustomizationRefs {
  const out: KustomizationRefs = { patches: [], dataFiles: [] };
  if (!isObj(v)) return out;
  const dir = dirname(file);
  if (Array.isArray(v.patches)) {
    for (const p of v.patches) if (isObj(p) && typeof p.path === 'string') out.patches.push(join(dir, p.path));
  }
  for (const g of ['configMapGenerator', 'secretGenerator']) {
    const list = v[g];
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (!isObj(item)) continue;
      for (const field of ['files', 'envs']) {
        const entries = item[field];
        if (!Array.isArray(entries)) continue;
        for (const e of entries) if (typeof e === 'string') out.dataFiles.push(join(dir, generatorPath(e)));
      }
    }
  }
  return out;
}

/** Checks a kustomization document found in `file`. */
export function checkKustomization(v: unknown, file: string, fs: FsView): Issue[] {
  if (!isObj(v)) return [{ path: '', message: 'a kustomization must be a mapping' }];
  const issues: Issue[] = [];

  const name = basename(file);
  if (!(KUSTOMIZATION_FILE_NAMES as readonly string[]).includes(name)) {
    issues.push({ path: 'kind', message: `kustomize only reads ${KUSTOMIZATION_FILE_NAMES.join(', ')}; rename ${name}` });
  }
  if (v.kind === 'Component' && v.apiVersion !== KUSTOMIZE_COMPONENT_API_VERSION) {
    issues.push({ path: 'apiVersion', message: `a Component must use ${KUSTOMIZE_COMPONENT_API_VERSION}` });
  }

  for (const issue of validateValue(v, KUSTOMIZATION_SCHEMA, {})) {
    const field = issue.path.split(/[.[]/)[0] ?? '';
    const instead = REPLACED[field];
    if (instead !== undefined && issue.path === field && issue.message.startsWith('unknown field')) {
      issues.push({ path: issue.path, message: `unknown field ${JSON.stringify(field)}: use ${instead}` });
    } else issues.push(issue);
  }

  const dir = dirname(file);
  const checkRef = (field: 'resources' | 'components', i: number, ref: unknown): void => {
    if (typeof ref !== 'string') return;
    const path = formatPath([field, i]);
    if (isRemote(ref)) {
      issues.push({ path, message: `${JSON.stringify(ref)} is remote; vendor it into the repository` });
      return;
    }
    const target = join(dir, ref);
    const kind = fs.kind(target);
    if (kind === undefined) {
      issues.push({ path, message: `${JSON.stringify(ref)} does not exist (looked for ${target})` });
    } else if (kind === 'dir') {
      if (!KUSTOMIZATION_FILE_NAMES.some((n) => fs.kind(join(target, n)) === 'file')) {
        issues.push({ path, message: `${JSON.stringify(ref)} is a folder without a kustomization.yaml` });
      }
    } else if (field === 'components') {
      issues.push({ path, message: `${JSON.stringify(ref)} is a file; a component is a folder with a kustomization.yaml` });
    }
  };
  for (const field of ['resources', 'components'] as const) {
    const list = v[field];
    if (Array.isArray(list)) list.forEach((ref, i) => checkRef(field, i, ref));
  }

  if (Array.isArray(v.patches)) {
    v.patches.forEach((p, i) => {
      if (!isObj(p)) return;
      const hasPath = typeof p.path === 'string';
      const hasPatch = typeof p.patch === 'string';
      if (hasPath === hasPatch) {
        issues.push({ path: formatPath(['patches', i]), message: 'a patch needs exactly one of path or patch' });
      }
      if (hasPath) {
        const target = join(dir, p.path as string);
        if (fs.kind(target) !== 'file') {
          issues.push({ path: formatPath(['patches', i, 'path']), message: `${JSON.stringify(p.path)} does not exist (looked for ${target})` });
        }
      }
    });
  }

  for (const g of ['configMapGenerator', 'secretGenerator'] as const) {
    const list = v[g];
    if (!Array.isArray(list)) continue;
    list.forEach((item, i) => {
      if (!isObj(item)) return;
      for (const field of ['files', 'envs'] as const) {
        const entries = item[field];
        if (!Array.isArray(entries)) continue;
        entries.forEach((e, j) => {
          if (typeof e !== 'string') return;
          const target = join(dir, generatorPath(e));
          if (fs.kind(target) !== 'file') {
            issues.push({ path: formatPath([g, i, field, j]), message: `${JSON.stringify(e)} does not exist (looked for ${target})` });
          }
        });
      }
    });
  }
  return issues;
}
