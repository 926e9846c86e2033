/**
 * The git edge of apply and teardown: commit what changed under the given
 * paths and push it, rebasing onto the remote branch and trying again when
 * it moved meanwhile (bounded). Nothing is committed when nothing changed.
 * Real git, run as a child process in the checkout.
 *
 * Credentials: the workflows check out with `persist-credentials: false`, so
 * no token sits in .git/config while npm, setup or Pulumi run. A fetch or
 * push that needs one is given it here (`GitAuth`), in the environment of
 * that one git process (GIT_CONFIG_COUNT/KEY/VALUE, as an http.extraHeader
 * scoped to the server), never written to any file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, type RunResult } from '../exec/run.js';
import { retry } from '../phases/retry.js';

export class GitError extends Error {}

export function git(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return capture('git', args, { cwd, env });
}

/** A token for one git command against a server (GITHUB_TOKEN against GITHUB_SERVER_URL). */
export interface GitAuth {
  readonly token: string;
  /** The server's base URL, e.g. https://github.com; the header is sent to it only. */
  readonly serverUrl: string;
}

/**
 * The environment of one git command that authenticates to `auth.serverUrl`
 * as actions/checkout does (an Authorization header, basic x-access-token),
 * added after any GIT_CONFIG_* entries the environment already holds. An
 * empty value first clears any header a config file holds for the server (a
 * checkout that persisted its credentials), so exactly one is sent. Nothing
 * is written to .git/config.
 */
export function authEnv(auth: GitAuth, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!auth.token) throw new GitError('git: the token for the push or fetch is empty (the workflow passes github.token to the action)');
  const server = auth.serverUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+$/.test(server)) throw new GitError(`git: "${auth.serverUrl}" is not a server's base URL like https://github.com (GITHUB_SERVER_URL)`);
  const n = Number(env.GIT_CONFIG_COUNT ?? '0');
  const i = Number.isInteger(n) && n >= 0 ? n : 0;
  const key = `http.${server}/.extraheader`;
  const basic = Buffer.from(`x-access-token:${auth.token}`).toString('base64');
  return {
    ...env,
    GIT_CONFIG_COUNT: String(i + 2),
    [`GIT_CONFIG_KEY_${i}`]: key,
    [`GIT_CONFIG_VALUE_${i}`]: '',
    [`GIT_CONFIG_KEY_${i + 1}`]: key,
    [`GIT_CONFIG_VALUE_${i + 1}`]: `AUTHORIZATION: basic ${basic}`,
    // Never ask on a terminal: a refused token fails the command.
    GIT_TERMINAL_PROMPT: '0',
  };
}

/** The values authEnv puts in the environment that must be masked in logs (the token and its basic form). */
export function authSecrets(auth: GitAuth): string[] {
  return auth.token ? [auth.token, Buffer.from(`x-access-token:${auth.token}`).toString('base64')] : [];
}

async function must(cwd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await git(cwd, args, env);
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
  /** The token for the fetch and push, given to those git commands only; none: the checkout's own credentials. */
  readonly auth?: GitAuth;
  /**
   * An SSH private key (OpenSSH text) the commit is signed with, a rebase's
   * replay too (git's SSH signing, `ssh-keygen -Y sign`): a repository whose
   * Flux verifies commits (spec.gitops.verify) takes only signed ones. Written
   * to a file only the process reads, for the commit and the rebase, and
   * removed after.
   */
  readonly signingKey?: string;
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

/** The environment of one git command with these configuration entries added after any GIT_CONFIG_* it holds (nothing written to a file). */
export function configEnv(entries: ReadonlyArray<readonly [string, string]>, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const n = Number(env.GIT_CONFIG_COUNT ?? '0');
  const i = Number.isInteger(n) && n >= 0 ? n : 0;
  const out: NodeJS.ProcessEnv = { ...env, GIT_CONFIG_COUNT: String(i + entries.length) };
  entries.forEach(([key, value], k) => {
    out[`GIT_CONFIG_KEY_${i + k}`] = key;
    out[`GIT_CONFIG_VALUE_${i + k}`] = value;
  });
  return out;
}

/** The configuration that signs every commit with the SSH key in `keyFile`. */
export function signingConfig(keyFile: string): Array<[string, string]> {
  return [
    ['gpg.format', 'ssh'],
    ['user.signingkey', keyFile],
    ['commit.gpgsign', 'true'],
  ];
}

export async function commitAndPush(o: PublishOptions): Promise<PublishResult> {
  if (o.signingKey === undefined) return publish(o);
  if (!/^-----BEGIN OPENSSH PRIVATE KEY-----/.test(o.signingKey.trim())) {
    throw new GitError('git: the commit signing key is not an OpenSSH private key ("-----BEGIN OPENSSH PRIVATE KEY-----"): make one with ssh-keygen -t ed25519 and give its private file');
  }
  const dir = mkdtempSync(join(tmpdir(), 'native6-sign-'));
  try {
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${o.signingKey.trim()}\n`, { mode: 0o600 });
    return await publish(o, configEnv(signingConfig(keyFile)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function publish(o: PublishOptions, commitEnv?: NodeJS.ProcessEnv): Promise<PublishResult> {
  const log = o.log ?? (() => {});
  const files = await changedFiles(o.cwd, o.paths);
  if (files.length === 0) {
    log(`git: nothing changed under ${o.paths.join(', ')}: no commit`);
    return { files, pushes: 0 };
  }
  await must(o.cwd, ['add', '--all', '--', ...o.paths]);
  await must(o.cwd, ['commit', '--quiet', '-m', o.message, '--', ...o.paths], commitEnv);
  let pushes = 0;
  const remoteEnv = o.auth ? authEnv(o.auth) : undefined;
  await retry(
    async (n) => {
      pushes = n;
      if (n > 1) {
        // The branch moved: replay our commit on top of it.
        await must(o.cwd, ['fetch', '--quiet', o.remote, o.branch], remoteEnv);
        const rebase = await git(o.cwd, ['rebase', '--quiet', `${o.remote}/${o.branch}`], commitEnv);
        if (rebase.code !== 0) {
          await git(o.cwd, ['rebase', '--abort']);
          throw new GitError(`rebase onto ${o.remote}/${o.branch} failed: ${rebase.stderr.trim()} (someone changed the same rendered files: re-run apply)`);
        }
      }
      await must(o.cwd, ['push', '--quiet', o.remote, `HEAD:refs/heads/${o.branch}`], remoteEnv);
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
  log(`git: pushed ${commit.slice(0, 12)}${commitEnv ? ' (signed)' : ''} (${files.length} file(s)) to ${o.remote} ${o.branch}${pushes > 1 ? ` after ${pushes - 1} rebase(s)` : ''}`);
  return { commit, files, pushes };
}

/**
 * Fetches one commit (a pull request's head, by its SHA) and its history
 * into the object store, without checking anything out or creating a
 * branch: its files are then read as data (git show), never run.
 */
export async function fetchCommit(cwd: string, remote: string, sha: string, auth?: GitAuth): Promise<void> {
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new GitError(`git: "${sha}" is not a full commit SHA (40 hex digits)`);
  const have = await git(cwd, ['cat-file', '-e', `${sha}^{commit}`]);
  if (have.code === 0) return;
  await must(cwd, ['fetch', '--quiet', '--no-tags', remote, sha], auth ? authEnv(auth) : undefined);
}

/**
 * Whether the remote branch holds the same `path` as the checkout (HEAD):
 * 'same', 'differs' (main moved on and changed it), or 'missing' (removed
 * there, a teardown say). Fetches the branch first (with `auth` when given).
 */
export async function remoteFileState(o: { cwd: string; remote: string; branch: string; path: string; auth?: GitAuth }): Promise<{ state: 'same' | 'differs' | 'missing'; remoteCommit: string }> {
  await must(o.cwd, ['fetch', '--quiet', '--no-tags', o.remote, o.branch], o.auth ? authEnv(o.auth) : undefined);
  const remoteCommit = (await must(o.cwd, ['rev-parse', '--verify', 'FETCH_HEAD^{commit}'])).trim();
  const theirs = await git(o.cwd, ['rev-parse', '--verify', '--quiet', `${remoteCommit}:${o.path}`]);
  if (theirs.code !== 0) return { state: 'missing', remoteCommit };
  const ours = await git(o.cwd, ['rev-parse', '--verify', '--quiet', `HEAD:${o.path}`]);
  return { state: ours.code === 0 && ours.stdout.trim() === theirs.stdout.trim() ? 'same' : 'differs', remoteCommit };
}
