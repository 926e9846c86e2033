/**
 * Building the lab's wires: namespaces, links, addresses and static routes
 * of the provider side (routers, internet) and of every machine. Idempotent.
 */
import type { Runner } from '../../../exec/run.js';
import { ensureAddress, ensureAddressV4, ensureNamespace, ensureRoute, ensureRouteV4, ensureVeth, linkExists, linkUp, sysctl } from '../machine/netns.js';
import { LAB_INTERNET_HOSTS, LAB_INTERNET_V4, LAB_MACHINE_V4_RANGES, type InternetHost } from './provider.js';
import { routerPair, type LabTopology } from '../topology.js';

/** Flows are hashed on ports too, so ECMP spreads them over the machines. */
const ECMP_SYSCTLS = { 'net.ipv6.fib_multipath_hash_policy': '1' };
/** The provider's side forwards IPv4 too (a new namespace does not); reverse-path checks loose, as a machine's /31 sits on two links. */
const PROVIDER_V4_SYSCTLS = { 'net.ipv4.ip_forward': '1', 'net.ipv4.fib_multipath_hash_policy': '1', 'net.ipv4.conf.all.rp_filter': '2', 'net.ipv4.conf.default.rp_filter': '2' };

export async function buildProvider(r: Runner, t: LabTopology): Promise<void> {
  const { r1, r2, interRouter } = routerPair(t);
  const inet = t.internet;
  for (const ns of [inet.ns, r1.ns, r2.ns]) {
    await ensureNamespace(r, ns);
    await sysctl(r, ns, { ...ECMP_SYSCTLS, ...PROVIDER_V4_SYSCTLS });
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
    // IPv4: the same uplink, and the internet's IPv4 hosts behind it.
    await ensureAddressV4(r, router.ns, router.uplink.ifname, `${router.uplinkV4.address}/31`);
    await ensureAddressV4(r, inet.ns, inetSide, `${router.uplinkV4.peer}/31`);
    await ensureRouteV4(r, router.ns, [LAB_INTERNET_V4, 'via', router.uplinkV4.peer, 'dev', router.uplink.ifname]);
  }
  // router <-> router
  await ensureVeth(r, { ns: r1.ns, ifname: 'peer' }, { ns: r2.ns, ifname: 'peer' });
  await ensureAddress(r, r1.ns, 'peer', `${interRouter.r1}/127`);
  await ensureAddress(r, r2.ns, 'peer', `${interRouter.r2}/127`);
  await linkUp(r, r1.ns, 'peer');
  await linkUp(r, r2.ns, 'peer');
  await ensureRoute(r, r1.ns, [`${r2.peerIP}/128`, 'via', interRouter.r2, 'dev', 'peer']);
  await ensureRoute(r, r2.ns, [`${r1.peerIP}/128`, 'via', interRouter.r1, 'dev', 'peer']);
  // The internet's hosts, and its way to the cluster: through both routers.
  for (const a of [inet.client, inet.metadata, ...internetHosts().v6]) await ensureAddress(r, inet.ns, 'lo', `${a}/128`);
  for (const a of [inet.clientV4, ...internetHosts().v4]) await ensureAddressV4(r, inet.ns, 'lo', `${a}/32`);
  // The machines' IPv4 /31s, through both routers.
  for (const range of LAB_MACHINE_V4_RANGES) {
    await ensureRouteV4(r, inet.ns, [range, 'src', inet.clientV4, 'nexthop', 'via', r1.uplinkV4.address, 'dev', 'r1', 'nexthop', 'via', r2.uplinkV4.address, 'dev', 'r2']);
  }
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

/** The internet's hosts' addresses (LAB_INTERNET_HOSTS: the resolver, the git hosts), on its loopback. */
function internetHosts(): { v4: string[]; v6: string[] } {
  const hosts: InternetHost[] = Object.values(LAB_INTERNET_HOSTS);
  return { v4: hosts.flatMap((h) => (h.ipv4 ? [h.ipv4] : [])), v6: hosts.flatMap((h) => (h.ipv6 ? [h.ipv6] : [])) };
}

export async function buildMachines(r: Runner, t: LabTopology): Promise<void> {
  for (const m of t.machines) {
    await ensureNamespace(r, m.ns);
    await sysctl(r, m.ns, { ...ECMP_SYSCTLS, 'net.ipv4.fib_multipath_hash_policy': '1', 'net.ipv4.conf.all.rp_filter': '2', 'net.ipv4.conf.default.rp_filter': '2' });
    for (const router of t.routers) {
      const ifname = `eth${router.index - 1}`;
      await ensureVeth(r, { ns: router.ns, ifname: m.routerIfname }, { ns: m.ns, ifname });
      await ensureAddress(r, router.ns, m.routerIfname, `${m.gateway}/127`);
      await ensureAddress(r, m.ns, ifname, `${m.address}/127`);
      await ensureAddressV4(r, router.ns, m.routerIfname, `${m.ipv4.gateway}/31`);
      await ensureAddressV4(r, m.ns, ifname, `${m.ipv4.address}/31`);
      await linkUp(r, router.ns, m.routerIfname);
      await linkUp(r, m.ns, ifname);
    }
    // The machine's public IPv4, for egress: a default over both links, as the provider's image configures it.
    await r.run('ip', ['-4', 'route', 'replace', 'default', 'nexthop', 'via', m.ipv4.gateway, 'dev', 'eth0', 'nexthop', 'via', m.ipv4.gateway, 'dev', 'eth1'], { ns: m.ns });
    // The provider's static default over both links (Equinix Metal configures one on every device).
    // Metric 4096, not the kernel's 1024: BIRD 1.6 installs its routes without a metric, which IPv6
    // turns into 1024, and a static default there makes BIRD's "File exists". The BGP default wins.
    await r.run('ip', ['-6', 'route', 'replace', 'default', 'proto', 'static', 'metric', '4096', 'nexthop', 'via', m.gateway, 'dev', 'eth0', 'nexthop', 'via', m.gateway, 'dev', 'eth1'], { ns: m.ns });
  }
}
