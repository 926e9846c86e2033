/**
 * npm run bench -- fabric: the fabric's figures, in one run (root, npm run
 * setup; everything it makes is removed, even on failure):
 *   - pod to pod across two nodes, on the product's native routed path (pod,
 *     node, router, node, pod; no encapsulation, no NAT) vs the same two pods
 *     over a VXLAN overlay between their nodes vs through an IPv6 NAT hop
 *     (the source node masquerades): TCP throughput (iperf3, 5 s, one
 *     stream) and round trip (median TCP handshake time of 200 connections),
 *     as ratios to native;
 *   - bring-up time per node of labs of 3, 10 and 30 nodes (3 control planes,
 *     the rest workers), from nothing to the demo app served;
 *   - the time until both routers withdraw a hung node (SIGSTOP of every
 *     process on it; the lab's sessions as its spec says: BFD 100 ms × 3,
 *     hold 9 s), median of 3 nodes (`npm run bench -- failover` compares
 *     BFD with the hold time alone).
 * The pods talk through a NetworkPolicy pair the bench adds for its ports
 * (5201, 5202) and removes: the zero-trust baseline stays on throughout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createRunner, type Runner } from '../../lib/exec/run.js';
import { CODE_ROOT } from '../../lib/platforms/lab/codeRoot.js';
import { createLabContext, labDown, runLabPhases, type LabContext } from '../../lib/platforms/lab/lab.js';
import { labHostProblem } from '../../lib/platforms/lab/host.js';
import { onPod } from '../../lib/platforms/lab/machine/machine.js';
import { labAdminClient } from '../../lib/platforms/lab/verify/probes.js';
import { UP_PHASES } from '../../lib/platforms/lab/phases.js';
import { scratchCluster } from '../../lib/repo/scratch.js';
import { withdrawalTimes } from './withdrawal.js';

type Pod = { metadata: { name: string; uid: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string } };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** argv that runs a command in a pod's network namespace on its node. */
function inPod(ctx: LabContext, pod: Pod, argv: string[]): [string, string[]] {
  const node = ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName)!;
  return onPod(node.ns, pod.metadata.uid, argv[0]!, argv.slice(1));
}

const BENCH_POLICIES = [
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'bench-out', namespace: 'echo' },
    spec: { podSelector: { matchLabels: { app: 'echo' } }, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 5201, endPort: 5202 }] }] },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'bench-in', namespace: 'echo' },
    spec: { podSelector: { matchLabels: { app: 'internal' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: 5201, endPort: 5202 }] }] },
  },
];

interface PathFigures {
  readonly gbps: number;
  readonly rttMs: number;
}

async function measurePath(r: Runner, ctx: LabContext, client: Pod, server: Pod): Promise<PathFigures> {
  const [c, cArgs] = inPod(ctx, client, ['iperf3', '-6', '-c', server.status.podIP!, '-p', '5201', '-t', '5', '-J']);
  const res = await r.run(c, cArgs, { allowFail: true, timeoutMs: 30_000 });
  let gbps = Number.NaN;
  try {
    gbps = (JSON.parse(res.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
  } catch {
    // reported as NaN
  }
  // curl's time_connect is the TCP handshake: one round trip. The listener is not HTTP; curl gives up after 50 ms.
  const script = `for i in $(seq 1 200); do curl -s -o /dev/null -m 0.05 -w '%{time_connect}\\n' 'http://[${server.status.podIP}]:5202/'; done`;
  const [l, lArgs] = inPod(ctx, client, ['sh', '-c', script]);
  const lat = await r.run(l, lArgs, { allowFail: true, timeoutMs: 120_000 });
  const times = lat.stdout.split('\n').map(Number).filter((x) => x > 0);
  return { gbps, rttMs: times.length ? median(times) * 1000 : Number.NaN };
}

async function benchPaths(r: Runner, ctx: LabContext): Promise<void> {
  const api = labAdminClient(ctx);
  const pods = (await api.get<{ items: Pod[] }>('/api/v1/namespaces/echo/pods')).items.filter((p) => p.status.podIP);
  const server = pods.find((p) => p.metadata.labels?.app === 'internal');
  const client = pods.find((p) => p.metadata.labels?.app === 'echo' && p.spec.nodeName !== server?.spec.nodeName);
  if (!server || !client) throw new Error('bench fabric: no echo pod on another node than the internal pod');
  const a = ctx.topology.machines.find((m) => m.machine.name === client.spec.nodeName)!;
  const b = ctx.topology.machines.find((m) => m.machine.name === server.spec.nodeName)!;
  for (const p of BENCH_POLICIES) await api.apply(`/apis/networking.k8s.io/v1/namespaces/echo/networkpolicies/${p.metadata.name}`, p, 'native6-bench');
  const servers: ChildProcess[] = [];
  const [s1, s1Args] = inPod(ctx, server, ['iperf3', '-6', '-s', '-p', '5201']);
  // A second listener for the round trips: only its TCP handshake is timed.
  const [s2, s2Args] = inPod(ctx, server, ['iperf3', '-6', '-s', '-p', '5202']);
  servers.push(spawn(s1, s1Args, { stdio: 'ignore', cwd: CODE_ROOT }), spawn(s2, s2Args, { stdio: 'ignore', cwd: CODE_ROOT }));
  try {
    await new Promise((res) => setTimeout(res, 4000)); // the policies reach the agents; the servers listen
    const results: Array<[string, PathFigures]> = [];
    results.push(['native (routed, no NAT)', await measurePath(r, ctx, client, server)]);

    // VXLAN between the two nodes, carrying just these two pods' traffic.
    const vx = async (m: typeof a, remote: string) => {
      await r.run('ip', ['link', 'add', 'n6vx', 'type', 'vxlan', 'id', '42', 'local', m.address, 'remote', remote, 'dstport', '4789', 'dev', 'eth0'], { ns: m.ns });
      await r.run('ip', ['link', 'set', 'n6vx', 'mtu', '1430', 'up'], { ns: m.ns });
    };
    await vx(a, b.address);
    await vx(b, a.address);
    try {
      await new Promise((res) => setTimeout(res, 2500)); // link-local addresses (DAD)
      const ll = async (m: typeof a) => {
        const out = await r.run('ip', ['-j', '-6', 'addr', 'show', 'dev', 'n6vx', 'scope', 'link'], { ns: m.ns });
        return (JSON.parse(out.stdout) as Array<{ addr_info: Array<{ local: string }> }>)[0]!.addr_info[0]!.local;
      };
      await r.run('ip', ['-6', 'route', 'add', `${server.status.podIP}/128`, 'via', await ll(b), 'dev', 'n6vx'], { ns: a.ns });
      await r.run('ip', ['-6', 'route', 'add', `${client.status.podIP}/128`, 'via', await ll(a), 'dev', 'n6vx'], { ns: b.ns });
      results.push(['VXLAN overlay between the nodes', await measurePath(r, ctx, client, server)]);
    } finally {
      for (const m of [a, b]) await r.run('ip', ['link', 'del', 'n6vx'], { ns: m.ns, allowFail: true });
    }

    // An IPv6 NAT hop: the client's node masquerades the pod.
    const nat = `table ip6 n6-bench-nat {\n  chain post {\n    type nat hook postrouting priority srcnat; policy accept;\n    ip6 saddr ${client.status.podIP} ip6 daddr ${server.status.podIP} masquerade\n  }\n}\n`;
    await r.run('nft', ['-f', '-'], { ns: a.ns, input: nat });
    try {
      results.push(['IPv6 NAT hop (source node masquerades)', await measurePath(r, ctx, client, server)]);
    } finally {
      await r.run('nft', ['delete', 'table', 'ip6', 'n6-bench-nat'], { ns: a.ns, allowFail: true });
    }

    const native = results[0]![1];
    console.log(`pod to pod across nodes (${client.spec.nodeName} -> ${server.spec.nodeName}, through the routers; iperf3 5 s, one TCP stream; TCP handshake by curl, median of 200)`);
    for (const [name, f] of results) {
      console.log(`  ${name.padEnd(42)} ${f.gbps.toFixed(2)} Gbit/s (x${(f.gbps / native.gbps).toFixed(2)})   round trip ${f.rttMs.toFixed(3)} ms (x${(f.rttMs / native.rttMs).toFixed(2)})`);
    }
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    for (const p of BENCH_POLICIES) await api.delete(`/apis/networking.k8s.io/v1/namespaces/echo/networkpolicies/${p.metadata.name}`, { missingOk: true });
  }
}

export async function benchFabric(): Promise<number> {
  const host = labHostProblem(join(CODE_ROOT, '.cache/bin'));
  if (host) {
    console.error(`bench fabric: ${host}`);
    return 2;
  }
  const r = createRunner();
  const quiet = () => undefined;
  // `npm run bench -- fabric paths`: only the first lab and its paths.
  const sizes = process.argv.slice(2).includes('paths') ? [3] : [3, 10, 30];
  const bringUp: Array<[number, number]> = [];
  for (const size of sizes) {
    const name = `fb${size}`;
    const scratch = scratchCluster(name, { controlPlanes: 3, workers: Math.max(1, size - 3), block: `2001:db8:${(0x4400 + size).toString(16)}::/56` });
    try {
      const ctx = createLabContext(scratch.repo, scratch.cluster);
      const nodes = ctx.topology.machines.length;
      const t = Date.now();
      await runLabPhases(ctx, UP_PHASES, quiet);
      const ms = Date.now() - t;
      bringUp.push([nodes, ms]);
      console.log(`bring-up of ${nodes} nodes: ${(ms / 1000).toFixed(1)} s, ${(ms / nodes / 1000).toFixed(1)} s per node`);
      if (size === 3) await benchPaths(r, ctx);
      if (size === 10) {
        const ms3 = await withdrawalTimes(r, ctx, ctx.timers.keepalive, 120_000);
        const how = ctx.timers.bfd ? `BFD ${ctx.timers.bfd.intervalMs} ms × ${ctx.timers.bfd.multiplier}, hold ${ctx.timers.hold} s` : `hold ${ctx.timers.hold} s, no BFD`;
        console.log(`hung node withdrawn by both routers (${how}): median ${(median(ms3) / 1000).toFixed(2)} s (${ms3.map((x) => `${(x / 1000).toFixed(2)} s`).join(', ')})`);
      }
    } finally {
      await labDown(r, scratch.repo, name);
      scratch.remove();
    }
  }
  const first = bringUp[0]!;
  console.log(`bring-up per node relative to ${first[0]} nodes: ${bringUp.map(([n, ms]) => `${n}: x${(ms / n / (first[1] / first[0])).toFixed(2)}`).join(', ')}`);
  return 0;
}
