/**
 * npm run bench -- egress: from a pod, the IPv4 internet through NAT64
 * against the IPv6 internet natively, in one run, on the running lab
 * (`npm run lab` first; root). Both paths end at the same server process:
 * gitlab.example answers on 192.0.2.11 and on 2001:db8:ffff:1::2, so the
 * only difference is the path: the node's translator (TAYGA on a TUN
 * device, then the kernel's masquerade) or none. From the egress demo's
 * labelled client (apps/egress, ipv4-allowed):
 * - throughput: a 64 MiB body, median of 3;
 * - request latency: 50 sequential requests, each a new connection,
 *   median and 95th percentile of curl's time_total;
 * printed with their ratios (NAT64 / native); then the cluster's DNS
 * (CoreDNS, kubeadm's Deployment) as the pod asks it, 200 sequential AAAA
 * questions each over UDP to the kube-dns ClusterIP, median and 95th
 * percentile, timed in the pod's network namespace:
 * - a cluster name (kubernetes.default.svc.cluster.local: the kubernetes
 *   plugin, never cached);
 * - an A-only internet name, cached (github.example: the upstream's
 *   answers come from the cache, DNS64 synthesizes at every answer, as
 *   plugin.cfg runs it before the cache);
 * - uncached internet names (a new random name under github.example each
 *   time: forwarded through NAT64 to the provider's IPv4 resolver).
 */
import type { KubeClient } from '../../lib/kube/client.js';
import type { LabContext } from '../../lib/platforms/lab/lab.js';
import { LAB_INTERNET_HOSTS } from '../../lib/platforms/lab/provider/provider.js';
import { synthesize } from '../../lib/net/ipv6.js';
import { inPod, labAdminClient, type PodItem } from '../../lib/platforms/lab/verify/probes.js';
import { EGRESS_NAMESPACE } from '../../lib/render/apps.js';
import { dnsServiceIP } from '../../lib/render/kubeadm.js';

const BODY = 64 * 2 ** 20;
const QUESTIONS = 200;

/**
 * Asks `names` (AAAA, one at a time, over UDP) of `server` and prints each
 * answer's round trip in microseconds and its rcode, one per line: run by
 * node inside the pod's network namespace.
 */
const DNS_TIMER = `
const dgram = require('node:dgram');
const [server, ...names] = process.argv.slice(1);
const sock = dgram.createSocket('udp6');
function question(id, name) {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 28, 0, 1])]);
}
(async () => {
  for (let i = 0; i < names.length; i++) {
    const id = (i * 7919) & 0xffff;
    const t = process.hrtime.bigint();
    const reply = await new Promise((resolve) => {
      const timer = setTimeout(() => { sock.removeAllListeners('message'); resolve(undefined); }, 3000);
      sock.on('message', function on(m) { if (m.readUInt16BE(0) !== id) return; clearTimeout(timer); sock.removeListener('message', on); resolve(m); });
      sock.send(question(id, names[i]), 53, server);
    });
    const us = Number(process.hrtime.bigint() - t) / 1000;
    console.log(reply ? us.toFixed(0) + ' ' + (reply[3] & 15) + ' ' + reply.readUInt16BE(6) : 'timeout');
  }
  sock.close();
})();
`;
const REQUESTS = 50;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function client(admin: KubeClient): Promise<PodItem> {
  const pods = await admin.get<{ items: PodItem[] }>(`/api/v1/namespaces/${EGRESS_NAMESPACE}/pods`);
  const pod = pods.items.find((p) => p.metadata.labels?.app === 'ipv4-allowed' && p.status.podIP);
  if (!pod) throw new Error(`no running ipv4-allowed pod in namespace ${EGRESS_NAMESPACE}: bring the lab up first (npm run lab)`);
  return pod;
}

/** curl's -w figures for one request from the pod; throws when it failed. */
async function fetch(ctx: LabContext, pod: PodItem, url: string): Promise<{ bytes: number; seconds: number }> {
  const out = await inPod(ctx, pod, ['curl', '-sS', '-o', '/dev/null', '-m', '60', '-w', '%{size_download} %{time_total} %{http_code}', url]);
  const [bytes, seconds, code] = out.split(' ');
  if (code !== '200') throw new Error(`${url} from ${pod.metadata.name}: ${out || 'no answer'}`);
  return { bytes: Number(bytes), seconds: Number(seconds) };
}

export async function benchEgress(ctx: LabContext): Promise<number> {
  const prefix = ctx.cluster.plan.nat64;
  if (!prefix) throw new Error(`${ctx.cluster.spec.file}: spec.egress.ipv4 is none: there is no NAT64 to measure`);
  const pod = await client(labAdminClient(ctx));
  const host = LAB_INTERNET_HOSTS.gitDual;
  const paths = [
    { name: 'IPv4 through NAT64', base: `http://[${synthesize(prefix, host.ipv4)}]` },
    { name: 'IPv6 natively', base: `http://[${host.ipv6}]` },
  ];
  console.log(`from pod ${pod.metadata.name} on ${pod.spec.nodeName} to ${host.name} (the same server on ${host.ipv4} and ${host.ipv6})`);
  const results: Array<{ mbps: number; p50: number; p95: number }> = [];
  for (const p of paths) {
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(ctx, pod, `${p.base}/bytes?n=${BODY}`);
      if (r.bytes !== BODY) throw new Error(`${p.name}: ${r.bytes} bytes of ${BODY}`);
      rates.push((r.bytes * 8) / r.seconds / 1e6);
    }
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) times.push((await fetch(ctx, pod, `${p.base}/whoami`)).seconds * 1000);
    results.push({ mbps: quantile(rates, 0.5), p50: quantile(times, 0.5), p95: quantile(times, 0.95) });
  }
  console.log('path                 throughput (64 MiB, median of 3)   request p50   request p95');
  paths.forEach((p, i) => {
    const r = results[i]!;
    console.log(`${p.name.padEnd(20)} ${`${r.mbps.toFixed(0)} Mbit/s`.padEnd(34)} ${`${r.p50.toFixed(2)} ms`.padEnd(13)} ${r.p95.toFixed(2)} ms`);
  });
  const [nat, native] = results as [(typeof results)[0], (typeof results)[0]];
  console.log(`NAT64 / native: throughput ${(nat.mbps / native.mbps).toFixed(2)}, request p50 ${(nat.p50 / native.p50).toFixed(2)}, p95 ${(nat.p95 / native.p95).toFixed(2)}`);
  await benchDns(ctx, pod);
  return 0;
}

async function benchDns(ctx: LabContext, pod: PodItem): Promise<void> {
  const server = dnsServiceIP(ctx.cluster.plan);
  const random = () => `n6-${Math.random().toString(36).slice(2, 10)}.${LAB_INTERNET_HOSTS.gitV4.name}`;
  const sets = [
    { name: 'cluster name', names: Array.from({ length: QUESTIONS }, () => 'kubernetes.default.svc.cluster.local'), answers: true },
    { name: 'A-only name, cached', names: Array.from({ length: QUESTIONS + 1 }, () => LAB_INTERNET_HOSTS.gitV4.name), answers: true, warm: true },
    { name: 'uncached (NXDOMAIN)', names: Array.from({ length: QUESTIONS }, random), answers: false },
  ];
  console.log(`\ncluster DNS from pod ${pod.metadata.name}: ${QUESTIONS} AAAA questions each to kube-dns [${server}]`);
  console.log('question                    p50          p95          answered');
  for (const set of sets) {
    const out = await inPod(ctx, pod, [process.execPath, '-e', DNS_TIMER, server, ...set.names]);
    const lines = out.split('\n').slice(set.warm ? 1 : 0);
    const timed = lines.filter((l) => l !== 'timeout').map((l) => l.split(' ').map(Number) as [number, number, number]);
    if (timed.length === 0) throw new Error(`${set.name}: no answer from ${server} (${out.slice(0, 200) || 'nothing'})`);
    // An answer: rcode 0 with records; an uncached name under an A-only host answers NXDOMAIN (3).
    const ok = timed.filter(([, rcode, count]) => (set.answers ? rcode === 0 && count > 0 : rcode === 3)).length;
    const us = timed.map(([t]) => t);
    console.log(`${set.name.padEnd(27)} ${`${(quantile(us, 0.5) / 1000).toFixed(2)} ms`.padEnd(12)} ${`${(quantile(us, 0.95) / 1000).toFixed(2)} ms`.padEnd(12)} ${ok} of ${lines.length}`);
  }
}
