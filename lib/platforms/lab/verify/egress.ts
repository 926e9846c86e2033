/**
 * Verify's proofs of an IPv6-only cluster in today's internet (issue #14):
 * - the internet's DNS answers as today's does: a name with only an A
 *   record (github.example, as github.com) has no AAAA; a dual-stack name
 *   has both; a name outside the lab does not exist;
 * - every node runs its NAT64 translator (spec.egress.ipv4: nat64): TAYGA
 *   on its TUN device, the cluster's NAT64 prefix routed to it, the node's
 *   IPv4 rules loaded;
 * - who reaches what, with which address, seen by the hosts themselves:
 *   the permitted client (label native6.dev/ipv4-egress) reaches the
 *   IPv4-only host through NAT64 and is seen with its node's IPv4; both
 *   clients reach the IPv6 host natively, seen with their own pod
 *   addresses (IPv6 is never translated); the client without the label is
 *   denied the IPv4-only host although its namespace's policy allows any
 *   address.
 * The clients ask for the address DNS64 gives the name (the NAT64 prefix
 * and the A record, RFC 6052): the cluster's own DNS is not yet in the lab.
 */
import type { KubeClient } from '../../../kube/client.js';
import { formatAddress, formatPrefix, parseAddress, synthesize } from '../../../net/ipv6.js';
import { NAT64_DEVICE, NAT64_TABLE, NAT64_UNIT } from '../../../render/nat64.js';
import { EGRESS_NAMESPACE } from '../../../render/apps.js';
import type { LabContext } from '../lab.js';
import { LAB_INTERNET_HOSTS } from '../provider/provider.js';
import { dig } from '../provider/resolver.js';
import { runOnMachine } from '../machine/machine.js';
import type { CheckFn, Families } from './check.js';
import { inPod, type PodItem } from './probes.js';

export async function verifyInternetDns(ctx: LabContext, check: CheckFn): Promise<void> {
  const ns = ctx.topology.internet.ns;
  const { resolver, gitV4, gitDual } = LAB_INTERNET_HOSTS;
  const show = (a: Awaited<ReturnType<typeof dig>>) => (a ? `${a.status} ${a.records.join(' ') || '(no records)'}` : 'no answer');
  for (const server of [resolver.ipv6, resolver.ipv4]) {
    const at = server.includes(':') ? 'over IPv6' : 'over IPv4';
    check(`dns/internet/${gitV4.name}-a-${at.replace(' ', '-')}`, `NOERROR ${gitV4.ipv4}`, show(await dig(ctx, ns, server, gitV4.name, 'A')));
    check(`dns/internet/${gitV4.name}-no-aaaa-${at.replace(' ', '-')}`, 'NOERROR (no records)', show(await dig(ctx, ns, server, gitV4.name, 'AAAA')));
  }
  check(`dns/internet/${gitDual.name}-aaaa`, `NOERROR ${gitDual.ipv6}`, show(await dig(ctx, ns, resolver.ipv6, gitDual.name, 'AAAA')));
  check('dns/internet/outside-the-lab-nxdomain', 'NXDOMAIN (no records)', show(await dig(ctx, ns, resolver.ipv6, 'github.com', 'AAAA')));
}

/** Every node's translator: its unit active, TAYGA's device up, the prefix routed to it, the IPv4 rules loaded. */
export async function verifyTranslators(ctx: LabContext, check: CheckFn): Promise<void> {
  const prefix = ctx.cluster.plan.nat64;
  if (!prefix) return;
  const probe = synthesize(prefix, LAB_INTERNET_HOSTS.gitV4.ipv4);
  for (const m of ctx.topology.machines) {
    // The lab's systemctl keeps each unit's state in the machine's own /run (a tmpfs of its mount namespace).
    const unit = await runOnMachine(ctx.runner, m.ns, 'cat', [`/run/native6-lab/units/${NAT64_UNIT}`], { allowFail: true });
    const state = unit.code === 0 ? unit.stdout.trim() : 'never started';
    const link = await ctx.runner.run('ip', ['-o', 'link', 'show', NAT64_DEVICE], { ns: m.ns, allowFail: true });
    const route = await ctx.runner.run('ip', ['-6', 'route', 'get', probe], { ns: m.ns, allowFail: true });
    const rules = await ctx.runner.run('nft', ['list', 'table', 'ip', NAT64_TABLE], { ns: m.ns, allowFail: true });
    const observed = [
      `${NAT64_UNIT} ${state}`,
      link.code === 0 && /[<,]UP[,>]/.test(link.stdout) ? `${NAT64_DEVICE} up` : `${NAT64_DEVICE} ${link.code === 0 ? 'down' : 'missing'}`,
      route.stdout.includes(`dev ${NAT64_DEVICE}`) ? `${formatPrefix(prefix)} to ${NAT64_DEVICE}` : `${formatPrefix(prefix)} not routed to ${NAT64_DEVICE}`,
      rules.code === 0 && rules.stdout.includes('masquerade') ? 'IPv4 rules loaded' : 'no IPv4 rules',
    ].join(', ');
    check(`nat64/${m.machine.name}/translator`, `${NAT64_UNIT} active, ${NAT64_DEVICE} up, ${formatPrefix(prefix)} to ${NAT64_DEVICE}, IPv4 rules loaded`, observed);
  }
}

/** Who reaches the IPv4-only and the IPv6 host, and with which source address the host sees them. */
export async function verifyEgressClients(ctx: LabContext, admin: KubeClient, check: CheckFn, families: Families): Promise<void> {
  const prefix = ctx.cluster.plan.nat64;
  if (!prefix) return;
  const pods = (await admin.get<{ items: PodItem[] }>(`/api/v1/namespaces/${EGRESS_NAMESPACE}/pods`)).items.filter((p) => p.status.podIP);
  const client = (app: string) => pods.find((p) => p.metadata.labels?.app === app);
  const allowed = client('ipv4-allowed');
  const v6only = client('ipv6-only');
  if (!allowed || !v6only) {
    families.cannot('ipv4-egress', `the egress demo's clients are not running (namespace ${EGRESS_NAMESPACE}: ${pods.map((p) => p.metadata.name).join(', ') || 'no pods'})`);
    return;
  }
  const { gitV4, gitDual } = LAB_INTERNET_HOSTS;
  const v4url = `http://[${synthesize(prefix, gitV4.ipv4)}]/whoami`;
  const v6url = `http://[${gitDual.ipv6}]/whoami`;
  const seen = async (pod: PodItem, url: string): Promise<string> => {
    const out = await inPod(ctx, pod, ['curl', '-sS', '-m', '4', url]);
    try {
      const c = (JSON.parse(out) as { client: string }).client.replace(/^::ffff:(?=\d+\.)/, '');
      return `seen as ${c.includes(':') ? formatAddress(parseAddress(c)) : c}`;
    } catch {
      return 'no answer';
    }
  };
  const nodeV4 = (pod: PodItem) => ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName)?.ipv4.address ?? '(no node)';
  check(`egress/ipv4-allowed->${gitV4.name}-through-nat64`, `seen as ${nodeV4(allowed)}`, await seen(allowed, v4url));
  check(`egress/ipv4-allowed->${gitDual.name}-over-ipv6`, `seen as ${formatAddress(parseAddress(allowed.status.podIP!))}`, await seen(allowed, v6url));
  check(`egress/ipv6-only->${gitDual.name}-over-ipv6`, `seen as ${formatAddress(parseAddress(v6only.status.podIP!))}`, await seen(v6only, v6url));
  const denied = await seen(v6only, v4url);
  check(`egress/ipv6-only->${gitV4.name}-denied`, 'no answer', denied);
}
