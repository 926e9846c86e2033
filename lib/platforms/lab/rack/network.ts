/**
 * Building a rack lab's wires (rack/topology.ts): the switch namespace and
 * a bridge per uplink, the internet namespace (the upstream), each router
 * with its link to the internet and its port on its uplink, and each
 * machine's one link with the address, IPv4 and static defaults the user's
 * machine has configured before anything of ours runs. Idempotent.
 */
import type { Runner } from '../../../exec/run.js';
import { ensureAddress, ensureAddressV4, ensureNamespace, ensureRoute, ensureRouteV4, ensureVeth, linkExists, linkUp, sysctl } from '../machine/netns.js';
import { LAB_INTERNET_HOSTS, LAB_INTERNET_V4, type InternetHost } from '../provider/provider.js';
import type { LabTopology, MachineNode } from '../topology.js';
import { rackRouters, type RackFabric } from './topology.js';

/** Flows hashed on ports too (ECMP over the machines); IPv4 forwarded by the provider's side. */
const ROUTER_SYSCTLS = {
  'net.ipv6.fib_multipath_hash_policy': '1',
  'net.ipv4.ip_forward': '1',
  'net.ipv4.fib_multipath_hash_policy': '1',
  'net.ipv4.conf.all.rp_filter': '2',
  'net.ipv4.conf.default.rp_filter': '2',
};

function rackOf(t: LabTopology): RackFabric {
  if (!t.rack) throw new Error(`${t.cluster} is not a rack lab`);
  return t.rack;
}

/** The switch (its bridges), the internet, the routers and their links. */
export async function buildRack(r: Runner, t: LabTopology): Promise<void> {
  const rack = rackOf(t);
  const inet = t.internet;
  await ensureNamespace(r, rack.switchNs);
  for (const u of rack.uplinks) {
    if (!(await linkExists(r, rack.switchNs, u.bridge))) await r.run('ip', ['link', 'add', u.bridge, 'type', 'bridge'], { ns: rack.switchNs });
    await linkUp(r, rack.switchNs, u.bridge);
  }
  await ensureNamespace(r, inet.ns);
  await sysctl(r, inet.ns, ROUTER_SYSCTLS);
  for (const router of rackRouters(t)) {
    const uplink = rack.uplinks.find((u) => u.name === router.lan.uplink)!;
    const inetSide = `t${router.index}`;
    await ensureNamespace(r, router.ns);
    await sysctl(r, router.ns, ROUTER_SYSCTLS);
    // Its link to the internet (the upstream): IPv6 /127 and IPv4 /31, router even.
    await ensureVeth(r, { ns: router.ns, ifname: router.uplink.ifname }, { ns: inet.ns, ifname: inetSide });
    await ensureAddress(r, router.ns, router.uplink.ifname, `${router.uplink.address}/127`);
    await ensureAddress(r, inet.ns, inetSide, `${router.uplink.peer}/127`);
    await ensureAddressV4(r, router.ns, router.uplink.ifname, `${router.uplinkV4.address}/31`);
    await ensureAddressV4(r, inet.ns, inetSide, `${router.uplinkV4.peer}/31`);
    await linkUp(r, router.ns, router.uplink.ifname);
    await linkUp(r, inet.ns, inetSide);
    await ensureRouteV4(r, router.ns, [LAB_INTERNET_V4, 'via', router.uplinkV4.peer, 'dev', router.uplink.ifname]);
    // Its port on the uplink: its own address, and the gateways its uplink's first router holds.
    await ensureVeth(r, { ns: router.ns, ifname: router.lan.ifname }, { ns: rack.switchNs, ifname: router.lan.switchIfname });
    await r.run('ip', ['link', 'set', router.lan.switchIfname, 'master', uplink.bridge], { ns: rack.switchNs });
    await linkUp(r, rack.switchNs, router.lan.switchIfname);
    await ensureAddress(r, router.ns, router.lan.ifname, `${router.peerIP}/${router.lan.prefixLength}`);
    if (router.holds.gateway) await ensureAddress(r, router.ns, router.lan.ifname, `${router.holds.gateway}/${router.lan.prefixLength}`);
    if (router.holds.ipv4Gateway && uplink.ipv4) {
      await ensureAddressV4(r, router.ns, router.lan.ifname, `${router.holds.ipv4Gateway}/${uplink.ipv4.length}`);
      // The provider routes the uplink's IPv4 statically to the router holding its gateway; nothing announces IPv4.
      await ensureRouteV4(r, inet.ns, [uplink.ipv4.prefix, 'via', router.uplinkV4.address, 'dev', inetSide]);
    }
    await linkUp(r, router.ns, router.lan.ifname);
  }
  // The internet's hosts, on its loopback (IPv6 is routed by BGP from here on: the upstream learns the rest).
  for (const a of [inet.client, inet.metadata, ...internetHosts().v6]) await ensureAddress(r, inet.ns, 'lo', `${a}/128`);
  for (const a of [inet.clientV4, ...internetHosts().v4]) await ensureAddressV4(r, inet.ns, 'lo', `${a}/32`);
}

/** The host's way in: its veth to the internet (buildHostAccess), and the uplinks (apply's SSH) through it. */
export async function rackHostRoutes(r: Runner, t: LabTopology): Promise<void> {
  for (const u of rackOf(t).uplinks) await r.run('ip', ['-6', 'route', 'replace', u.prefix, 'via', t.host.inetAddress, 'dev', t.host.ifname]);
}

function internetHosts(): { v4: string[]; v6: string[] } {
  const hosts: InternetHost[] = Object.values(LAB_INTERNET_HOSTS);
  return { v4: hosts.flatMap((h) => (h.ipv4 ? [h.ipv4] : [])), v6: hosts.flatMap((h) => (h.ipv6 ? [h.ipv6] : [])) };
}

/**
 * The machines as their owner configured them: one link on their uplink with
 * the address the spec lists and its IPv4, a static default to the uplink's
 * gateway (metric 4096: the BGP default wins once the node has it, as on the
 * lab's own machines) and the IPv4 default.
 */
export async function buildRackMachines(r: Runner, t: LabTopology, machines: readonly MachineNode[] = t.machines): Promise<void> {
  const rack = rackOf(t);
  for (const m of machines) {
    const uplink = rack.uplinks.find((u) => u.name === m.uplink);
    if (!uplink) throw new Error(`${m.machine.name}: no uplink ${m.uplink ?? '(none)'} in the rack lab`);
    await ensureNamespace(r, m.ns);
    await sysctl(r, m.ns, { 'net.ipv6.fib_multipath_hash_policy': '1', 'net.ipv4.fib_multipath_hash_policy': '1' });
    await ensureVeth(r, { ns: m.ns, ifname: 'eth0' }, { ns: rack.switchNs, ifname: m.routerIfname });
    await r.run('ip', ['link', 'set', m.routerIfname, 'master', uplink.bridge], { ns: rack.switchNs });
    await linkUp(r, rack.switchNs, m.routerIfname);
    await ensureAddress(r, m.ns, 'eth0', `${m.address}/${m.prefixLength}`);
    await ensureAddressV4(r, m.ns, 'eth0', `${m.ipv4.address}/${m.ipv4.prefixLength}`);
    await linkUp(r, m.ns, 'eth0');
    await ensureRouteV4(r, m.ns, ['default', 'via', m.ipv4.gateway, 'dev', 'eth0']);
    await ensureRoute(r, m.ns, ['default', 'proto', 'static', 'metric', '4096', 'via', m.gateway, 'dev', 'eth0']);
  }
}
