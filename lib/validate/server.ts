// The server half of `npm run validate`: build the tree as Flux would
// (./kustomizeBuild.ts) while an ephemeral etcd and kube-apiserver start
// (lib/toolchain/apiServer.ts), install the pinned Calico and Flux CRDs (the
// files the schema check reads), and submit every built object as a
// server-side dry run (./dryRun.ts), through the product's Kubernetes client
// (lib/kube). The server and the scratch folder are gone when it returns,
// whatever happened.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRunner, type Runner } from '../exec/run.js';
import { tokenKubeClient } from '../kube/client.js';
import { startApiServer, type ApiServer } from '../toolchain/apiServer.js';
import { readManifest, schemaDir } from '../toolchain/cacheDir.js';
import { KUBERNETES_VERSION, SCHEMA_PINS, toolPaths } from '../toolchain/pins.js';
import { installCrds, submitObjects } from './dryRun.js';
import { planBuilds, runBuilds } from './kustomizeBuild.js';
import { parseYamlFile, isYamlFile, type SourceFile } from './tree.js';
import type { FileIssue } from './types.js';

export interface ServerCheckOptions {
  /** The source's root: what Flux paths are relative to (the repository). */
  readonly root: string;
  readonly cacheDir: string;
  /** How a file is named in issues (relative to the working directory). */
  readonly display: (abs: string) => string;
  readonly runner?: Runner;
  /** Called with the cleanup as soon as there is something to clean (for a signal handler). */
  readonly onCleanup?: (cleanup: () => Promise<void>) => void;
}

export interface ServerCheckResult {
  readonly issues: FileIssue[];
  /** kustomize builds run. */
  readonly builds: number;
  /** Distinct objects submitted. */
  readonly submitted: number;
  readonly notSubmitted: number;
  readonly crds: number;
  readonly label: string;
  /** Milliseconds: the builds, the server's start, the CRDs, the submission, all. */
  readonly ms: { build: number; start: number; crds: number; submit: number; total: number };
}

/** The CRD files of the pinned schemas (Calico's and Flux's), as the setup left them. */
export function crdFiles(cacheDir: string): string[] {
  const out: string[] = [];
  for (const pin of SCHEMA_PINS) {
    if (pin.format !== 'crd-yaml') continue;
    const m = readManifest(cacheDir, pin);
    for (const f of m.files) out.push(join(schemaDir(cacheDir, pin), f.name));
  }
  return out;
}

export async function checkWithApiServer(files: readonly SourceFile[], opts: ServerCheckOptions): Promise<ServerCheckResult> {
  const t0 = performance.now();
  const runner = opts.runner ?? createRunner();
  const root = resolve(opts.root);
  const scratch = mkdtempSync(join(tmpdir(), 'native6-validate-'));
  let server: ApiServer | undefined;
  let starting: Promise<ApiServer> | undefined;
  let cleaned: Promise<void> | undefined;
  const abort = new AbortController();
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      abort.abort();
      const s = server ?? (await starting?.catch(() => undefined));
      await s?.stop();
      rmSync(scratch, { recursive: true, force: true });
    })());
  opts.onCleanup?.(cleanup);
  try {
    const crds = crdFiles(opts.cacheDir);
    const parsed = files.filter((f) => isYamlFile(f.path)).map((f) => parseYamlFile(f.path, f.content));
    const plan = planBuilds(parsed, root, opts.display);
    mkdirSync(join(scratch, 'apiserver'));
    mkdirSync(join(scratch, 'builds'));
    // The server starts while the builds run; a tree with nothing to build needs none.
    if (plan.targets.length > 0) {
      starting = startApiServer({ cacheDir: opts.cacheDir, dir: join(scratch, 'apiserver'), signal: abort.signal });
      starting.catch(() => undefined);
    }
    const tb = performance.now();
    const built = await runBuilds(plan.targets, { kubectl: toolPaths(opts.cacheDir).kubectl, scratch: join(scratch, 'builds'), root, runner, display: opts.display });
    const buildMs = performance.now() - tb;

    const result = (sub: { issues: FileIssue[]; submitted: number; notSubmitted: number }, crds: number, ms: Omit<ServerCheckResult['ms'], 'total'>): ServerCheckResult => ({
      issues: [...plan.issues, ...built.issues, ...sub.issues].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col)),
      builds: plan.targets.length,
      submitted: sub.submitted,
      notSubmitted: sub.notSubmitted,
      crds,
      label: `kube-apiserver ${KUBERNETES_VERSION}`,
      ms: { ...ms, total: performance.now() - t0 },
    });
    if (starting === undefined || built.objects.length === 0) return result({ issues: [], submitted: 0, notSubmitted: 0 }, 0, { build: buildMs, start: 0, crds: 0, submit: 0 });

    server = await starting;
    const tc = performance.now();
    // One client for the CRDs and the dry run: its discovery asks once per group and version.
    const client = tokenKubeClient(server.server, server.ca, server.token, { timeoutMs: 60_000 });
    const crdCount = await installCrds(client, crds);
    const crdMs = performance.now() - tc;
    const ts = performance.now();
    const sub = await submitObjects(client, built.objects, { display: opts.display });
    return result(sub, crdCount, { build: buildMs, start: server.startMs, crds: crdMs, submit: performance.now() - ts });
  } finally {
    await cleanup();
  }
}
