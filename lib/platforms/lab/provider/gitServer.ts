/**
 * The lab's git server: what GitHub is to a cluster in the cloud. Git's
 * smart HTTP protocol is served by Debian's `git http-backend` (the CGI
 * program git ships for exactly this), behind a small Node HTTP server that
 * runs it once per request, as a web server runs a CGI program. Fetch and
 * push both work (receive-pack is enabled on the repository), over HTTP/1.1
 * with or without Content-Length (git sends large packs chunked) and with
 * gzip-encoded requests (http-backend decodes them itself).
 *
 * In the lab it is a host of the internet namespace (LAB_INTERNET_HOSTS:
 * github.example answers over IPv4 only, gitlab.example over both; a URL
 * names the host by its name or one of its addresses, and the server
 * listens on all of that host's addresses, which network.ts puts there) and
 * serves the bare repositories under the lab's state folder; Flux's source-controller clones from it,
 * and the apply flow pushes to it. The host has no route to the internet
 * namespace's hosts (only to the cluster's block), so pushes run inside
 * that namespace (`ip netns exec <internet> git push`), on the host's file
 * system as ever.
 *
 * The server process lives in the internet namespace, so `lab down`, which
 * ends every process in the lab's namespaces before deleting them, ends it
 * too; its pid file is `.lab/<cluster>/git-server-<host>.pid`. Besides git,
 * it answers `/whoami` (the client address it saw: the NAT64 proofs read
 * it) and `/bytes?n=` (n bytes: the egress benchmark), as any web host
 * would answer something.
 */
import { labProgramArgv, runsLabProgram } from '../programLaunch.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { waitUntil } from '../../../phases/wait.js';
import { pidAlive } from './daemons.js';
import type { Runner } from '../../../exec/run.js';
import { CODE_ROOT } from '../codeRoot.js';
import type { LabContext } from '../lab.js';
import { killAll } from '../machine/process.js';
import { LAB_GIT_URL, LAB_INTERNET_HOSTS, type InternetHost } from './provider.js';

// ---------------------------------------------------------------- the server

export interface GitHttpOptions {
  /** Folder holding the bare repositories (http-backend's GIT_PROJECT_ROOT): `/<name>.git` is `<projectRoot>/<name>.git`. */
  readonly projectRoot: string;
  /** The CGI program (default: git-http-backend in `git --exec-path`). */
  readonly backend?: string;
  /** One line per request, and whatever http-backend says on stderr. */
  readonly log?: (line: string) => void;
}

/** Where Debian's (or any) git keeps git-http-backend. */
export function gitHttpBackend(): string {
  const res = spawnSync('git', ['--exec-path'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) throw new Error(`git is not installed (\`git --exec-path\`: ${res.error?.message ?? res.stderr.trim()}); run npm run setup (Debian package git)`);
  const file = join(res.stdout.trim(), 'git-http-backend');
  if (!existsSync(file)) throw new Error(`${file} is missing: git's smart HTTP backend is part of Debian's git package`);
  return file;
}

/** The CGI/1.1 environment http-backend reads for one request. */
export function cgiEnvironment(req: IncomingMessage, projectRoot: string): NodeJS.ProcessEnv {
  const url = new URL(req.url ?? '/', 'http://lab');
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'native6-lab-git',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    GIT_PROJECT_ROOT: projectRoot,
    // Every repository under the root is served (no git-daemon-export-ok files).
    GIT_HTTP_EXPORT_ALL: '1',
  };
  const optional: Array<[string, string | undefined]> = [
    ['CONTENT_TYPE', header('content-type')],
    // Absent for a chunked request: http-backend then reads the body to its end.
    ['CONTENT_LENGTH', header('content-length')],
    ['HTTP_CONTENT_ENCODING', header('content-encoding')],
    // Protocol v2, when the client asks for it.
    ['GIT_PROTOCOL', header('git-protocol')],
  ];
  for (const [k, v] of optional) if (v !== undefined) env[k] = v;
  return env;
}

/** Splits a CGI program's output head into status and headers (RFC 3875 §6). */
export function parseCgiHead(head: string): { status: number; headers: Array<[string, string]> } {
  let status = 200;
  const headers: Array<[string, string]> = [];
  for (const line of head.split(/\r?\n/)) {
    if (!line) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`not a CGI header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]) || 500;
    else headers.push([name, value]);
  }
  return { status, headers };
}

function serveCgi(req: IncomingMessage, res: ServerResponse, backend: string, projectRoot: string, log: (line: string) => void): void {
  const started = Date.now();
  const child = spawn(backend, [], { env: cgiEnvironment(req, projectRoot), stdio: ['pipe', 'pipe', 'pipe'] });
  let head = Buffer.alloc(0);
  let headDone = false;
  let stderr = '';
  const fail = (why: string) => {
    log(`${req.method} ${req.url}: ${why}`);
    if (!res.headersSent) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`git http-backend: ${why}\n`);
    } else {
      res.destroy();
    }
  };
  child.on('error', (e) => fail(e.message));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  child.stdin.on('error', () => undefined); // http-backend may answer (and exit) before reading all of a refused request
  req.pipe(child.stdin);
  child.stdout.on('data', (chunk: Buffer) => {
    if (headDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (end < 0) return;
    headDone = true;
    try {
      const { status, headers } = parseCgiHead(head.subarray(0, end).toString('latin1'));
      res.statusCode = status;
      for (const [k, v] of headers) res.appendHeader(k, v);
    } catch (e) {
      child.kill('SIGKILL');
      fail((e as Error).message);
      return;
    }
    res.write(head.subarray(end));
  });
  child.on('close', (code, signal) => {
    if (!headDone) return fail(`exited (${signal ?? code}) without an answer: ${stderr.trim()}`);
    res.end();
    const body = req.method === 'POST' ? (req.headers['content-length'] === undefined ? ' chunked' : ` ${req.headers['content-length']} bytes`) : '';
    log(`${req.socket.remoteAddress} ${req.method} ${req.url}${body} ${res.statusCode} ${Date.now() - started}ms${stderr.trim() ? ` (${stderr.trim()})` : ''}`);
  });
}

/** An HTTP server answering git's smart HTTP protocol for the bare repositories under `projectRoot`. */
export function createGitHttpServer(opts: GitHttpOptions): Server {
  const backend = opts.backend ?? gitHttpBackend();
  const log = opts.log ?? (() => undefined);
  return createServer((req, res) => {
    // A path that leaves the project root ("..", once decoded) or cannot be decoded is no repository here:
    // 404 before http-backend, which would refuse it too but as a server error (500).
    let path = '';
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://lab').pathname);
    } catch {
      path = '\0';
    }
    // Not git: what the host saw of the client (the NAT64 and egress proofs read it), and a body of n bytes
    // (the egress benchmark), as any web host would answer.
    if (path === '/whoami') {
      log(`${req.socket.remoteAddress} ${req.method} ${req.url} 200`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(`${JSON.stringify({ client: req.socket.remoteAddress, local: req.socket.localAddress })}\n`);
      return;
    }
    if (path === '/bytes') {
      const n = Math.min(Number(new URL(req.url ?? '/', 'http://lab').searchParams.get('n') ?? 0) || 0, 1 << 30);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(n) });
      const chunk = Buffer.alloc(1 << 16);
      let left = n;
      const more = (): void => {
        while (left > 0) {
          const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= part.length;
          if (!res.write(part)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
      return;
    }
    if (path.includes('\0') || path.split('/').includes('..')) {
      log(`${req.socket.remoteAddress} ${req.method} ${req.url} 404 (outside the project root)`);
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    serveCgi(req, res, backend, opts.projectRoot, log);
  });
}

/**
 * A bare repository that accepts pushes over HTTP (http.receivepack: with
 * no authenticated user, http-backend refuses pushes unless it is set).
 * Idempotent; returns true when it was made.
 */
export function ensureBareRepository(path: string, branch = 'main'): boolean {
  const made = !existsSync(join(path, 'HEAD'));
  if (made) {
    mkdirSync(path, { recursive: true });
    git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, path]);
  }
  git(['-C', path, 'config', 'http.receivepack', 'true']);
  return made;
}

function git(args: readonly string[]): string {
  const res = spawnSync('git', ['-c', 'safe.directory=*', ...args], { encoding: 'utf8' });
  if (res.error || res.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${res.error?.message ?? res.stderr.trim()}`);
  return res.stdout;
}

// -------------------------------------------------------------------- the lab


/** Where the lab's git server answers, and what it serves. */
export interface LabGitServer {
  /** The URL Flux clones (LAB_GIT_URL, or a URL on one of the lab's named hosts). */
  readonly url: string;
  /** The same URL with the host's first address for its name: what the lab itself uses from the internet namespace. */
  readonly directUrl: string;
  /** The first address it listens on, in the internet namespace. */
  readonly address: string;
  /** Every address it listens on (a named host's: LAB_INTERNET_HOSTS). */
  readonly listen: readonly string[];
  readonly port: number;
  /** The internet namespace. */
  readonly ns: string;
  /** Folder of bare repositories (GIT_PROJECT_ROOT) and the served repository in it. */
  readonly repository: string;
  readonly projectRoot: string;
  readonly pidFile: string;
  readonly logFile: string;
}

/** The lab's internet host a URL's host part names (by name or by one of its addresses). */
export function internetHostOf(hostname: string): InternetHost | undefined {
  const host = hostname.replace(/^\[|\]$/g, '');
  return (Object.values(LAB_INTERNET_HOSTS) as InternetHost[]).find((h) => h.name === host || h.ipv4 === host || h.ipv6 === host);
}

/** The lab's git server for a lab context: LAB_GIT_URL, served from `.lab/<cluster>/git/`. */
export function labGitServer(ctx: Pick<LabContext, 'paths' | 'topology'>, url: string = LAB_GIT_URL): LabGitServer {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`the lab's git server speaks http, not ${u.protocol} (${url})`);
  const name = u.pathname.replace(/^\/+/, '');
  if (!/^[A-Za-z0-9._-]+\.git$/.test(name)) throw new Error(`the lab's git server serves /<name>.git, not ${u.pathname} (${url})`);
  const projectRoot = join(ctx.paths.root, 'git');
  const bare = u.hostname.replace(/^\[|\]$/g, '');
  const host = internetHostOf(bare);
  if (!host && !/^[0-9a-f:.]+$/i.test(bare)) throw new Error(`${bare} is no host of the lab's internet (${url}): use one of ${Object.values(LAB_INTERNET_HOSTS).map((h) => h.name).join(', ')} or an address`);
  const listen = host ? [host.ipv6, host.ipv4].filter((a): a is string => a !== undefined) : [bare];
  const direct = new URL(url);
  direct.hostname = listen[0]!.includes(':') ? `[${listen[0]}]` : listen[0]!;
  const tag = (host?.name ?? bare).replace(/[^A-Za-z0-9.-]/g, '_');
  return {
    url,
    directUrl: direct.toString(),
    address: listen[0]!,
    listen,
    port: Number(u.port || 80),
    ns: ctx.topology.internet.ns,
    projectRoot,
    repository: join(projectRoot, name),
    pidFile: join(ctx.paths.root, `git-server-${tag}.pid`),
    logFile: join(ctx.paths.logs, `git-server-${tag}.log`),
  };
}

/** True when the server answers git's first request for the repository (as a client in the internet namespace). */
export async function gitServerAnswers(r: Runner, s: LabGitServer): Promise<boolean> {
  const res = await r.run('git', ['-c', 'safe.directory=*', 'ls-remote', s.directUrl], { ns: s.ns, allowFail: true, timeoutMs: 10_000 });
  return res.code === 0;
}

/**
 * Starts the lab's git server unless it runs (idempotent): the bare
 * repository, then the server in the internet namespace, then waits until
 * `git ls-remote` from that namespace works. Needs the provider network
 * (the address is on the internet namespace's loopback).
 */
export async function ensureLabGitServer(ctx: Pick<LabContext, 'paths' | 'topology' | 'runner'>, url: string = LAB_GIT_URL): Promise<LabGitServer & { started: boolean }> {
  const s = labGitServer(ctx, url);
  ensureBareRepository(s.repository);
  const running = serverPid(s);
  if (running && (await gitServerAnswers(ctx.runner, s))) return { ...s, started: false };
  if (running) await killAll([running]);
  const addrs = await ctx.runner.run('ip', ['-o', 'addr', 'show'], { ns: s.ns, allowFail: true });
  const have = new Set(addrs.stdout.split('\n').flatMap((l) => l.split(/\s+/).map((w) => w.split('/')[0])));
  const absent = s.listen.filter((a) => !have.has(a));
  if (absent.length > 0) {
    throw new Error(`${absent.join(', ')} (${s.url}) is not an address of the lab's internet namespace ${s.ns}: bring the lab's network up first (lib/platforms/lab/provider/network.ts puts it there)`);
  }
  mkdirSync(ctx.paths.logs, { recursive: true });
  const out = openSync(s.logFile, 'a');
  const child = spawn(
    'ip',
    ['netns', 'exec', s.ns, ...labProgramArgv('git-server'), ...s.listen.flatMap((a) => ['--listen', a]), '--port', String(s.port), '--root', s.projectRoot],
    { cwd: CODE_ROOT, detached: true, stdio: ['ignore', out, out] },
  );
  writeFileSync(s.pidFile, `${child.pid}\n`);
  child.unref();
  class Exited extends Error {}
  await waitUntil(
    `the lab's git server answering ${s.url} (log: ${s.logFile})`,
    async () => {
      if (await gitServerAnswers(ctx.runner, s)) return true;
      if (!serverPid(s)) throw new Exited(`the lab's git server exited at start: see ${s.logFile}`);
      return false;
    },
    { timeoutMs: 20_000, intervalMs: 250, fatal: (e) => e instanceof Exited },
  );
  return { ...s, started: true };
}

/** The server's pid when its pid file names a live git server (not a process that reused the pid after `lab down`). */
function serverPid(s: LabGitServer): number | undefined {
  const pid = pidAlive(s.pidFile);
  if (!pid) return undefined;
  try {
    return runsLabProgram(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'git-server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops the lab's git server (lab down does it anyway, with every process in the internet namespace). */
export async function stopLabGitServer(ctx: Pick<LabContext, 'paths' | 'topology'>, url: string = LAB_GIT_URL): Promise<void> {
  const s = labGitServer(ctx, url);
  const pid = serverPid(s);
  if (pid) await killAll([pid]);
  rmSync(s.pidFile, { force: true });
}

/**
 * Pushes `rev` of the repository at `from` to the lab's git server as
 * `branch` (forced: the server holds what was last pushed, as a mirror of
 * the repository). Runs `git push` in the internet namespace. Returns the
 * commit pushed.
 */
export async function pushToLabGitServer(
  ctx: Pick<LabContext, 'paths' | 'topology' | 'runner'>,
  opts: { from: string; rev?: string; branch?: string; url?: string },
): Promise<{ commit: string; branch: string; url: string }> {
  const s = labGitServer(ctx, opts.url ?? LAB_GIT_URL);
  const rev = opts.rev ?? 'HEAD';
  const branch = opts.branch ?? 'main';
  const commit = git(['-C', opts.from, 'rev-parse', '--verify', `${rev}^{commit}`]).trim();
  await ctx.runner.run('git', ['-c', 'safe.directory=*', '-C', opts.from, 'push', '--quiet', '--force', s.directUrl, `${commit}:refs/heads/${branch}`], { ns: s.ns, timeoutMs: 120_000 });
  return { commit, branch, url: s.url };
}
