/**
 * GitHub as the runner sees it (lib/workflows/github.ts): GITHUB_API_URL names
 * a GitHub Enterprise Server and http_proxy a proxy, both read by
 * @actions/github when it is first imported, as in an action. A real HTTP
 * proxy on loopback (CONNECT, as undici's ProxyAgent asks) tunnels to a fake
 * Enterprise Server on loopback; nothing leaves the machine.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { commentMarker } from '../../lib/workflows/comment.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { actionsBot, issueComment, pr, secondaryRateLimit, user } from '../github-fixture.js';

const GHES = 'http://ghes.example.test/api/v3';
const WEB = 'http://ghes.example.test';
const marker = commentMarker('dfw');
const body = `${marker}\n## Plan for \`dfw\`\n`;
const bot = user(actionsBot.login, 41898282, 'Bot', GHES);

/** What the Enterprise Server saw: method, path, host, authorization, user agent. */
const seen: Array<{ call: string; host: string | undefined; auth: string | undefined; agent: string | undefined }> = [];
/** What the proxy was asked to tunnel to. */
const tunnels: string[] = [];
const sockets = new Set<Socket>();
let limitOnce = false;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => done(text));
    req.on('error', fail);
  });
}

const ghes: Server = createServer((req, res) => {
  void (async () => {
    seen.push({ call: `${req.method} ${req.url}`, host: req.headers.host, auth: req.headers.authorization, agent: req.headers['user-agent'] });
    const text = await readBody(req);
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(json));
    };
    if (req.method === 'GET' && req.url === '/api/v3/repos/acme/native6/issues/7/comments?per_page=100') return send(200, []);
    if (req.method === 'POST' && req.url === '/api/v3/repos/acme/native6/issues/7/comments') {
      if (limitOnce) {
        limitOnce = false;
        const limit = secondaryRateLimit(1);
        return send(limit.init.status!, limit.body, limit.init.headers as Record<string, string>);
      }
      return send(201, issueComment(301, (JSON.parse(text) as { body: string }).body, bot, GHES, WEB));
    }
    return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/enterprise-server@3.17/rest', status: '404' });
  })();
});

/** A forward proxy that answers CONNECT by tunnelling to the fake Enterprise Server, whatever host was asked for. */
const proxy: Server = createServer((_req, res) => {
  res.writeHead(405);
  res.end();
});
proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
  tunnels.push(req.url ?? '');
  sockets.add(client);
  const upstream = connect((ghes.address() as AddressInfo).port, '127.0.0.1', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  sockets.add(upstream);
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
});

const listen = (server: Server) => new Promise<number>((done) => server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port)));

let github: typeof import('../../lib/workflows/github.js');
before(async () => {
  await listen(ghes);
  const proxyPort = await listen(proxy);
  // As the runner sets them before the action starts; @actions/github reads them on import.
  process.env.GITHUB_API_URL = GHES;
  process.env.http_proxy = `http://127.0.0.1:${proxyPort}`;
  for (const name of ['HTTP_PROXY', 'no_proxy', 'NO_PROXY']) delete process.env[name];
  github = await import('../../lib/workflows/github.js');
});
after(() => {
  for (const s of sockets) s.destroy();
  ghes.closeAllConnections();
  proxy.closeAllConnections();
  ghes.close();
  proxy.close();
});

test('github: GITHUB_API_URL names the Enterprise Server, and http_proxy the proxy every call goes through', async () => {
  seen.length = 0;
  tunnels.length = 0;
  limitOnce = true;
  const lines: string[] = [];
  const octokit = github.createOctokit('ghes-token', { log: createLineLog((l) => lines.push(l)), secondMs: 1 });
  const result = await github.upsertComment(octokit, pr, marker, body);
  assert.deepEqual(result, { id: 301, action: 'created', url: `${WEB}/acme/native6/pull/7#issuecomment-301`, duplicates: [], impostors: [] });
  assert.deepEqual(
    seen.map((s) => s.call),
    ['GET /api/v3/repos/acme/native6/issues/7/comments?per_page=100', 'POST /api/v3/repos/acme/native6/issues/7/comments', 'POST /api/v3/repos/acme/native6/issues/7/comments'],
  );
  for (const s of seen) {
    assert.equal(s.host, 'ghes.example.test');
    assert.equal(s.auth, 'token ghes-token');
    assert.match(s.agent ?? '', /^native6 /);
  }
  assert.ok(tunnels.length >= 1 && tunnels.every((t) => t === 'ghes.example.test:80'), `tunnels: ${tunnels.join(', ')}`);
  assert.deepEqual(lines, ['GitHub: secondary rate limit on POST /repos/acme/native6/issues/7/comments: retry 1 of 3 in 1 s']);
});

test('github: with an injected fetch (the tests), calls still go to GITHUB_API_URL', async () => {
  const urls: string[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    urls.push(`${init?.method ?? 'GET'} ${input instanceof Request ? input.url : String(input)}`);
    return Response.json([issueComment(302, body, bot, GHES, WEB)], { headers: { 'content-type': 'application/json; charset=utf-8' } });
  };
  const octokit = github.createOctokit('ghes-token', { log: createLineLog(() => undefined), fetch: fetchImpl, secondMs: 1 });
  const result = await github.upsertComment(octokit, pr, marker, body);
  assert.deepEqual(result, { id: 302, action: 'unchanged', url: `${WEB}/acme/native6/pull/7#issuecomment-302`, duplicates: [], impostors: [] });
  assert.deepEqual(urls, [`GET ${GHES}/repos/acme/native6/issues/7/comments?per_page=100`]);
});
