/** Setup steps tools:*: the small Go programs of this repository (yamlcheck, n6-confd), built when their sources change. */
import { goBuildEnv } from '../goProgram.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { YAMLCHECK_SOURCE_DIR } from '../pins.js';
import { sha256, yamlcheckPath } from '../cacheDir.js';
import { CONFD_SOURCE_DIR, confdBinary } from '../pins.js';
import { type Step } from './step.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../repo.js';
import { BUILD_FLAGS, requireGo, run } from '../go.js';

// ------------------------------------------------- small Go tools of ours

function goToolSources(repoDir: string, sourceDir: string): string[] {
  const dir = join(repoDir, sourceDir);
  return readdirSync(dir)
    .filter((n) => n === 'go.mod' || n === 'go.sum' || (n.endsWith('.go') && !n.endsWith('_test.go')))
    .sort()
    .map((n) => join(dir, n));
}

/** Hash of a tool's sources; the build is redone when it changes. */
export function goToolStamp(repoDir: string, sourceDir: string): string {
  const h: string[] = [process.platform, process.arch];
  for (const f of goToolSources(repoDir, sourceDir)) h.push(`${relative(repoDir, f)}\n${sha256(readFileSync(f))}`);
  return sha256(h.join('\n'));
}

export function yamlcheckStamp(repoDir: string): string {
  return goToolStamp(repoDir, YAMLCHECK_SOURCE_DIR);
}

/** Builds one of our small Go programs (tools/<x>, stdlib and a few modules) into the cache. */
function goToolStep(name: string, sourceDir: string, bin: string, repoDir: string): Step {
  const stampFile = `${bin}.stamp`;
  return {
    name,
    done: () => existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === goToolStamp(repoDir, sourceDir),
    run: async () => {
      await requireGo();
      mkdirSync(dirname(bin), { recursive: true });
      const tmp = `${bin}.tmp-${process.pid}`;
      const { stderr, code } = await run('go', ['build', ...BUILD_FLAGS, '-o', tmp, '.'], { cwd: join(repoDir, sourceDir), env: goBuildEnv() });
      if (code !== 0) {
        rmSync(tmp, { force: true });
        throw new Error(`go build ${sourceDir} failed: ${stderr.trim()}`);
      }
      renameSync(tmp, bin);
      writeFileSync(stampFile, `${goToolStamp(repoDir, sourceDir)}\n`);
      return `built ${relative(process.cwd(), bin) || bin}`;
    },
  };
}

export function yamlcheckStep(cacheDir: string = DEFAULT_CACHE_DIR, repoDir: string = REPO_DIR): Step {
  return goToolStep('tools:yamlcheck', YAMLCHECK_SOURCE_DIR, yamlcheckPath(cacheDir), repoDir);
}

export function confdStep(cacheDir: string = DEFAULT_CACHE_DIR, repoDir: string = REPO_DIR): Step {
  return goToolStep('tools:n6-confd', CONFD_SOURCE_DIR, confdBinary(cacheDir), repoDir);
}
