/**
 * What is the metal platform's in Calico's install (lib/platforms/
 * calicoInstall.ts makes the objects for both kubeadm platforms): how
 * calico-node finds the node's IPv6 address.
 *
 * The address it must find is the machine's own on its uplink
 * (spec.machines[].address, inside its uplink's prefix): the routers'
 * configuration rendered from the same spec expects each node's session
 * from it, and the fabric's BGPPeers send from the node's address
 * (`sourceAddress: UseNodeIP`, lib/render/calico.ts). Machines on different
 * uplinks have different routers, and calico-node's DaemonSet has one pod
 * template for every machine, so no can-reach= address (Equinix Metal's
 * method) fits them all.
 *
 * Calico's cidr= method does: IP6_AUTODETECTION_METHOD=cidr=<prefix>,<prefix>…
 * with every uplink's prefix. Calico v3.28.5 splits the list at commas
 * (node/pkg/lifecycle/startup/autodetection/autodetection_methods.go,
 * AutoDetectCIDR) and takes the first global unicast address inside any of
 * the prefixes (filtered.go FilteredEnumeration: every interface, in the
 * reverse of the kernel's order, each one's addresses as the kernel lists
 * them; no interface is skipped). The uplinks' prefixes do not overlap (the
 * decoder refuses that), so a machine's match is in its own uplink's
 * prefix, whichever interface carries it.
 *
 * What it cannot tell apart: two addresses of the machine inside its
 * uplink's prefix. A router advertising that prefix as autonomous (SLAAC;
 * the bootstrap keeps accept_ra = 2 on the uplink) gives each machine a
 * second one, and either may come first; the routers would refuse a session
 * from the other. Advertise the uplink's prefix without the autonomous flag,
 * or none, on the machines' links.
 */
import { formatPrefix } from '../../net/ipv6.js';
import type { Inventory } from '../../cluster/inventory.js';

/** calico-node's IP6_AUTODETECTION_METHOD on a metal cluster: cidr= every uplink's prefix, in the spec's order. */
export function metalIp6Autodetection(inventory: Pick<Inventory, 'uplinks'>): string {
  if (inventory.uplinks.length === 0) throw new Error('the inventory lists no uplink: calico-node would have no prefix to find its address in');
  return `cidr=${[...new Set(inventory.uplinks.map((u) => formatPrefix(u.prefix)))].join(',')}`;
}
