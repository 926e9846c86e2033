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
 *   address;
 * - denied, not timed out by accident: the rule that denied it is shown by
 *   its own counter, read on the pod's node in the policy table before and
 *   after the request (the baseline's guard, egress rule 0);
 * - a namespace made while verify runs, after render, with no policy of its
 *   own, gets no IPv4 egress either: its pod is denied by the same rule
 *   (the namespace is deleted afterwards, whatever happened).
 * The clients ask for the address DNS64 gives the name (the NAT64 prefix
 * and the A record, RFC 6052), so that these proofs stand apart from the
 * cluster's DNS, which dns.ts proves (a pod fetching by name included).
 */
import { randomBytes } from 'node:crypto';
import { KubeError, type KubeClient } from '../../../kube/client.js';
import { formatAddress, formatPrefix, parseAddress, synthesize } from '../../../net/ipv6.js';
import { NAT64_DEVICE, NAT64_TABLE, NAT64_UNIT } from '../../../render/nat64.js';
import { EGRESS_NAMESPACE } from '../../../render/apps.js';
import type { LabContext } from '../lab.js';
import { LAB_INTERNET_HOSTS } from '../provider/provider.js';
import { dig } from '../provider/resolver.js';
import { runOnMachine } from '../machine/machine.js';
import { dropComment, POLICY_TABLE } from '../calicoNode/policy.js';
import { describeDrop, dropsBetween, ListingError, parsePolicyListing, type PolicyListing } from '../calicoNode/policyCounters.js';
import type { CheckFn, Families } from './check.js';
import { inPod, type PodItem } from './probes.js';
import { CREATED_BY, deleteLeftNamespaces, deleteNamespace, startClient, waitFor } from './tenant.js';

/**
 * The rule that keeps a workload without the label off the IPv4 internet:
 * the baseline's guard (lib/render/policies.ts, written to
 * policies/baseline/guard-ipv4-egress.yaml), its first egress rule, Deny to
 * the NAT64 network set.
 */
export const IPV4_GUARD = { policy: 'baseline-guard-ipv4-egress', direction: 'egress', rule: 0 } as const;

/** The guard's drop comment in the policy table (lib/platforms/lab/calicoNode/policy.ts). */
const GUARD_COMMENT = dropComment(IPV4_GUARD.policy, IPV4_GUARD.direction, IPV4_GUARD.rule);

/** A denial by the guard, as verify expects to observe it on a node (N: any number of packets but 0). */
export function guardExpected(node: string): string {
  return `no answer; dropped on ${node} by ${describeDrop(GUARD_COMMENT)}, +N packets`;
}

/** What a check expects, what it observed, and whether that holds. */
type Outcome = { expected: string; observed: string; ok: boolean };

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
  const nodeV4 = (pod: PodItem) => ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName)?.ipv4.address ?? '(no node)';
  check(`egress/ipv4-allowed->${gitV4.name}-through-nat64`, `seen as ${nodeV4(allowed)}`, await seen(ctx, allowed, v4url));
  check(`egress/ipv4-allowed->${gitDual.name}-over-ipv6`, `seen as ${formatAddress(parseAddress(allowed.status.podIP!))}`, await seen(ctx, allowed, v6url));
  check(`egress/ipv6-only->${gitDual.name}-over-ipv6`, `seen as ${formatAddress(parseAddress(v6only.status.podIP!))}`, await seen(ctx, v6only, v6url));
  const denied = await deniedByRule(ctx, v6only, v4url);
  check(`egress/ipv6-only->${gitV4.name}-denied`, denied.expected, denied.observed, denied.ok);
}

/** Asks the lab's /whoami from a pod: the address the host saw, or "no answer". */
async function seen(ctx: LabContext, pod: PodItem, url: string): Promise<string> {
  const out = await inPod(ctx, pod, ['curl', '-sS', '-m', '4', url]);
  try {
    const c = (JSON.parse(out) as { client: string }).client.replace(/^::ffff:(?=\d+\.)/, '');
    return `seen as ${c.includes(':') ? formatAddress(parseAddress(c)) : c}`;
  } catch {
    return 'no answer';
  }
}

/** A node's policy table, its counters as they stand; or why it cannot be read. */
export async function policyListing(ctx: LabContext, ns: string): Promise<PolicyListing | string> {
  const res = await ctx.runner.run('nft', ['-j', 'list', 'table', 'ip6', POLICY_TABLE], { ns, allowFail: true, timeoutMs: 10_000 });
  if (res.code !== 0) return `nft -j list table ip6 ${POLICY_TABLE}: ${(res.stderr || res.stdout).trim() || `exit ${res.code}`}`;
  try {
    return parsePolicyListing(res.stdout);
  } catch (e) {
    if (e instanceof ListingError) return e.message;
    throw e;
  }
}

/** How many times a request is asked again when the agent re-applied the table (and reset its counters) meanwhile. */
const REAPPLIED_TRIES = 3;

/**
 * A pod's request to the IPv4-only host, with the counters of the pod's
 * egress chain on its node read before and after it: denied means no
 * answer, and the guard's rule, and no other, counted packets. The lab's
 * agent re-applies the table (every counter from 0) when the policy changes
 * and every 30 s; a request during which it did is asked again.
 */
async function deniedByRule(ctx: LabContext, pod: PodItem, url: string): Promise<Outcome> {
  const node = ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName);
  const on = pod.spec.nodeName ?? '(no node)';
  const expected = guardExpected(on);
  if (!node) return { expected, observed: `the pod is on ${on}, not a machine of the lab`, ok: false };
  const address = formatAddress(parseAddress(pod.status.podIP!));
  for (let attempt = 1; ; attempt++) {
    const before = await policyListing(ctx, node.ns);
    const answer = await seen(ctx, pod, url);
    const after = await policyListing(ctx, node.ns);
    if (typeof before === 'string' || typeof after === 'string') return { expected, observed: `${answer}; ${typeof before === 'string' ? before : after}`, ok: false };
    const chain = after.egressChains.get(address);
    if (!chain) return { expected, observed: `${answer}; ${address} has no egress chain in ${POLICY_TABLE} on ${on}`, ok: false };
    const counted = dropsBetween(before, after, chain);
    if (counted.reapplied) {
      if (attempt < REAPPLIED_TRIES) {
        ctx.log(`verify: ${POLICY_TABLE} on ${on} was re-applied during ${pod.metadata.name}'s request (its counters reset): asked again`);
        continue;
      }
      return { expected, observed: `${answer}; ${POLICY_TABLE} on ${on} was re-applied during each of ${REAPPLIED_TRIES} requests: its counters cannot say`, ok: false };
    }
    return denialOutcome(on, chain, answer, counted.grew);
  }
}

/**
 * The denial's outcome from the pod's answer and what its egress chain's
 * counters counted meanwhile: denied is no answer, and the guard's rule,
 * and no other, counted packets.
 */
export function denialOutcome(node: string, chain: string, answer: string, grew: ReadonlyArray<{ readonly comment: string; readonly packets: number }>): Outcome {
  const drops = grew.map((d) => `dropped on ${node} by ${describeDrop(d.comment)}, +${d.packets} packet${d.packets === 1 ? '' : 's'}`);
  const observed = [answer, ...(drops.length > 0 ? drops : [`no drop counted in its egress chain (${chain}) on ${node}`])].join('; ');
  return { expected: guardExpected(node), observed, ok: answer === 'no answer' && grew.length === 1 && grew[0]!.comment === GUARD_COMMENT && grew[0]!.packets > 0 };
}

/**
 * A namespace made now, after render, with nothing of its own but a pod
 * (agnhost netexec, the one program the lab's kubelet runs), gets no IPv4
 * egress: its pod's request to the IPv4-only host is denied by the guard's
 * rule, as the rule's counter shows. The namespace is deleted afterwards,
 * even when a step failed; one an interrupted verify left is deleted first.
 */
export async function verifyNewNamespaceEgress(ctx: LabContext, admin: KubeClient, check: CheckFn): Promise<void> {
  const prefix = ctx.cluster.plan.nat64;
  if (!prefix) return;
  const { gitV4 } = LAB_INTERNET_HOSTS;
  const name = `verify-new-${randomBytes(3).toString('hex')}`;
  await deleteLeftNamespaces(ctx, admin);
  let outcome: Outcome;
  try {
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...CREATED_BY } } });
    outcome = await deniedInNewNamespace(ctx, admin, name, `http://[${synthesize(prefix, gitV4.ipv4)}]/whoami`);
  } catch (e) {
    if (!(e instanceof KubeError)) throw e;
    outcome = { expected: guardExpected('its node'), observed: `the API refused: ${e.message}`, ok: false };
  } finally {
    await deleteNamespace(ctx, admin, name);
  }
  check(`egress/new-namespace->${gitV4.name}-denied`, outcome.expected, outcome.observed, outcome.ok);
}

/** The new namespace's pod, running and policed on its node, asks the IPv4-only host. */
async function deniedInNewNamespace(ctx: LabContext, admin: KubeClient, namespace: string, url: string): Promise<Outcome> {
  const pod = await startClient(admin, namespace, {});
  if (typeof pod === 'string') return { expected: guardExpected('its node'), observed: pod, ok: false };
  const on = pod.spec.nodeName ?? '(no node)';
  const node = ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName);
  // Until its node's agent has compiled the pod's chain (a round of about 1 s), its packets meet no policy.
  const address = formatAddress(parseAddress(pod.status.podIP!));
  const chained =
    node !== undefined &&
    (await waitFor(20_000, async () => {
      const listing = await policyListing(ctx, node.ns);
      return typeof listing !== 'string' && listing.egressChains.has(address);
    }));
  if (!chained) return { expected: guardExpected(on), observed: `${namespace}/${pod.metadata.name} (${address}) has no egress chain in ${POLICY_TABLE} on ${on} after 20 s`, ok: false };
  return deniedByRule(ctx, pod, url);
}
