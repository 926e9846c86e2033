/**
 * What a client sees of a Service while something happens to the cluster:
 * the lab runs it in the internet's namespace during a node hang. For each
 * target it keeps two kinds of traffic going, then prints one JSON line
 * (ClientStreamResult, lib/platforms/lab/verify/clientView.ts reads it):
 *   - new connections: one every --interval-ms, each its own flow (hashed
 *     anew by the routers' ECMP and kube-proxy), a request with a deadline
 *     of --timeout-ms; each attempt's start, outcome, and the node and the
 *     client address the echo pod saw (the latter names the node the flow
 *     entered through when kube-proxy masqueraded it);
 *   - established connections: --established keep-alive connections opened
 *     at the start, each asking again every --every-ms on the same socket;
 *     the first failure breaks it (and it stays broken: a client that loses
 *     a connection has lost it).
 *
 * It says "streaming" on stderr once every established connection has its
 * first answer (or 10 s passed), and ends at --duration or at SIGTERM, after
 * the attempts under way have their outcome.
 *
 *   clientStream.ts --target NAME=URL [--target …] [--duration S]
 *     [--interval-ms 20] [--established 8] [--every-ms 100] [--timeout-ms 1000]
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true, default: [] },
    duration: { type: 'string', default: '600' },
    'interval-ms': { type: 'string', default: '20' },
    established: { type: 'string', default: '8' },
    'every-ms': { type: 'string', default: '100' },
    'timeout-ms': { type: 'string', default: '1000' },
  },
});
const numberOf = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    console.error(`clientStream: --${name} must be a number ≥ ${min}, got ${v}`);
    process.exit(2);
  }
  return n;
};
const targets = values.target.map((t) => {
  const eq = t.indexOf('=');
  if (eq <= 0) {
    console.error(`clientStream: --target must be NAME=URL, got ${t}`);
    process.exit(2);
  }
  return { name: t.slice(0, eq), url: new URL(t.slice(eq + 1)) };
});
if (targets.length === 0) {
  console.error('clientStream: at least one --target NAME=URL is required');
  process.exit(2);
}
const durationMs = numberOf('duration', values.duration, 1) * 1000;
const intervalMs = numberOf('interval-ms', values['interval-ms'], 1);
const established = numberOf('established', values.established, 0);
const everyMs = numberOf('every-ms', values['every-ms'], 1);
const timeoutMs = numberOf('timeout-ms', values['timeout-ms'], 1);

interface Answer {
  node?: string;
  client?: string;
}

function ask(url: URL, agent: Agent | false): Promise<{ ok: true; answer: Answer; reused: boolean } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, path: `${url.pathname}${url.search}`, agent, timeout: timeoutMs }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve({ ok: false, error: `HTTP ${res.statusCode}` });
        try {
          resolve({ ok: true, answer: JSON.parse(body) as Answer, reused: req.reusedSocket });
        } catch {
          resolve({ ok: false, error: `not the echo server's answer: ${body.slice(0, 80)}` });
        }
      });
      res.on('error', (e) => resolve({ ok: false, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, error: e.message }));
    req.end();
  });
}

/** [target index, start (ms since the epoch), 1 answered / 0 not, node, client or error] */
type Attempt = [number, number, 0 | 1, string, string];
const attempts: Attempt[] = [];
const pending: Promise<void>[] = [];
const start = Date.now();
let end = start + durationMs;
process.on('SIGTERM', () => {
  end = Math.min(end, Date.now());
});

interface Connection {
  target: number;
  /** The pod's node and the client address it saw on the first answer. */
  node: string;
  client: string;
  answers: number;
  brokeAt?: number;
  error?: string;
  /** The socket was replaced without a failure (the server closed an idle connection): not the same connection any more. */
  replaced?: boolean;
}
const connections: Connection[] = [];

async function keep(target: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const c: Connection = { target, node: '', client: '', answers: 0 };
  connections.push(c);
  while (Date.now() < end) {
    const at = Date.now();
    const r = await ask(targets[target]!.url, agent);
    if (!r.ok) {
      c.brokeAt = at;
      c.error = r.error;
      break;
    }
    if (c.answers === 0) {
      c.node = r.answer.node ?? '';
      c.client = r.answer.client ?? '';
    } else if (!r.reused) c.replaced = true;
    c.answers++;
    await new Promise((res) => setTimeout(res, Math.max(0, at + everyMs - Date.now())));
  }
  agent.destroy();
}

const kept = targets.flatMap((_, i) => Array.from({ length: established }, () => keep(i)));
void (async () => {
  const by = Date.now() + 10_000;
  while (Date.now() < by && connections.some((c) => c.answers === 0 && c.brokeAt === undefined)) await new Promise((res) => setTimeout(res, 50));
  process.stderr.write('streaming\n');
})();
for (let next = start; next < end; next += intervalMs) {
  await new Promise((res) => setTimeout(res, Math.max(0, next - Date.now())));
  for (let i = 0; i < targets.length; i++) {
    const at = Date.now();
    pending.push(
      ask(targets[i]!.url, false).then((r) => {
        attempts.push(r.ok ? [i, at, 1, r.answer.node ?? '', r.answer.client ?? ''] : [i, at, 0, '', r.error]);
      }),
    );
  }
}
await Promise.all([...pending, ...kept]);
attempts.sort((a, b) => a[1] - b[1]);
console.log(JSON.stringify({ targets: targets.map((t) => t.name), start, end, intervalMs, timeoutMs, attempts, connections }));
