/**
 * A pull request's specs as data (#15, C1). The trusted plan job runs the
 * base branch's code with the plan environment's secrets; the pull request's
 * infra/*.yaml reach it only as file contents, read from the head commit
 * with `git show` into a spec folder outside the checkout. Nothing of the
 * head is checked out, built, imported or run.
 *
 * A spec folder is laid out as the repository: `<dir>/infra/<name>.yaml`, so
 * every problem and annotation names `infra/<name>.yaml` as in the pull
 * request.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fetchCommit, git, GitError, type GitAuth } from '../repo/git.js';
import type { ActionLog } from './log.js';
import { commentMarker } from './comment.js';

/** The action's input that names the spec folder. */
export const SPEC_DIR_INPUT = 'spec-dir';

/** A bad spec folder: names the input, the file and the fix. */
export class SpecDirError extends Error {
  override name = 'SpecDirError';
}

/** A spec's file name in infra/: what specFiles() of lib/repo/workspace.ts plans (not Pulumi's files), and nothing a path could be made of. */
const SPEC_NAME = /^(?!Pulumi)[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$/;

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function real(path: string): string {
  // The nearest existing ancestor's real path, so a folder that is still to be made is compared as it will be.
  let p = resolve(path);
  const rest: string[] = [];
  while (!existsSync(p)) {
    rest.unshift(p.slice(p.lastIndexOf(sep) + 1));
    const up = resolve(p, '..');
    if (up === p) break;
    p = up;
  }
  return join(realpathSync(p), ...rest);
}

/**
 * Checks the spec folder the head's specs are written to: an absolute path
 * outside the checkout (the base's code must never find a head file among
 * its own), and no spec in it yet (a folder left from another run would mix
 * two commits). Made when missing. Returns its absolute path.
 */
export function prepareSpecDir(repoRoot: string, dir: string): string {
  const fix = 'give a new folder outside the checkout, e.g. `${{ runner.temp }}/head-specs`';
  if (!dir.trim()) throw new SpecDirError(`${SPEC_DIR_INPUT}: empty: the folder the pull request's specs are written to is needed; fix: ${fix}`);
  if (!isAbsolute(dir)) throw new SpecDirError(`${SPEC_DIR_INPUT}: "${dir}" is not an absolute path; fix: ${fix}`);
  const abs = real(dir);
  const root = real(repoRoot);
  if (inside(root, abs) || inside(abs, root)) throw new SpecDirError(`${SPEC_DIR_INPUT}: "${dir}" is inside the checkout ${repoRoot} (or holds it): the head's files would sit beside the code that runs; fix: ${fix}`);
  const infra = join(abs, 'infra');
  if (existsSync(infra)) {
    const left = readdirSync(infra).sort();
    if (left.length > 0) throw new SpecDirError(`${SPEC_DIR_INPUT}: ${join(infra, left[0]!)} is already there (${left.length} file(s) in ${infra}): specs of another run would be planned with these; fix: ${fix}`);
  }
  mkdirSync(infra, { recursive: true });
  return abs;
}

/**
 * The specs of a spec folder, as `infra/<name>.yaml`, sorted. Anything else
 * in `<dir>/infra/` is refused by name: a folder, a link (it could point
 * into the checkout), a file that is not a spec's name.
 */
export function specDirFiles(dir: string): string[] {
  const infra = join(dir, 'infra');
  if (!existsSync(infra)) throw new SpecDirError(`${SPEC_DIR_INPUT}: ${infra} does not exist: the specs go in <${SPEC_DIR_INPUT}>/infra/<name>.yaml, as in the repository; fix: write each spec there (git show <head>:infra/<name>.yaml)`);
  const out: string[] = [];
  for (const name of readdirSync(infra).sort()) {
    const file = join(infra, name);
    const st = lstatSync(file);
    if (!st.isFile()) throw new SpecDirError(`${SPEC_DIR_INPUT}: ${file} is ${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a folder' : 'not a regular file'}; fix: put only the specs' contents there, as regular files`);
    if (name.startsWith('Pulumi')) continue; // Pulumi's own files are not specs (specFiles), and the base's are the ones used.
    if (!SPEC_NAME.test(name)) throw new SpecDirError(`${SPEC_DIR_INPUT}: ${file} is not a spec's name (<name>.yaml, the cluster's name); fix: remove it, or name it as its metadata.name`);
    out.push(`infra/${name}`);
  }
  return out;
}

export interface CopiedSpecs {
  /** Written into the spec folder, as infra/<name>.yaml. */
  readonly specs: readonly string[];
  /** Entries of the head's infra/ left out, each with why (a link, a folder, Pulumi's files, a name no spec has). */
  readonly skipped: readonly string[];
}

/**
 * Writes the specs of commit `sha` (its infra/<name>.yaml, regular files
 * only) into `<dir>/infra/`, read with `git ls-tree` and `git show`: as
 * data, nothing checked out. The commit must be in the object store
 * (fetchCommit).
 */
export async function copySpecsAt(repoRoot: string, sha: string, dir: string): Promise<CopiedSpecs> {
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new GitError(`head-sha: "${sha}" is not a full commit SHA (40 hex digits); fix: pass github.event.pull_request.head.sha`);
  const tree = await git(repoRoot, ['ls-tree', '-z', sha, '--', 'infra/']);
  if (tree.code !== 0) throw new GitError(`git ls-tree ${sha} infra/ failed (exit ${tree.code}): ${tree.stderr.trim()} (is the head fetched?)`);
  const specs: string[] = [];
  const skipped: string[] = [];
  for (const entry of tree.stdout.split('\0').filter(Boolean)) {
    // "<mode> <type> <object>\t<path>"
    const tab = entry.indexOf('\t');
    const [mode, type] = entry.slice(0, tab).split(' ');
    const path = entry.slice(tab + 1);
    const name = path.slice('infra/'.length);
    if (name.startsWith('Pulumi')) skipped.push(`${path}: Pulumi's own file (the base's is used)`);
    else if (!/\.ya?ml$/.test(name)) continue; // the program, the policy pack: not specs, and never read from the head
    else if (type !== 'blob' || (mode !== '100644' && mode !== '100755')) skipped.push(`${path}: ${mode === '120000' ? 'a symbolic link' : `a ${type}`}, not a file`);
    else if (!SPEC_NAME.test(name)) skipped.push(`${path}: not a spec's name`);
    else {
      const show = await git(repoRoot, ['show', `${sha}:${path}`]);
      if (show.code !== 0) throw new GitError(`git show ${sha}:${path} failed (exit ${show.code}): ${show.stderr.trim()}`);
      writeFileSync(join(dir, 'infra', name), show.stdout, { flag: 'wx' });
      specs.push(path);
    }
  }
  return { specs: specs.sort(), skipped: skipped.sort() };
}

/** Is this path a spec of infra/ (what the trusted preview reads from the head)? */
export function isSpecPath(path: string): boolean {
  const m = /^infra\/([^/]+)$/.exec(path);
  return !!m && SPEC_NAME.test(m[1]!);
}

/** The files the pull request changes (base...head, from their merge base) outside infra/<name>.yaml, sorted. */
export async function changedOutsideSpecs(repoRoot: string, baseSha: string, headSha: string): Promise<string[]> {
  const r = await git(repoRoot, ['diff', '--name-only', '-z', '--no-renames', `${baseSha}...${headSha}`]);
  if (r.code !== 0) throw new GitError(`git diff ${baseSha}...${headSha} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout
    .split('\0')
    .filter((p) => p.length > 0 && !isSpecPath(p))
    .sort();
}

/** The specs the pull request deletes (infra/<name>.yaml at the base, gone at its head; a rename counts as one), sorted. */
export async function deletedSpecs(repoRoot: string, baseSha: string, headSha: string): Promise<string[]> {
  const r = await git(repoRoot, ['diff', '--name-only', '-z', '--no-renames', '--diff-filter=D', `${baseSha}...${headSha}`, '--', 'infra/']);
  if (r.code !== 0) throw new GitError(`git diff ${baseSha}...${headSha} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout
    .split('\0')
    .filter((p) => p.length > 0 && isSpecPath(p))
    .sort();
}

/**
 * The comment of a stack whose spec the pull request deletes (it replaces the stack's plan comment,
 * found by the same marker): merging destroys nothing; the machines keep running and Flux keeps
 * reconciling clusters/<name>/ until the teardown workflow is run for the stack.
 */
export function deletedSpecComment(o: { readonly stack: string; readonly specFile: string; readonly commitSha: string }): string {
  return [
    commentMarker(o.stack),
    `## Plan for \`${o.stack}\`: ${shown(o.specFile)} is deleted`,
    '',
    `At \`${o.commitSha.slice(0, 7)}\` this pull request deletes ${shown(o.specFile)}. **Merging it destroys nothing**: the cluster's machines keep running, and Flux keeps reconciling \`clusters/${o.stack}/\` from the branch (apply neither renders nor removes them any more).`,
    '',
    `To remove the cluster, run the **teardown** workflow for the stack \`${o.stack}\` (Actions > teardown > Run workflow, with the stack's name typed twice) before or after merging: it destroys the stack and removes \`clusters/${o.stack}/\` and the spec from the branch.`,
    '',
  ].join('\n');
}

/** A path as the comment shows it: printable ASCII of paths only, anything else as "?" (a path is the pull request's, and goes in Markdown). */
function shown(path: string): string {
  const cut = path.length > 120 ? `${path.slice(0, 119)}…` : path;
  return `\`${cut.replace(/[^A-Za-z0-9._\/@+=,…-]/g, '?')}\``;
}

/** At most this many of the files outside infra/*.yaml are named in the comment. */
export const OUTSIDE_SHOWN = 10;

/**
 * What the comment says about the code that ran: the base's, on the pull
 * request's specs read as data; and, when the pull request changes anything
 * else, that those changes are not in the preview and that the plan
 * environment's reviewers approve such previews.
 */
export function baseCodeNote(o: { readonly baseSha: string; readonly outside: readonly string[] }): string {
  const lines = [
    `> This preview ran the base branch's code (\`${o.baseSha.slice(0, 7)}\`) on this pull request's \`infra/*.yaml\`, read from its head as data: no file of the pull request was built or run with the secrets.`,
  ];
  if (o.outside.length > 0) {
    const names = o.outside.slice(0, OUTSIDE_SHOWN).map(shown).join(', ');
    const more = o.outside.length > OUTSIDE_SHOWN ? ` and ${o.outside.length - OUTSIDE_SHOWN} more` : '';
    lines.push(
      '>',
      `> **This pull request also changes code outside \`infra/*.yaml\`** (${o.outside.length} file(s): ${names}${more}). Those changes are not in this preview: the base's code made it, and apply runs the merged code. A pull request like this one needs a reviewer's approval of the \`plan\` environment before its preview runs; the reviewer reads the change first.`,
    );
  }
  return lines.join('\n');
}

/**
 * The comment's body with the note under its heading (the marker stays the
 * first line, so the comment is still found). The note is under 2,000
 * characters and the body under COMMENT_LIMIT (64,000), so the result stays
 * under GitHub's 65,536.
 */
export function withNote(body: string, note: string): string {
  const lines = body.split('\n');
  const heading = lines.findIndex((l) => l.startsWith('## '));
  const at = heading >= 0 ? heading + 1 : 1;
  return [...lines.slice(0, at), '', note, ...lines.slice(at)].join('\n');
}

export interface HeadSpecs {
  /** The spec folder (`<specRoot>/infra/<name>.yaml`). */
  readonly specRoot: string;
  readonly specs: readonly string[];
  /** The pull request's files outside infra/<name>.yaml. */
  readonly outside: readonly string[];
  /** The specs the pull request deletes. */
  readonly deleted: readonly string[];
}

/**
 * The trusted preview's inputs from a pull request's head: the commit
 * fetched (the token given to that one git command), its specs written into
 * the spec folder as data, and the files it changes outside them.
 */
export async function readHeadSpecs(o: { repoRoot: string; headSha: string; baseSha: string; specDir: string; remote: string; auth?: GitAuth; log: ActionLog }): Promise<HeadSpecs> {
  const specRoot = prepareSpecDir(o.repoRoot, o.specDir);
  await fetchCommit(o.repoRoot, o.remote, o.headSha, o.auth);
  const copied = await copySpecsAt(o.repoRoot, o.headSha, specRoot);
  for (const s of copied.skipped) o.log.warning(`the pull request's ${s}: not planned`);
  const specs = specDirFiles(specRoot);
  const outside = await changedOutsideSpecs(o.repoRoot, o.baseSha, o.headSha);
  const deleted = await deletedSpecs(o.repoRoot, o.baseSha, o.headSha);
  o.log.info(`the pull request's specs at ${o.headSha.slice(0, 12)}, read as data into ${specRoot}: ${specs.join(', ') || 'none'}; deleted: ${deleted.join(', ') || 'none'}; ${outside.length} other file(s) changed`);
  return { specRoot, specs, outside, deleted };
}
