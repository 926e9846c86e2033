// Submits built objects to a real kube-apiserver as Flux applies them
// (server-side apply, field manager kustomize-controller), as a dry run, so
// that what only the server checks is checked: CEL rules of the CRDs,
// defaulting, the built-in validation no published schema carries (a
// Deployment's selector against its template, a Service's ports and
// families), namespaces that exist. Every call goes through the product's
// Kubernetes client (lib/kube): discovery finds each object's path, one
// request per object, a few at a time; each refusal is mapped back to the
// file and object it came from.
//
// As Flux's staged apply does, CustomResourceDefinitions and Namespaces
// from the tree are applied for real first (a dry run of them would leave
// the objects that need them with nothing to land in); Flux's own
// namespace, which Flux's install makes, is created.

import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { KubeError, type KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/objects.js';
import { waitUntil } from '../phases/wait.js';
import { apiErrorField, FLUX_NAMESPACE, objectLabel } from './fluxBuild.js';
import type { BuiltObject } from './kustomizeBuild.js';
import { formatPath } from './path.js';
import { locate, parseYamlFile, type ParsedFile } from './tree.js';
import type { FileIssue } from './types.js';

export const FIELD_MANAGER = 'kustomize-controller';

const CRDS_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function metaOf(o: Record<string, unknown>): Record<string, unknown> {
  return isObj(o.metadata) ? o.metadata : {};
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * The API server's words for a failed request: the Status message it
 * answered (`Deployment.apps "web" is invalid: …`), without the method and
 * path the client puts before it; any other error's own message.
 */
export function apiMessage(e: unknown): string {
  if (e instanceof KubeError) {
    try {
      const status = JSON.parse(e.body) as { message?: unknown };
      if (typeof status.message === 'string' && status.message !== '') return status.message;
    } catch {
      // not a Status
    }
    return `${e.status} ${e.body}`.trim();
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Why discovery found no path for an object: its group and version are not
 * served, or they are and its kind is not among them (undefined: discovery
 * itself failed, and the error is the client's).
 */
async function notServed(client: KubeClient, apiVersion: string, kind: string): Promise<string | undefined> {
  const list = await client.find<{ resources?: Array<{ kind?: string }> }>(apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
  if (list === undefined) return `no API group version ${apiVersion}`;
  if (!(list.resources ?? []).some((r) => r.kind === kind)) return `${apiVersion} has no kind ${kind}`;
  return undefined;
}

/** Applies the CRD files for real (server-side apply, FIELD_MANAGER) and waits until every CRD is Established; throws with the API server's words. */
export async function installCrds(client: KubeClient, files: readonly string[], timeoutMs = 60_000): Promise<number> {
  const crds: KubeObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const v: unknown = doc.toJS();
      if (isObj(v)) crds.push(v as KubeObject);
    }
  }
  await pool(crds, 8, async (crd) => {
    try {
      await client.apply(await client.pathOf(crd), crd, FIELD_MANAGER);
    } catch (e) {
      throw new Error(`${objectLabel(crd)}: ${apiMessage(e)}`, { cause: e });
    }
  });
  await waitEstablished(
    client,
    crds.filter((c) => c.kind === 'CustomResourceDefinition').map((c) => c.metadata.name),
    timeoutMs,
  );
  return crds.length;
}

/** Waits until every CRD named is Established: one list of the CRDs each look. */
export async function waitEstablished(client: KubeClient, names: readonly string[], timeoutMs: number): Promise<void> {
  if (names.length === 0) return;
  type Crd = { metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } };
  await waitUntil(
    'CustomResourceDefinitions Established',
    async (look) => {
      const list = await client.get<{ items?: Crd[] }>(CRDS_PATH);
      const established = new Set((list.items ?? []).filter((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')).map((c) => c.metadata.name));
      const waiting = names.filter((n) => !established.has(n));
      look.seen(`not Established: ${waiting.join(', ')}`);
      return waiting.length === 0;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

export interface SubmitOptions {
  readonly display: (abs: string) => string;
  /** Requests at once; 8 by default. */
  readonly concurrency?: number;
}

export interface SubmitResult {
  readonly issues: FileIssue[];
  /** Objects the server was asked about (each distinct object once). */
  readonly submitted: number;
  /** Objects not submitted: built for Flux Kustomizations that substitute variables after the build (spec.postBuild). */
  readonly notSubmitted: number;
}

/** Where in its source a built object's problem is: the file, the document, the field when the source has it. */
export function placeIssue(o: BuiltObject, field: ReturnType<typeof apiErrorField>, message: string, sources: (abs: string) => ParsedFile | undefined, display: (abs: string) => string): FileIssue {
  const owner = o.target.owners[0]!;
  const file = o.source === undefined ? undefined : sources(o.source);
  if (file === undefined) return { file: o.source === undefined ? owner.file : display(o.source), line: owner.line, col: owner.col, path: '', message };
  const kind = o.object.kind;
  const name = metaOf(o.object).name;
  const docs = file.docs.filter((d) => isObj(d.value) && d.value.kind === kind);
  const doc = docs.find((d) => metaOf(d.value as Record<string, unknown>).name === name) ?? (docs.length === 1 ? docs[0] : undefined) ?? (file.docs.length === 1 ? file.docs[0] : undefined);
  if (doc === undefined) return { file: file.path, line: 1, col: 1, path: '', message };
  // The field when the source document has at least its first step; the document otherwise.
  const has = field !== undefined && field.length > 0 && isObj(doc.value) && typeof field[0] === 'string' && field[0] in doc.value;
  const { line, col } = locate(file, doc.doc, has ? field : []);
  return { file: file.path, line, col, path: has ? formatPath(field) : '', message };
}

/** Submits every built object; one issue per object the server refused, or whose kind it does not serve. */
export async function submitObjects(client: KubeClient, built: readonly BuiltObject[], opts: SubmitOptions): Promise<SubmitResult> {
  const parsed = new Map<string, ParsedFile | undefined>();
  const sources = (abs: string): ParsedFile | undefined => {
    if (!parsed.has(abs)) {
      let f: ParsedFile | undefined;
      try {
        f = parseYamlFile(opts.display(abs), readFileSync(abs, 'utf8'));
      } catch {
        f = undefined;
      }
      parsed.set(abs, f);
    }
    return parsed.get(abs);
  };
  // Each distinct object once (two clusters share the baseline policies); objects Flux would substitute into are left out.
  const seen = new Set<string>();
  const objects: BuiltObject[] = [];
  let notSubmitted = 0;
  for (const o of built) {
    if (o.target.owners.every((w) => w.postBuild)) {
      notSubmitted++;
      continue;
    }
    const key = JSON.stringify(o.object);
    if (seen.has(key)) continue;
    seen.add(key);
    objects.push(o);
  }

  const issues: FileIssue[] = [];
  const concurrency = opts.concurrency ?? 8;
  // One request per object: discovery finds its path (a kind the server does not serve is the object's issue), then server-side apply.
  const submit = (group: readonly BuiltObject[], dryRun: boolean): Promise<void> =>
    pool(group, concurrency, async (o) => {
      const owner = o.target.owners[0]!;
      const via = owner.label === 'kustomization' ? '' : `, as built for ${owner.label}`;
      const how = dryRun ? `server-side dry run${via}` : `server-side apply${via}`;
      const label = objectLabel(o.object);
      const ref = o.object as unknown as KubeObject;
      let path: string;
      try {
        path = await client.pathOf(ref);
      } catch (e) {
        const why = await notServed(client, String(ref.apiVersion), String(ref.kind)).catch(() => undefined);
        const message = why === undefined ? `it could not be submitted (${how}): ${apiMessage(e).split('\n')[0]}` : `the API server does not serve its kind (${how}): ${why}`;
        issues.push(placeIssue(o, undefined, `${label}: ${message}`, sources, opts.display));
        return;
      }
      try {
        await client.apply(path, o.object, FIELD_MANAGER, { dryRun });
      } catch (e) {
        const text = apiMessage(e);
        const what = e instanceof KubeError ? 'the API server refused it' : 'it could not be submitted';
        issues.push(placeIssue(o, apiErrorField(text), `${label}: ${what} (${how}): ${text}`, sources, opts.display));
      }
    });

  // Stage 1, for real: the tree's CRDs and Namespaces, then Flux's namespace.
  const first = objects.filter((o) => o.object.kind === 'CustomResourceDefinition' || o.object.kind === 'Namespace');
  const rest = objects.filter((o) => !first.includes(o));
  await submit(first, false);
  const crds = first.filter((o) => o.object.kind === 'CustomResourceDefinition').map((o) => String(metaOf(o.object).name));
  try {
    await waitEstablished(client, crds, 60_000);
  } catch (e) {
    issues.push({ file: first[0]!.target.owners[0]!.file, line: 1, col: 1, path: '', message: (e as Error).message });
  }
  if (!first.some((o) => o.object.kind === 'Namespace' && metaOf(o.object).name === FLUX_NAMESPACE)) {
    try {
      await client.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: FLUX_NAMESPACE } });
    } catch (e) {
      // Already there (409) is what was wanted.
      if (!(e instanceof KubeError && e.status === 409)) throw new Error(`creating namespace ${FLUX_NAMESPACE}: ${apiMessage(e)}`, { cause: e });
    }
  }

  // Stage 2, dry run: the rest.
  await submit(rest, true);

  // Requests answer in any order: the order is the files', then the messages'.
  issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)));
  return { issues, submitted: objects.length, notSubmitted };
}
