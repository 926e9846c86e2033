/**
 * The git edge of apply and teardown: commit what changed under the given
 * paths and push it, rebasing onto the remote branch and trying again when
 * it moved meanwhile (bounded). Nothing is committed when nothing changed.
 * Real git, run as a child process in the checkout.
 */
import { capture, type RunResult } from '../exec/run.js';
import { retry } from '../phases/retry.js';

export class GitError extends Error {}

export function git(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return capture('git', args, { cwd, env });
}

async function must(cwd: string, args: readonly string[]): Promise<string> {
  const r = await git(cwd, args);
  if (r.code !== 0) throw new GitError(`git ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export interface PublishOptions {
  readonly cwd: string;
  /** Paths (relative to cwd) whose changes make the commit, deletions included. */
  readonly paths: readonly string[];
  readonly message: string;
  readonly remote: string;
  readonly branch: string;
  readonly attempts?: number;
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PublishResult {
  /** The commit pushed, or undefined when nothing changed. */
  readonly commit?: string;
  readonly files: string[];
  /** How many pushes it took (rebases in between). */
  readonly pushes: number;
}

/**
 * The paths of `git status --porcelain=v1 -z`: each entry is "XY path"; a
 * rename or copy (R or C in X or Y) is followed by one more entry, the path
 * it came from, with no status before it. Both paths changed.
 */
export function porcelainPaths(out: string): string[] {
  const entries = out.split('\0');
  const paths: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.length < 4) continue;
    paths.push(e.slice(3));
    if (/[RC]/.test(e.slice(0, 2)) && entries[i + 1]) paths.push(entries[++i]!);
  }
  return [...new Set(paths)].sort();
}

/** Files changed under paths (staged, unstaged, untracked, deleted; both sides of a rename). */
export async function changedFiles(cwd: string, paths: readonly string[]): Promise<string[]> {
  return porcelainPaths(await must(cwd, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', ...paths]));
}

export async function commitAndPush(o: PublishOptions): Promise<PublishResult> {
  const log = o.log ?? (() => {});
  const files = await changedFiles(o.cwd, o.paths);
  if (files.length === 0) {
    log(`git: nothing changed under ${o.paths.join(', ')}: no commit`);
    return { files, pushes: 0 };
  }
  await must(o.cwd, ['add', '--all', '--', ...o.paths]);
  await must(o.cwd, ['commit', '--quiet', '-m', o.message, '--', ...o.paths]);
  let pushes = 0;
  await retry(
    async (n) => {
      pushes = n;
      if (n > 1) {
        // The branch moved: replay our commit on top of it.
        await must(o.cwd, ['fetch', '--quiet', o.remote, o.branch]);
        const rebase = await git(o.cwd, ['rebase', '--quiet', `${o.remote}/${o.branch}`]);
        if (rebase.code !== 0) {
          await git(o.cwd, ['rebase', '--abort']);
          throw new GitError(`rebase onto ${o.remote}/${o.branch} failed: ${rebase.stderr.trim()} (someone changed the same rendered files: re-run apply)`);
        }
      }
      await must(o.cwd, ['push', '--quiet', o.remote, `HEAD:refs/heads/${o.branch}`]);
    },
    {
      what: `git push to ${o.remote} ${o.branch}`,
      attempts: o.attempts ?? 4,
      initialMs: 1000,
      maxMs: 8000,
      log,
      ...(o.sleep ? { sleep: o.sleep } : {}),
      fatal: (e) => e instanceof GitError && e.message.startsWith('rebase onto'),
    },
  );
  const commit = (await must(o.cwd, ['rev-parse', 'HEAD'])).trim();
  log(`git: pushed ${commit.slice(0, 12)} (${files.length} file(s)) to ${o.remote} ${o.branch}${pushes > 1 ? ` after ${pushes - 1} rebase(s)` : ''}`);
  return { commit, files, pushes };
}
