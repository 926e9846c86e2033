/**
 * Apply's commits signed (spec.gitops.verify, docs/gitops.md "Signed
 * commits"): with a signing key, the commit commitAndPush pushes carries an
 * SSH signature that `git verify-commit` accepts against the key's public
 * half, and so does the replay of a rebase when the branch moved; without
 * one, nothing is signed; a key that is not an OpenSSH private key is
 * refused before anything is committed, without being echoed; the key file
 * is gone afterwards. Real git and ssh-keygen (git signs with it).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commitAndPush, GitError } from '../../lib/repo/git.js';
import { needProgram } from '../prerequisites.js';

const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
Object.assign(process.env, { GIT_AUTHOR_NAME: 'native6 apply', GIT_AUTHOR_EMAIL: 'apply@native6.invalid', GIT_COMMITTER_NAME: 'native6 apply', GIT_COMMITTER_EMAIL: 'apply@native6.invalid' });

function setup(): { dir: string; origin: string; clone: string; key: string; allowed: string } {
  needProgram('ssh-keygen', 'apt-get install -y openssh-client');
  const dir = mkdtempSync(join(tmpdir(), 'n6-sign-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'native6 apply', '-f', join(dir, 'signer')]);
  const allowed = join(dir, 'allowed_signers');
  writeFileSync(allowed, `apply@native6.invalid ${readFileSync(join(dir, 'signer.pub'), 'utf8')}`);
  const origin = join(dir, 'origin.git');
  const seed = join(dir, 'seed');
  sh(dir, 'init', '--quiet', '--bare', '--initial-branch=main', origin);
  sh(dir, 'init', '--quiet', '--initial-branch=main', seed);
  execFileSync('mkdir', ['-p', join(seed, 'clusters/lab'), join(seed, 'infra')]);
  writeFileSync(join(seed, 'clusters/lab/a.yaml'), 'a: 1\n');
  writeFileSync(join(seed, 'infra/lab.yaml'), 'x: 1\n');
  sh(seed, 'add', '-A');
  sh(seed, 'commit', '--quiet', '-m', 'seed');
  sh(seed, 'push', '--quiet', origin, 'main');
  const clone = join(dir, 'clone');
  sh(dir, 'clone', '--quiet', origin, clone);
  return { dir, origin, clone, key: readFileSync(join(dir, 'signer'), 'utf8'), allowed };
}

/** `git verify-commit` of `rev` in `repo` against the allowed signers: its exit code and what it says. */
function verify(repo: string, rev: string, allowed: string): { ok: boolean; out: string } {
  const r = spawnSync('git', ['-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'verify-commit', rev], { cwd: repo, encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const signDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('native6-sign-'));

describe('git: apply signs what it pushes', () => {
  it('signs the commit with the key, which git verify-commit accepts, and leaves no key file', async () => {
    const r = setup();
    const before = signDirs();
    try {
      writeFileSync(join(r.clone, 'clusters/lab/a.yaml'), 'a: 2\n');
      const lines: string[] = [];
      const out = await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', signingKey: r.key, log: (l) => lines.push(l) });
      assert.equal(sh(r.origin, 'rev-parse', 'main'), out.commit);
      const v = verify(r.origin, 'main', r.allowed);
      assert.ok(v.ok, v.out);
      assert.match(v.out, /Good "git" signature for apply@native6\.invalid with ED25519 key/);
      assert.ok(lines.some((l) => /\(signed\)/.test(l)), lines.join('\n'));
      assert.deepEqual(signDirs(), before, 'the key file is removed');
      // The seed commit was not signed: verify-commit refuses it, so the check above is not vacuous.
      assert.equal(verify(r.origin, 'main~1', r.allowed).ok, false);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it("signs the rebase's replay too when the branch moved", async () => {
    const r = setup();
    try {
      const other = join(r.dir, 'other');
      sh(r.dir, 'clone', '--quiet', r.origin, other);
      writeFileSync(join(other, 'infra/lab.yaml'), 'x: 2\n');
      sh(other, 'commit', '--quiet', '-am', 'someone else');
      sh(other, 'push', '--quiet', 'origin', 'main');
      writeFileSync(join(r.clone, 'clusters/lab/a.yaml'), 'a: 2\n');
      const out = await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', signingKey: r.key, sleep: async () => {} });
      assert.equal(out.pushes, 2);
      assert.equal(sh(r.origin, 'show', 'main:infra/lab.yaml'), 'x: 2');
      const v = verify(r.origin, 'main', r.allowed);
      assert.ok(v.ok, v.out);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('without a key nothing is signed; a key that is not an OpenSSH private key is refused before any commit, unechoed', async () => {
    const r = setup();
    try {
      writeFileSync(join(r.clone, 'clusters/lab/a.yaml'), 'a: 2\n');
      const bad = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicHalfNotPrivate native6';
      await assert.rejects(
        commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', signingKey: bad }),
        (e: unknown) => e instanceof GitError && /not an OpenSSH private key/.test(e.message) && !e.message.includes('PublicHalf'),
      );
      assert.equal(sh(r.clone, 'rev-list', '--count', 'HEAD'), '1', 'nothing committed');
      await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main' });
      assert.equal(verify(r.origin, 'main', r.allowed).ok, false);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});
