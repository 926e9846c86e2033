/**
 * Building the lab's wires: namespaces, links, addresses and static routes
 * of the provider side (routers, internet) and of every machine. Idempotent.
 */
import type { Runner } from '../../../exec/run.js';
import { ensureAddress, ensureNamespace, ensureRoute, ensureVeth, linkExists, linkUp, sysctl } from '../machine/netns.js';
import type { LabTopology } from '../topology.js';

/** Flows are hashed on ports too, so ECMP spreads them over the machines. */
const ECMP_SYSCTLS = { 'net.ipv6.fib_multipath_hash_policy': '1' };

export async function buildProvider(r: Runner, t: LabTopology): Promise<void> {
  const [r1, r2] = t.routers;
  const inet = t.internet;
  for (const ns of [inet.ns, r1.ns, r2.ns]) {
    await ensureNamespace(r, ns);
    await sysctl(r, ns, ECMP_SYSCTLS);
  }
  // internet <-> each router
  for (const router of t.routers) {
    const inetSide = `r${router.index}`;
    await ensureVeth(r, { ns: router.ns, ifname: router.uplink.ifname }, { ns: inet.ns, ifname: inetSide });
    await ensureAddress(r, router.ns, router.uplink.ifname, `${router.uplink.address}/127`);
    await ensureAddress(r, inet.ns, inetSide, `${router.uplink.peer}/127`);
    await linkUp(r, router.ns, router.uplink.ifname);
    await linkUp(r, inet.ns, inetSide);
    await ensureAddress(r, router.ns, 'lo', `${router.peerIP}/128`);
    await ensureRoute(r, router.ns, [inet.prefix, 'via', router.uplink.peer, 'dev', router.uplink.ifname]);
    await ensureRoute(r, router.ns, [t.host.linkPrefix, 'via', router.uplink.peer, 'dev', router.uplink.ifname]);
  }
  // router <-> router
  await ensureVeth(r, { ns: r1.ns, ifname: 'peer' }, { ns: r2.ns, ifname: 'peer' });
  await ensureAddress(r, r1.ns, 'peer', `${t.interRouter.r1}/127`);
  await ensureAddress(r, r2.ns, 'peer', `${t.interRouter.r2}/127`);
  await linkUp(r, r1.ns, 'peer');
  await linkUp(r, r2.ns, 'peer');
  await ensureRoute(r, r1.ns, [`${r2.peerIP}/128`, 'via', t.interRouter.r2, 'dev', 'peer']);
  await ensureRoute(r, r2.ns, [`${r1.peerIP}/128`, 'via', t.interRouter.r1, 'dev', 'peer']);
  // The internet's hosts, and its way to the cluster: through both routers.
  for (const a of [inet.client, inet.metadata, ...extraInternetHosts]) await ensureAddress(r, inet.ns, 'lo', `${a}/128`);
  // The client address is the source of everything the internet sends the cluster: tests need not bind
  // to it (binding before connecting picks ports that collide with connections still in TIME_WAIT).
  await ensureRoute(r, inet.ns, [t.block, 'src', inet.client, 'nexthop', 'via', r1.uplink.address, 'dev', 'r1', 'nexthop', 'via', r2.uplink.address, 'dev', 'r2']);
}

/** The host's veth into the internet namespace, and a host route to the cluster's block through it. */
export async function buildHostAccess(r: Runner, t: LabTopology): Promise<void> {
  if (!(await linkExists(r, undefined, t.host.ifname))) {
    await r.run('ip', ['link', 'add', t.host.ifname, 'type', 'veth', 'peer', 'name', 'n6tmphost']);
    await r.run('ip', ['link', 'set', 'n6tmphost', 'netns', t.internet.ns]);
    await r.run('ip', ['link', 'set', 'n6tmphost', 'name', 'host'], { ns: t.internet.ns });
  }
  await r.run('ip', ['-6', 'addr', 'replace', `${t.host.address}/127`, 'dev', t.host.ifname, 'nodad']);
  await ensureAddress(r, t.internet.ns, 'host', `${t.host.inetAddress}/127`);
  await r.run('ip', ['link', 'set', t.host.ifname, 'up']);
  await linkUp(r, t.internet.ns, 'host');
  await r.run('ip', ['-6', 'route', 'replace', t.block, 'via', t.host.inetAddress, 'dev', t.host.ifname]);
}

/** The lab's git server (LAB_GIT_URL) also lives in the internet namespace. */
const extraInternetHosts = ['2001:db8:ffff:1::2'];

export async function buildMachines(r: Runner, t: LabTopology): Promise<void> {
  for (const m of t.machines) {
    await ensureNamespace(r, m.ns);
    await sysctl(r, m.ns, ECMP_SYSCTLS);
    for (const router of t.routers) {
      const ifname = `eth${router.index - 1}`;
      await ensureVeth(r, { ns: router.ns, ifname: m.routerIfname }, { ns: m.ns, ifname });
      await ensureAddress(r, router.ns, m.routerIfname, `${m.gateway}/127`);
      await ensureAddress(r, m.ns, ifname, `${m.address}/127`);
      await linkUp(r, router.ns, m.routerIfname);
      await linkUp(r, m.ns, ifname);
    }
    // The provider's static default over both links (Equinix Metal configures one on every device).
    // Metric 4096, not the kernel's 1024: BIRD 1.6 installs its routes without a metric, which IPv6
    // turns into 1024, and a static default there makes BIRD's "File exists". The BGP default wins.
    await r.run('ip', ['-6', 'route', 'replace', 'default', 'proto', 'static', 'metric', '4096', 'nexthop', 'via', m.gateway, 'dev', 'eth0', 'nexthop', 'via', m.gateway, 'dev', 'eth1'], { ns: m.ns });
  }
}
