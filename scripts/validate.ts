// `npm run validate [-- PATH…]`
//
// Checks every Kubernetes object in the given files/folders (default:
// clusters apps policies) against the pinned upstream API schemas, checks
// kustomizations, and cross-checks our YAML parse against the parser kubectl
// and Flux use. Runs the setup first (a no-op when cached), so a fresh clone
// only needs `npm run validate`. Prints one issue per line to stderr and a
// summary; exits 1 on any problem.

import { relative, resolve } from 'node:path';
import {
  formatFileIssue,
  isYamlFile,
  loadCatalog,
  readTree,
  realFs,
  runYamlcheck,
  validateTree,
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
  const explicit = parseCommandLine('validate', 'npm run validate [-- PATH…]', argv, {}).positionals;
  // Default trees are relative to the repository; given paths to the cwd.
  const paths = explicit.length > 0 ? [...explicit] : DEFAULT_PATHS.map((p) => relative(process.cwd(), resolve(REPO_DIR, p)) || '.');

  try {
    await ensureSetup({ cacheDir: DEFAULT_CACHE_DIR, repoDir: REPO_DIR, quietCached: true, log: err });
  } catch (e) {
    err(`validate: setup failed: ${(e as Error).message}`);
    err(`validate: run \`${SETUP_COMMAND}\` and try again`);
    return 1;
  }

  let catalog;
  try {
    catalog = loadCatalog(DEFAULT_CACHE_DIR);
  } catch (e) {
    err(`validate: ${(e as Error).message}`);
    return 1;
  }

  const { files, missing } = readTree(paths);
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

  process.stdout.write(
    `validate: ${plural(result.objects, 'object')} in ${plural(result.files, 'file')} checked against ${catalog.label} schemas: ${plural(problems, 'problem')}\n`,
  );
  return problems > 0 ? 1 : 0;
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
