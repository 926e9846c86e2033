/**
 * A CI runner as GitHub hosts them, on the lab's internet: a namespace with
 * IPv4 only (GitHub-hosted runners have no IPv6, larger ones included), one
 * link to the internet namespace, the internet's IPv4 behind it. Apply run
 * there reaches the cluster only as it reaches a real one from a hosted
 * runner: through the control planes' IPv4 (lib/workflows/apiWays.ts).
 *
 *   runner (n6-<c>_run) 192.0.2.201/31 ── internet 192.0.2.200/31, routes the machines' /31s to the routers
 *
 * Documentation addresses only (RFC 5737). `lab down` removes it with the
 * lab's other namespaces (n6-<c>_*).
 */
import type { Runner } from '../../../exec/run.js';
import { ensureAddressV4, ensureNamespace, ensureRouteV4, ensureVeth, linkUp, sysctl } from '../machine/netns.js';
import { infraNs, type LabTopology } from '../topology.js';

/** The runner's end of its link, and the internet's. */
export const LAB_RUNNER_V4 = { runner: '192.0.2.201', internet: '192.0.2.200' } as const;

export interface LabRunner {
  readonly ns: string;
  readonly address: string;
}

/** The runner namespace of this lab, made once (idempotent); the lab's internet must exist. */
export async function ensureLabRunner(r: Runner, t: LabTopology): Promise<LabRunner> {
  const ns = infraNs(t.cluster, 'run');
  await ensureNamespace(r, ns);
  // No IPv6 at all, as on a hosted runner: not even a link-local address on its link.
  await sysctl(r, ns, { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' });
  await ensureVeth(r, { ns, ifname: 'eth0' }, { ns: t.internet.ns, ifname: 'runner' });
  await sysctl(r, ns, { 'net.ipv6.conf.eth0.disable_ipv6': '1' });
  await ensureAddressV4(r, ns, 'eth0', `${LAB_RUNNER_V4.runner}/31`);
  await ensureAddressV4(r, t.internet.ns, 'runner', `${LAB_RUNNER_V4.internet}/31`);
  await linkUp(r, ns, 'lo');
  await linkUp(r, ns, 'eth0');
  await linkUp(r, t.internet.ns, 'runner');
  await ensureRouteV4(r, ns, ['default', 'via', LAB_RUNNER_V4.internet, 'dev', 'eth0']);
  return { ns, address: LAB_RUNNER_V4.runner };
}
