/**
 * Verify's proofs of the cluster's DNS, asked from inside a pod as its
 * programs ask (issue #14): in the pod's own file system (its resolv.conf,
 * written by the lab's kubelet from the KubeletConfiguration's clusterDNS)
 * and its network, with the search path and ndots the kubelet writes:
 * - the pod's resolv.conf names the kube-dns Service's ClusterIP;
 * - `kubernetes.default` resolves, through the search path, to the API
 *   server's ClusterIP;
 * - a name with only an A record (github.example, as github.com) resolves
 *   to its address synthesized under the cluster's NAT64 prefix (DNS64);
 * - a name with an AAAA record (gitlab.example) resolves to that record
 *   only: nothing synthesized where IPv6 exists;
 * - a name outside the lab does not exist (NXDOMAIN, not a timeout);
 * - the permitted pod fetches from the IPv4-only host by its name (curl in
 *   the pod: DNS64, then its node's NAT64) and the host sees the node's IPv4.
 * The answers come from the cluster's CoreDNS (kubeadm's Deployment, run
 * by the lab's kubelets), which forwards to the provider's IPv4 resolver
 * through NAT64 (lib/render/coredns.ts).
 */
import type { KubeClient } from '../../../kube/client.js';
import { formatAddress, parseAddress, synthesize } from '../../../net/ipv6.js';
import { dnsServiceIP } from '../../../render/kubeadm.js';
import type { LabContext } from '../lab.js';
import { LAB_INTERNET_HOSTS } from '../provider/provider.js';
import type { CheckFn, Families } from './check.js';

export type SandboxPod = {
  metadata: { name: string; namespace?: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { podIP?: string; containerStatuses?: Array<{ containerID?: string }> };
};

/** The pid of the pod's program, from the lab kubelet's container ID (native6-process://<pid>). */
export function podPid(pod: SandboxPod): number | undefined {
  const id = pod.status.containerStatuses?.[0]?.containerID ?? '';
  const m = /^native6-process:\/\/(\d+)$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/** Runs a command in the pod's own file system and network (its mount, network and UTS namespaces, its root), as root. */
export async function inPodSandbox(ctx: LabContext, pod: SandboxPod, command: readonly string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string }> {
  const pid = podPid(pod);
  if (pid === undefined) return { code: -1, stdout: '' };
  const res = await ctx.runner.run('nsenter', ['-t', String(pid), '-m', '-n', '-u', '-r', '-w', '--', ...command], { allowFail: true, timeoutMs });
  return { code: res.code, stdout: res.stdout.trim() };
}

/** `dig` through the pod's resolv.conf: "STATUS answers" (answers sorted), or "no answer". */
async function digInPod(ctx: LabContext, pod: SandboxPod, name: string, type: 'A' | 'AAAA'): Promise<string> {
  const res = await inPodSandbox(ctx, pod, ['dig', '+search', '+time=3', '+tries=2', '+noall', '+comments', '+answer', name, type]);
  const status = /status: ([A-Z]+)/.exec(res.stdout)?.[1];
  if (!status) return 'no answer';
  const records = res.stdout
    .split('\n')
    .filter((l) => !l.startsWith(';') && l.trim())
    .map((l) => l.split(/\s+/))
    .filter((f) => f[3] === type)
    .map((f) => (type === 'AAAA' ? formatAddress(parseAddress(f[4]!)) : f[4]!))
    .sort();
  return `${status} ${records.join(' ') || '(no records)'}`;
}

/** The cluster's DNS, asked from a running pod of the demo's namespaces. */
export async function verifyClusterDns(ctx: LabContext, admin: KubeClient, check: CheckFn, families: Families): Promise<void> {
  const plan = ctx.cluster.plan;
  const pods = (await admin.get<{ items: SandboxPod[] }>('/api/v1/namespaces/egress/pods')).items.filter((p) => podPid(p) !== undefined && p.status.podIP);
  const pod = pods.find((p) => p.metadata.labels?.app === 'ipv6-only') ?? pods[0];
  if (!pod) {
    families.cannot('cluster-dns', 'no running pod in namespace egress to ask from');
    return;
  }
  const resolv = await inPodSandbox(ctx, pod, ['cat', '/etc/resolv.conf']);
  const dnsIP = formatAddress(parseAddress(dnsServiceIP(plan)));
  const ns = pod.metadata.namespace ?? 'egress';
  const wantResolv = `nameserver ${dnsIP}; search ${ns}.svc.cluster.local svc.cluster.local cluster.local; ndots:5`;
  const lines = resolv.stdout.split('\n');
  const seenResolv = [
    lines.filter((l) => l.startsWith('nameserver')).join(', ') || 'no nameserver',
    (lines.find((l) => l.startsWith('search')) ?? 'no search').split(/\s+/).slice(0, 4).join(' '),
    /ndots:\d+/.exec(resolv.stdout)?.[0] ?? 'no ndots',
  ].join('; ');
  check(`dns/pod/resolv-conf`, wantResolv, resolv.code === 0 ? seenResolv : 'cannot read the pod\'s resolv.conf');

  const api = formatAddress(plan.apiServer);
  check('dns/pod/kubernetes.default', `NOERROR ${api}`, await digInPod(ctx, pod, 'kubernetes.default', 'AAAA'));
  const { gitV4, gitDual } = LAB_INTERNET_HOSTS;
  if (plan.nat64) {
    check(`dns/pod/${gitV4.name}-synthesized`, `NOERROR ${synthesize(plan.nat64, gitV4.ipv4)}`, await digInPod(ctx, pod, gitV4.name, 'AAAA'));
  } else {
    check(`dns/pod/${gitV4.name}-no-aaaa`, 'NOERROR (no records)', await digInPod(ctx, pod, gitV4.name, 'AAAA'));
  }
  check(`dns/pod/${gitDual.name}-not-synthesized`, `NOERROR ${formatAddress(parseAddress(gitDual.ipv6))}`, await digInPod(ctx, pod, gitDual.name, 'AAAA'));
  check('dns/pod/outside-the-lab-nxdomain', 'NXDOMAIN (no records)', await digInPod(ctx, pod, 'github.com', 'AAAA'));

  // The whole path by name, as a program in a pod takes it: the permitted pod's curl resolves the A-only
  // host through the cluster's DNS64 and reaches it through its node's NAT64, seen with the node's IPv4.
  const allowed = pods.find((p) => p.metadata.labels?.app === 'ipv4-allowed');
  if (plan.nat64 && allowed) {
    const node = ctx.topology.machines.find((m) => m.machine.name === allowed.spec.nodeName);
    const res = await inPodSandbox(ctx, allowed, ['curl', '-sS', '-m', '5', `http://${gitV4.name}/whoami`]);
    let seen = 'no answer';
    try {
      seen = `seen as ${(JSON.parse(res.stdout) as { client: string }).client.replace(/^::ffff:/, '')}`;
    } catch {
      seen = res.stdout.slice(0, 120) || 'no answer';
    }
    check(`dns/pod/ipv4-allowed-fetches-${gitV4.name}-by-name`, `seen as ${node?.ipv4.address ?? '(its node)'}`, seen);
  }
}
