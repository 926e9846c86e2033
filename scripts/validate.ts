// `npm run validate [-- [--offline] [--root DIR] PATH…]`
//
// Checks every Kubernetes object in the given files/folders (default:
// clusters apps policies, under the root) against the pinned upstream API
// schemas, checks kustomizations, and cross-checks our YAML parse against
// the parser kubectl and Flux use. Then, unless --offline, builds every
// Flux Kustomization's path (and every kustomization folder no Flux path
// reaches) with the pinned `kubectl kustomize` as kustomize-controller does,
// and submits every built object as a server-side dry run to an ephemeral
// kube-apiserver with the pinned Calico and Flux CRDs: CEL rules,
// defaulting and the server's own validation. Flux paths are relative to
// the root (--root, default the repository). Runs the setup first (a no-op
// when cached), so a fresh clone only needs `npm run validate`. Prints one
// issue per line to stderr and a summary with the time taken; exits 1 on
// any problem.

import { relative, resolve } from 'node:path';
import { checkWithApiServer, type ServerCheckResult } from '../lib/validate/server.js';
import {
  formatFileIssue,
  isYamlFile,
  loadCatalog,
  readTree,
  realFs,
  runYamlcheck,
  validateTree,
  type Catalog,
} from '../lib/validate/index.js';
import { SETUP_COMMAND } from '../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../lib/toolchain/repo.js';
import { ensureSetup } from '../lib/toolchain/setup.js';
import { isMain, parseCommandLine } from './common.js';

export const DEFAULT_PATHS = ['clusters', 'apps', 'policies'] as const;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const err = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const t0 = performance.now();
  const line = parseCommandLine('validate', 'npm run validate [-- [--offline] [--root DIR] PATH…]', argv, {
    offline: { type: 'boolean', default: false },
    root: { type: 'string' },
  });
  const explicit = line.positionals;
  const root = resolve(line.values.root ?? REPO_DIR);
  const display = (abs: string): string => relative(process.cwd(), abs);
  // Default trees are relative to the root; given paths to the cwd.
  const paths = explicit.length > 0 ? [...explicit] : DEFAULT_PATHS.map((p) => display(resolve(root, p)) || '.');

  try {
    await ensureSetup({ cacheDir: DEFAULT_CACHE_DIR, repoDir: REPO_DIR, quietCached: true, log: err });
  } catch (e) {
    err(`validate: setup failed: ${(e as Error).message}`);
    err(`validate: run \`${SETUP_COMMAND}\` and try again`);
    return 1;
  }

  const { files, missing } = readTree(paths);

  // The server half starts now (the API server takes seconds) and runs while the schema check does.
  const cleanups: Array<() => Promise<void>> = [];
  // A terminal's Ctrl-C reaches npm, tsx and this process (tsx relays it once more): the first stops the API server, the others wait for it.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    err(`validate: ${signal}: stopping the API server`);
    void Promise.allSettled(cleanups.map((c) => c())).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  let serverCheck: Promise<ServerCheckResult | Error> | undefined;
  if (!line.values.offline) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    serverCheck = checkWithApiServer(files, { root, cacheDir: DEFAULT_CACHE_DIR, display, onCleanup: (c) => cleanups.push(c) }).catch((e: unknown) => e as Error);
  }
  try {
    return await report();
  } finally {
    await Promise.allSettled(cleanups.map((c) => c()));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  async function report(): Promise<number> {
    let catalog: Catalog;
    try {
      catalog = loadCatalog(DEFAULT_CACHE_DIR);
    } catch (e) {
      err(`validate: ${(e as Error).message}`);
      return 1;
    }

    let problems = 0;
    for (const m of missing) {
      // The default trees may not exist yet; paths given by hand must.
      if (explicit.length > 0) {
        err(`${m}: no such file or directory`);
        problems++;
      }
    }

    const yamlFiles = files.filter((f) => isYamlFile(f.path)).map((f) => f.path);
    let goDocs;
    try {
      goDocs = await runYamlcheck(DEFAULT_CACHE_DIR, yamlFiles);
    } catch (e) {
      err(`validate: ${(e as Error).message}`);
      return 1;
    }

    const result = validateTree(files, catalog, { fs: realFs, goDocs });
    for (const issue of result.issues) err(formatFileIssue(issue));
    problems += result.issues.length;

    const summary = `validate: ${plural(result.objects, 'object')} in ${plural(result.files, 'file')} checked against ${catalog.label} schemas`;
    if (serverCheck === undefined) {
      process.stdout.write(`${summary}; no API server (--offline): ${plural(problems, 'problem')} (${seconds(performance.now() - t0)})\n`);
      return problems > 0 ? 1 : 0;
    }

    const server = await serverCheck;
    if (server instanceof Error) {
      err(`validate: the server-side check could not run: ${server.message}`);
      return 1;
    }
    for (const issue of server.issues) err(formatFileIssue(issue));
    problems += server.issues.length;
    const skipped = server.notSubmitted > 0 ? ` (${plural(server.notSubmitted, 'object')} of Kustomizations with postBuild substitution not submitted)` : '';
    const total = seconds(performance.now() - t0);
    if (server.crds === 0) {
      // Nothing was built: no API server was started.
      process.stdout.write(`${summary}; ${plural(server.builds, 'kustomize build')}, nothing to submit: ${plural(problems, 'problem')} (${total})\n`);
      return problems > 0 ? 1 : 0;
    }
    process.stdout.write(
      `${summary}; ${plural(server.builds, 'kustomize build')}, ${plural(server.submitted, 'object')} submitted to ${server.label} with ${plural(server.crds, 'CRD')} (server-side dry run)${skipped}: ${plural(problems, 'problem')}\n` +
        `validate: ${total} in all: builds ${seconds(server.ms.build)}, API server ready ${seconds(server.ms.start)}, CRDs ${seconds(server.ms.crds)}, dry run ${seconds(server.ms.submit)}\n`,
    );
    return problems > 0 ? 1 : 0;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
