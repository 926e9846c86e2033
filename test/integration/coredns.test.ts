/**
 * The lab's rendered Corefile (lib/render/coredns.ts) under the real
 * CoreDNS v1.13.1 that setup builds, its kubernetes plugin watching a real
 * API server (lib/toolchain/apiServer.ts), its upstream a second CoreDNS
 * serving the lab internet's records. What DNS64 does and does not
 * synthesize, asked over IPv6 as a pod asks: an A-only name gets its
 * address under the NAT64 prefix; a name with AAAA, a cluster name, a name
 * that does not exist keep their answers; the cluster-zone names that
 * carry an IPv4 address (an ExternalName's target, the insecure pod form)
 * are the only ones synthesized.
 *
 * The Corefile runs as rendered but for what a test on loopback must
 * change, each replaced exactly once: the ports (53, health, ready,
 * metrics), bind ::1, a kubeconfig for the kubernetes plugin (in a pod it
 * uses its ServiceAccount), and the forward target (the resolver's address
 * under the NAT64 prefix needs the lab's translators: test/lab covers it).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tokenKubeClient, type KubeClient } from '../../lib/kube/client.js';
import { synthesize } from '../../lib/net/ipv6.js';
import { LAB_INTERNET_HOSTS } from '../../lib/platforms/lab/provider/provider.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { corefile } from '../../lib/render/coredns.js';
import { startApiServer, type ApiServer } from '../../lib/toolchain/apiServer.js';
import { COREDNS, goProgramBinary } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { needApiServer } from '../apiserver.js';
import { need, needProgram } from '../prerequisites.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res, rej) => s.once('error', rej).listen(0, '::1', res));
  const port = (s.address() as AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}

/** `text` with each search found exactly once and replaced. */
function swapOnce(text: string, swaps: ReadonlyArray<[RegExp, string]>): string {
  let out = text;
  for (const [search, replacement] of swaps) {
    const found = out.match(new RegExp(search.source, `${search.flags}g`)) ?? [];
    assert.equal(found.length, 1, `${search} found ${found.length} times in the rendered Corefile`);
    out = out.replace(search, replacement);
  }
  return out;
}

interface Answer {
  readonly status: string;
  /** "TYPE data" per answer record, in order. */
  readonly records: readonly string[];
}

function dig(port: number, name: string, type: 'A' | 'AAAA'): Answer {
  const res = spawnSync('dig', ['+time=2', '+tries=1', '+nocmd', '+noall', '+comments', '+answer', '-p', String(port), '@::1', name, type], { encoding: 'utf8', timeout: 10_000 });
  const status = /status: ([A-Z]+)/.exec(res.stdout)?.[1] ?? `no answer (${res.stdout.trim() || res.stderr.trim()})`;
  const records = res.stdout
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/))
    .map((w) => `${w[3]} ${w[4]}`);
  return { status, records };
}

function daemon(file: string, args: readonly string[], cwd: string): { child: ChildProcess; out: () => string } {
  let out = '';
  const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

async function until(what: string, ok: () => boolean, log: () => string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} within ${timeoutMs / 1000} s; its output:\n${log()}`);
}

describe("the lab's Corefile under CoreDNS v1.13.1, with a real API server", () => {
  const { gitV4, gitDual } = LAB_INTERNET_HOSTS;
  const loaded = loadCluster('infra/lab.yaml', readFileSync(join(REPO_DIR, 'infra/lab.yaml'), 'utf8'));
  assert.ok(loaded.ok);
  const prefix = loaded.plan.nat64!;
  let dir = '';
  let api: ApiServer | undefined;
  let client: KubeClient;
  const daemons: ChildProcess[] = [];
  let port = 0;

  before(async () => {
    needApiServer();
    const coredns = goProgramBinary(DEFAULT_CACHE_DIR, COREDNS.name);
    need(coredns, `npm run setup -- ${COREDNS.step}`);
    needProgram('dig', 'npm run setup (it installs bind9-dnsutils)');
    dir = mkdtempSync(join(tmpdir(), 'n6-coredns-'));
    api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR });
    client = tokenKubeClient(api.server, api.ca, api.token);
    // What the kubernetes plugin will answer besides the kubernetes Service: an ExternalName to the IPv4-only host.
    await client.apply('/api/v1/namespaces/default/services/git', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'git', namespace: 'default' }, spec: { type: 'ExternalName', externalName: gitV4.name } }, 'native6-test');

    // The upstream: the lab internet's records, as its resolver serves them (an A only for the IPv4-only host).
    const zone = [
      '$ORIGIN .',
      '$TTL 300',
      '@ IN SOA ns.example. hostmaster.ns.example. 1 3600 600 86400 60',
      '@ IN NS ns.example.',
      `${gitV4.name}. IN A ${gitV4.ipv4}`,
      `${gitDual.name}. IN A ${gitDual.ipv4}`,
      `${gitDual.name}. IN AAAA ${gitDual.ipv6}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'db.root'), zone);
    const upstream = await freePort();
    writeFileSync(join(dir, 'Upstream'), `.:${upstream} {\n    bind ::1\n    file ${join(dir, 'db.root')} .\n}\n`);
    const up = daemon(coredns, ['-conf', join(dir, 'Upstream')], dir);
    daemons.push(up.child);
    await until('the upstream answering', () => dig(upstream, `${gitV4.name}.`, 'A').status === 'NOERROR', up.out);

    writeFileSync(join(dir, 'kubeconfig'), readFileSync(api.kubeconfig, 'utf8'));
    port = await freePort();
    const rendered = corefile(loaded.spec, loaded.plan);
    const local = swapOnce(rendered, [
      [/^\.:53 \{$/m, `.:${port} {\n    bind ::1`],
      [/^ {4}health \{$/m, `    health [::1]:${await freePort()} {`],
      [/^ {4}ready$/m, `    ready [::1]:${await freePort()}`],
      [/^ {4}prometheus :9153$/m, `    prometheus [::1]:${await freePort()}`],
      [/^ {4}kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{$/m, `    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       kubeconfig ${join(dir, 'kubeconfig')}`],
      [/^ {4}forward \. \S+ \{$/m, `    forward . [::1]:${upstream} {`],
    ]);
    writeFileSync(join(dir, 'Corefile'), local);
    const dns = daemon(coredns, ['-conf', join(dir, 'Corefile')], dir);
    daemons.push(dns.child);
    await until('the cluster DNS answering for the kubernetes Service', () => dig(port, 'kubernetes.default.svc.cluster.local.', 'AAAA').records.length > 0, dns.out, 60_000);
  });

  after(async () => {
    for (const d of daemons.reverse()) {
      d.kill('SIGTERM');
      if (d.exitCode === null && d.signalCode === null) await new Promise((r) => d.once('exit', r));
    }
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('synthesizes an A-only name under the NAT64 prefix, and leaves its A record as it is', () => {
    assert.deepEqual(dig(port, `${gitV4.name}.`, 'AAAA'), { status: 'NOERROR', records: [`AAAA ${synthesize(prefix, gitV4.ipv4)}`] });
    assert.equal(synthesize(prefix, gitV4.ipv4), '2001:db8:100:4::c000:20a');
    assert.deepEqual(dig(port, `${gitV4.name}.`, 'A'), { status: 'NOERROR', records: [`A ${gitV4.ipv4}`] });
  });

  it('keeps the AAAA of a name that has one (IPv6 is never translated), and NXDOMAIN', () => {
    assert.deepEqual(dig(port, `${gitDual.name}.`, 'AAAA'), { status: 'NOERROR', records: [`AAAA ${gitDual.ipv6}`] });
    assert.deepEqual(dig(port, 'nowhere.example.', 'AAAA'), { status: 'NXDOMAIN', records: [] });
  });

  it("answers cluster names with the cluster's own IPv6 addresses, never synthesized", async () => {
    const svc = await client.get<{ spec: { clusterIP: string } }>('/api/v1/namespaces/default/services/kubernetes');
    assert.match(svc.spec.clusterIP, /^2001:db8:0:5ec::/);
    assert.deepEqual(dig(port, 'kubernetes.default.svc.cluster.local.', 'AAAA'), { status: 'NOERROR', records: [`AAAA ${svc.spec.clusterIP}`] });
    // No A record to synthesize from: NOERROR without records, as the kubernetes plugin answers it.
    assert.deepEqual(dig(port, 'kubernetes.default.svc.cluster.local.', 'A'), { status: 'NOERROR', records: [] });
    assert.deepEqual(dig(port, 'nothing.default.svc.cluster.local.', 'AAAA').status, 'NXDOMAIN');
    // A pod's IPv6 address in the pod form.
    assert.deepEqual(dig(port, '2001-db8-100-8--41.default.pod.cluster.local.', 'AAAA'), { status: 'NOERROR', records: ['AAAA 2001:db8:100:8::41'] });
  });

  it('synthesizes in the cluster zone only what the kubernetes plugin answers with an IPv4 address: an ExternalName\'s target, the insecure pod form', () => {
    // The ExternalName's CNAME, then its IPv4-only target's address under the prefix: how a pod reaches it.
    assert.deepEqual(dig(port, 'git.default.svc.cluster.local.', 'AAAA'), { status: 'NOERROR', records: [`CNAME ${gitV4.name}.`, `AAAA ${synthesize(prefix, gitV4.ipv4)}`] });
    // kubeadm's "pods insecure" answers A for any IPv4 address spelled in the name; DNS64 maps it as any A record.
    assert.deepEqual(dig(port, '192-0-2-10.default.pod.cluster.local.', 'AAAA'), { status: 'NOERROR', records: [`AAAA ${synthesize(prefix, '192.0.2.10')}`] });
  });
});
