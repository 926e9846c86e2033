/**
 * An HTTP(S) client the lab runs inside a namespace (the internet, a
 * machine) to check what answers there. Prints one JSON line:
 * { ok, attempts, successes, consecutive, timeouts, ms, last } where `ok`
 * means `--need` answers in a row were seen before `--timeout` seconds, and
 * `timeouts` counts the attempts that got no answer at all within
 * --per-request-ms (a packet dropped, not refused).
 *
 *   probe.ts --url URL [--ca FILE] [--servername NAME] [--source ADDRESS] [--need N] [--timeout S] [--per-request-ms MS] [--expect TEXT]
 *
 * --servername: the name the server's certificate is checked against (and sent as SNI) instead of
 * the URL's host, as a kubeconfig's tls-server-name.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    ca: { type: 'string' },
    servername: { type: 'string' },
    source: { type: 'string' },
    need: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '30' },
    'per-request-ms': { type: 'string', default: '2000' },
    expect: { type: 'string' },
  },
});
if (!values.url) {
  console.error('probe: --url is required');
  process.exit(2);
}
const url = new URL(values.url);
const ca = values.ca ? readFileSync(values.ca, 'utf8') : undefined;
const perRequest = Number(values['per-request-ms']);

function once(): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        ...(ca ? { ca } : {}),
        ...(values.servername ? { servername: values.servername } : {}),
        ...(values.source ? { localAddress: values.source } : {}),
        timeout: perRequest,
        // A new connection each time: a new flow, hashed anew by the routers (ECMP) and kube-proxy.
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 && (values.expect === undefined || body.includes(values.expect));
          resolve({ ok, detail: `${res.statusCode} ${body.trim().slice(0, 200)}` });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${perRequest} ms`)));
    req.on('error', (e) => resolve({ ok: false, detail: e.message }));
    req.end();
  });
}

const need = Number(values.need);
const deadline = Date.now() + Number(values.timeout) * 1000;
const start = Date.now();
let attempts = 0;
let successes = 0;
let consecutive = 0;
let timeouts = 0;
let last = '';
while (Date.now() < deadline && consecutive < need) {
  attempts++;
  const r = await once();
  last = r.detail;
  if (r.ok) {
    successes++;
    consecutive++;
  } else {
    consecutive = 0;
    if (r.detail.startsWith('no answer in')) timeouts++;
    await new Promise((res) => setTimeout(res, 200));
  }
}
console.log(JSON.stringify({ ok: consecutive >= need, attempts, successes, consecutive, timeouts, ms: Date.now() - start, last }));
