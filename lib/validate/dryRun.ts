// Submits built objects to a real kube-apiserver as Flux applies them
// (server-side apply, field manager kustomize-controller), as a dry run, so
// that what only the server checks is checked: CEL rules of the CRDs,
// defaulting, the built-in validation no published schema carries (a
// Deployment's selector against its template, a Service's ports and
// families), namespaces that exist. Everything goes through the pinned
// kubectl; each refusal is mapped back to the file and object it came from.
//
// As Flux's staged apply does, CustomResourceDefinitions and Namespaces
// from the tree are applied for real first (a dry run of them would leave
// the objects that need them with nothing to land in); Flux's own
// namespace, which Flux's install makes, is created.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../exec/run.js';
import { apiErrorField, FLUX_NAMESPACE, kubectlMessage, objectLabel } from './fluxBuild.js';
import type { BuiltObject } from './kustomizeBuild.js';
import { formatPath } from './path.js';
import { locate, parseYamlFile, type ParsedFile } from './tree.js';
import type { FileIssue } from './types.js';

export const FIELD_MANAGER = 'kustomize-controller';

export interface Kubectl {
  readonly kubectl: string;
  readonly kubeconfig: string;
  /** kubectl's discovery cache (never the user's ~/.kube). */
  readonly cacheDir: string;
  readonly runner: Runner;
}

function kubectlArgs(k: Kubectl, args: readonly string[]): string[] {
  return ['--kubeconfig', k.kubeconfig, '--cache-dir', k.cacheDir, ...args];
}

/** Applies CRD files for real and waits until every CRD is Established; throws with kubectl's words on failure. */
export async function installCrds(k: Kubectl, files: readonly string[], timeoutMs = 60_000): Promise<number> {
  const args = ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-o', 'name'];
  for (const f of files) args.push('-f', f);
  const r = await k.runner.run(k.kubectl, kubectlArgs(k, args), { timeoutMs: 120_000 });
  const names = r.stdout.split('\n').filter((l) => l.trim() !== '');
  await waitEstablished(k, names, timeoutMs);
  return names.length;
}

/**
 * Waits until every CRD named (`customresourcedefinition…/name`) is
 * Established: one `kubectl get crd` each round (`kubectl wait`, or `get`
 * with names, asks one at a time: 3 s for the 25 pinned CRDs where this
 * takes 0.2 s).
 */
export async function waitEstablished(k: Kubectl, names: readonly string[], timeoutMs: number): Promise<void> {
  const want = names.map((n) => n.slice(n.indexOf('/') + 1));
  if (want.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  const jsonpath = '{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}';
  for (;;) {
    const r = await k.runner.run(k.kubectl, kubectlArgs(k, ['get', 'customresourcedefinitions', '-o', `jsonpath=${jsonpath}`]), { allowFail: true });
    const established = new Set(r.stdout.split('\n').filter((l) => l.endsWith('=True')).map((l) => l.slice(0, -'=True'.length)));
    const waiting = want.filter((n) => !established.has(n));
    if (r.code === 0 && waiting.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`CustomResourceDefinitions not Established after ${timeoutMs / 1000} s: ${r.code === 0 ? waiting.join(', ') : kubectlMessage(r.stderr)}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function metaOf(o: Record<string, unknown>): Record<string, unknown> {
  return isObj(o.metadata) ? o.metadata : {};
}

export interface SubmitOptions {
  /** A scratch folder for the files handed to kubectl. */
  readonly scratch: string;
  readonly display: (abs: string) => string;
  /** kubectl runs at once; 8 by default. */
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

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Submits every built object; one issue per object the server (or kubectl) refused. */
export async function submitObjects(k: Kubectl, built: readonly BuiltObject[], opts: SubmitOptions): Promise<SubmitResult> {
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
  let fileNo = 0;
  const apply = async (batch: readonly BuiltObject[], dryRun: boolean): Promise<{ code: number; stderr: string }> => {
    const file = join(opts.scratch, `submit-${fileNo++}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: batch.map((o) => o.object) }));
    const args = ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-o', 'name', '-f', file];
    if (dryRun) args.push('--dry-run=server');
    return k.runner.run(k.kubectl, kubectlArgs(k, args), { allowFail: true, timeoutMs: 120_000 });
  };
  const refused = (o: BuiltObject, stderr: string, dryRun: boolean): void => {
    const text = kubectlMessage(stderr);
    const owner = o.target.owners[0]!;
    const via = owner.label === 'kustomization' ? '' : `, as built for ${owner.label}`;
    const how = dryRun ? `server-side dry run${via}` : `server-side apply${via}`;
    issues.push(placeIssue(o, apiErrorField(text), `${objectLabel(o.object)}: the API server refused it (${how}): ${text}`, sources, opts.display));
  };
  // One kubectl for a group; when it fails, one per object, so each refusal has its object.
  const submit = async (group: readonly BuiltObject[], dryRun: boolean): Promise<void> => {
    if (group.length === 0) return;
    const all = await apply(group, dryRun);
    if (all.code === 0) return;
    if (group.length === 1) return refused(group[0]!, all.stderr, dryRun);
    await pool(group, opts.concurrency ?? 8, async (o) => {
      const one = await apply([o], dryRun);
      if (one.code !== 0) refused(o, one.stderr, dryRun);
    });
  };

  // Stage 1, for real: the tree's CRDs and Namespaces, then Flux's namespace.
  const first = objects.filter((o) => o.object.kind === 'CustomResourceDefinition' || o.object.kind === 'Namespace');
  const rest = objects.filter((o) => !first.includes(o));
  await submit(first, false);
  const crds = first.filter((o) => o.object.kind === 'CustomResourceDefinition').map((o) => `customresourcedefinition/${String(metaOf(o.object).name)}`);
  try {
    await waitEstablished(k, crds, 60_000);
  } catch (e) {
    issues.push({ file: first[0]!.target.owners[0]!.file, line: 1, col: 1, path: '', message: (e as Error).message });
  }
  if (!first.some((o) => o.object.kind === 'Namespace' && metaOf(o.object).name === FLUX_NAMESPACE)) {
    await k.runner.run(k.kubectl, kubectlArgs(k, ['create', 'namespace', FLUX_NAMESPACE]), { allowFail: true });
  }

  // Stage 2, dry run: the rest, in one kubectl (one object at a time only when something is refused).
  await submit(rest, true);

  issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
  return { issues, submitted: objects.length, notSubmitted };
}
