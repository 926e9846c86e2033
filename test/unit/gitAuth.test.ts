/**
 * The git edge's credentials and main's state (#15, M8 and M4), with real
 * git in a temporary folder:
 *
 *   - a push to a server that demands a token gets it from commitAndPush's
 *     `auth`, in that git command's environment only: the clone's
 *     .git/config (and every file under .git) never holds it, and without
 *     it the push is refused;
 *   - remoteFileState tells whether origin/main still holds a spec as
 *     checked out: same, changed there, or removed.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitHttpServer, ensureBareRepository } from '../../lib/platforms/lab/provider/gitServer.js';
import { authEnv, authSecrets, commitAndPush, GitError, remoteFileState } from '../../lib/repo/git.js';

const GIT_ENV = { GIT_AUTHOR_NAME: 'native6 test', GIT_AUTHOR_EMAIL: 'test@native6.invalid', GIT_COMMITTER_NAME: 'native6 test', GIT_COMMITTER_EMAIL: 'test@native6.invalid' };
Object.assign(process.env, GIT_ENV);
const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
/** git against the in-process HTTP server: never synchronous, or the server could not answer. */
const shAsync = async (cwd: string, ...args: string[]) => (await promisify(execFile)('git', args, { cwd, encoding: 'utf8' })).stdout.trim();

function write(root: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), text);
  }
}

/** Every file under dir, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

const TOKEN = 'ghs_test0123456789abcdefTOKEN';

describe('authEnv: the token for one git command', () => {
  it('adds an Authorization header for the server after the GIT_CONFIG entries already there, clearing any header before it', () => {
    const env = authEnv({ token: TOKEN, serverUrl: 'https://github.example/' }, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.quotePath', GIT_CONFIG_VALUE_0: 'false' });
    assert.equal(env.GIT_CONFIG_COUNT, '3');
    assert.equal(env.GIT_CONFIG_KEY_0, 'core.quotePath');
    assert.equal(env.GIT_CONFIG_KEY_1, 'http.https://github.example/.extraheader');
    assert.equal(env.GIT_CONFIG_VALUE_1, '');
    assert.equal(env.GIT_CONFIG_KEY_2, 'http.https://github.example/.extraheader');
    assert.equal(env.GIT_CONFIG_VALUE_2, `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`);
    assert.equal(env.GIT_TERMINAL_PROMPT, '0');
    assert.deepEqual(authSecrets({ token: TOKEN, serverUrl: 'https://github.example' }), [TOKEN, Buffer.from(`x-access-token:${TOKEN}`).toString('base64')]);
  });

  it('refuses an empty token and a URL that is not a server', () => {
    assert.throws(() => authEnv({ token: '', serverUrl: 'https://github.com' }), (e: unknown) => e instanceof GitError && /token .* is empty/.test(e.message));
    assert.throws(() => authEnv({ token: TOKEN, serverUrl: 'github.com/acme' }), /not a server's base URL like https:\/\/github.com/);
  });
});

describe('commitAndPush with a token, against a server that demands it', () => {
  let dir: string;
  let server: Server;
  let url: string;
  const seen: Array<string | undefined> = [];
  const expected = `basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'n6-gitauth-'));
    const projects = join(dir, 'srv');
    ensureBareRepository(join(projects, 'native6.git'));
    const git = createGitHttpServer({ projectRoot: projects });
    // GitHub's answer to a request without a valid token: 401 with a challenge.
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization?.toLowerCase() !== expected.toLowerCase()) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="GitHub"' }).end('Unauthorized\n');
        return;
      }
      git.emit('request', req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    url = `${base}/native6.git`;
    // The first commit, pushed with the header on the command line (the test's own setup).
    const seed = join(dir, 'seed');
    sh(dir, 'init', '--quiet', '--initial-branch=main', seed);
    write(seed, { 'infra/lab.yaml': 'a: 1\n' });
    sh(seed, 'add', '-A');
    sh(seed, 'commit', '--quiet', '-m', 'seed');
    await shAsync(seed, '-c', `http.extraheader=AUTHORIZATION: ${expected}`, 'push', '--quiet', url, 'main');
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function clone(name: string): Promise<string> {
    const c = join(dir, name);
    await shAsync(dir, '-c', `http.extraheader=AUTHORIZATION: ${expected}`, 'clone', '--quiet', url, c);
    return c;
  }

  it('pushes with the token given to git at push time, and leaves no trace of it under .git', async () => {
    const c = await clone('with-token');
    const base = url.replace(/\/native6\.git$/, '');
    write(c, { 'clusters/lab/a.yaml': 'rendered: 1\n' });
    seen.length = 0;
    const out = await commitAndPush({ cwd: c, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', auth: { token: TOKEN, serverUrl: base }, sleep: async () => {} });
    assert.equal(out.pushes, 1);
    assert.ok(seen.length > 0 && seen.every((h) => h === expected), `every request carried the token's header: ${JSON.stringify(seen.map((h) => (h === expected ? 'token' : h ?? 'none')))}`);
    assert.equal(sh(join(dir, 'srv', 'native6.git'), 'rev-parse', 'main'), out.commit);
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    for (const f of walk(join(c, '.git'))) {
      const text = readFileSync(f).toString('latin1');
      assert.ok(!text.includes(TOKEN) && !text.includes(basic), `${f} holds the token`);
    }
    assert.doesNotMatch(readFileSync(join(c, '.git', 'config'), 'utf8'), /extraheader|x-access-token/i);
  });

  it('is refused without the token (so the test above shows the token was what let it in)', async () => {
    const c = await clone('without-token');
    write(c, { 'clusters/lab/b.yaml': 'rendered: 2\n' });
    const env = process.env.GIT_TERMINAL_PROMPT;
    process.env.GIT_TERMINAL_PROMPT = '0';
    try {
      await assert.rejects(
        commitAndPush({ cwd: c, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', attempts: 1, sleep: async () => {} }),
        /git push .* failed|Authentication failed|could not read Username/i,
      );
    } finally {
      if (env === undefined) delete process.env.GIT_TERMINAL_PROMPT;
      else process.env.GIT_TERMINAL_PROMPT = env;
    }
  });

  it('a header the checkout persisted is replaced, not sent beside the token', async () => {
    const c = await clone('persisted');
    const base = url.replace(/\/native6\.git$/, '');
    sh(c, 'config', `http.${base}/.extraheader`, 'AUTHORIZATION: basic c3RhbGU=');
    write(c, { 'clusters/lab/c.yaml': 'rendered: 3\n' });
    seen.length = 0;
    const out = await commitAndPush({ cwd: c, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', auth: { token: TOKEN, serverUrl: base }, attempts: 1, sleep: async () => {} });
    assert.ok(out.commit);
    assert.ok(seen.length > 0 && seen.every((h) => h === expected), JSON.stringify(seen));
  });

  it('remoteFileState fetches with the token too', async () => {
    const c = await clone('state');
    const base = url.replace(/\/native6\.git$/, '');
    const r = await remoteFileState({ cwd: c, remote: 'origin', branch: 'main', path: 'infra/lab.yaml', auth: { token: TOKEN, serverUrl: base } });
    assert.equal(r.state, 'same');
    assert.equal(r.remoteCommit, sh(join(dir, 'srv', 'native6.git'), 'rev-parse', 'main'));
  });
});

describe("remoteFileState: is main's spec still the one checked out (M4)", () => {
  /** A bare origin, a checkout of its first commit, and a pusher that moves main on. */
  function repos(): { dir: string; origin: string; checkout: string; push: (files: Record<string, string | null>) => string } {
    const dir = mkdtempSync(join(tmpdir(), 'n6-remote-'));
    const origin = join(dir, 'origin.git');
    const seed = join(dir, 'seed');
    sh(dir, 'init', '--quiet', '--bare', '--initial-branch=main', origin);
    sh(dir, 'init', '--quiet', '--initial-branch=main', seed);
    write(seed, { 'infra/dfw.yaml': 'dfw: 1\n', 'infra/lab.yaml': 'lab: 1\n' });
    sh(seed, 'add', '-A');
    sh(seed, 'commit', '--quiet', '-m', 'seed');
    sh(seed, 'push', '--quiet', origin, 'main');
    const checkout = join(dir, 'checkout');
    sh(dir, 'clone', '--quiet', origin, checkout);
    const push = (files: Record<string, string | null>) => {
      for (const [f, text] of Object.entries(files)) {
        if (text === null) rmSync(join(seed, f));
        else write(seed, { [f]: text });
      }
      sh(seed, 'add', '-A');
      sh(seed, 'commit', '--quiet', '-m', 'next');
      sh(seed, 'push', '--quiet', origin, 'main');
      return sh(seed, 'rev-parse', 'HEAD');
    };
    return { dir, origin, checkout, push };
  }

  it('same while main has not changed the spec, even when main moved on', async () => {
    const r = repos();
    try {
      const tip = r.push({ 'infra/dfw.yaml': 'dfw: 2\n' });
      const out = await remoteFileState({ cwd: r.checkout, remote: 'origin', branch: 'main', path: 'infra/lab.yaml' });
      assert.deepEqual(out, { state: 'same', remoteCommit: tip });
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('differs when a later commit of main changed it', async () => {
    const r = repos();
    try {
      const tip = r.push({ 'infra/lab.yaml': 'lab: 2\n' });
      assert.deepEqual(await remoteFileState({ cwd: r.checkout, remote: 'origin', branch: 'main', path: 'infra/lab.yaml' }), { state: 'differs', remoteCommit: tip });
      // The checkout itself is untouched: the fetch moved no branch of it.
      assert.equal(readFileSync(join(r.checkout, 'infra', 'lab.yaml'), 'utf8'), 'lab: 1\n');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('missing when main removed it (a teardown)', async () => {
    const r = repos();
    try {
      const tip = r.push({ 'infra/lab.yaml': null });
      assert.deepEqual(await remoteFileState({ cwd: r.checkout, remote: 'origin', branch: 'main', path: 'infra/lab.yaml' }), { state: 'missing', remoteCommit: tip });
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('differs when the checkout has no such file but main has one', async () => {
    const r = repos();
    try {
      r.push({ 'infra/new.yaml': 'new: 1\n' });
      assert.equal((await remoteFileState({ cwd: r.checkout, remote: 'origin', branch: 'main', path: 'infra/new.yaml' })).state, 'differs');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});
