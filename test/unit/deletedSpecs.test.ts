// A pull request that deletes a spec (review security-2026-12 L7): the trusted preview finds it
// (git diff of the base and the head, a rename counted as a deletion of the old name) and the
// stack's comment says that merging destroys nothing and how to tear the cluster down; real git.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { commentMarker } from '../../lib/workflows/comment.js';
import { deletedSpecComment, deletedSpecs } from '../../lib/workflows/headSpecs.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { runPlan } from '../../lib/workflows/plan.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const env = { ...process.env, GIT_AUTHOR_NAME: 'native6 test', GIT_AUTHOR_EMAIL: 'test@native6.invalid', GIT_COMMITTER_NAME: 'native6 test', GIT_COMMITTER_EMAIL: 'test@native6.invalid' };
const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const LAB = readFileSync(join(REPO_DIR, 'infra/lab.yaml'), 'utf8');

function write(root: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), text);
  }
}

test('the specs a pull request deletes, a rename counted as the old name deleted; nothing else', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-deleted-'));
  try {
    sh(dir, 'init', '--quiet', '--initial-branch=main');
    write(dir, { 'infra/lab.yaml': LAB, 'infra/edge.yaml': LAB.replace('name: lab', 'name: edge'), 'infra/old.yaml': LAB.replace('name: lab', 'name: old'), 'infra/notes.yaml.txt': 'x\n', 'infra/Pulumi.yaml': 'name: native6\n' });
    sh(dir, 'add', '-A');
    sh(dir, 'commit', '--quiet', '-m', 'base');
    const base = sh(dir, 'rev-parse', 'HEAD');
    sh(dir, 'rm', '--quiet', 'infra/edge.yaml', 'infra/notes.yaml.txt', 'infra/Pulumi.yaml');
    sh(dir, 'mv', 'infra/old.yaml', 'infra/new.yaml');
    write(dir, { 'infra/lab.yaml': LAB.replace(/count: 2\b/, 'count: 3') });
    sh(dir, 'commit', '--quiet', '-am', 'delete edge, rename old');
    const head = sh(dir, 'rev-parse', 'HEAD');
    // Not the notes (no spec's name), not Pulumi's file; the changed lab.yaml is no deletion.
    assert.deepEqual(await deletedSpecs(dir, base, head), ['infra/edge.yaml', 'infra/old.yaml']);
    assert.deepEqual(await deletedSpecs(dir, base, base), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a deleted spec's stack gets a comment under its marker: merging destroys nothing, teardown removes it", async () => {
  const body = deletedSpecComment({ stack: 'edge', specFile: 'infra/edge.yaml', commitSha: 'abcdef0123456789' });
  assert.ok(body.startsWith(`${commentMarker('edge')}\n## Plan for \`edge\`: \`infra/edge.yaml\` is deleted\n`), body);
  assert.match(body, /\*\*Merging it destroys nothing\*\*/);
  assert.match(body, /run the \*\*teardown\*\* workflow for the stack `edge`/);
  assert.match(body, /At `abcdef0`/);

  const log = createLineLog(() => {});
  const lines: string[] = [];
  const warned = createLineLog((l) => lines.push(l));
  const r = await runPlan(
    { repoRoot: REPO_DIR, specs: [], commitSha: 'abcdef0123456789', deleted: ['infra/edge.yaml'] },
    { log: { ...warned, summary: log.summary }, preview: async () => assert.fail('a deleted spec is not previewed') },
  );
  assert.deepEqual(r, { ok: true, stacks: [{ stack: 'edge', specFile: 'infra/edge.yaml', ok: true, changes: [] }] });
  assert.ok(lines.some((l) => l.startsWith('warning: infra/edge.yaml is deleted by this pull request: merging destroys nothing')), lines.join('\n'));
  assert.deepEqual(log.summaries, [body]);
});
