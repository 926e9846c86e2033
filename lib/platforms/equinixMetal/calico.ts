/**
 * What is Equinix Metal's in Calico's install (lib/platforms/calicoInstall.ts
 * makes the objects for both kubeadm platforms): how calico-node finds the
 * node's IPv6 address.
 *
 * IP6_AUTODETECTION_METHOD=can-reach=fc00::e: the address the node uses to
 * reach the provider's IPv6 BGP router, which is the address the provider
 * expects the session from (the neighbor's customer_ip, the device's public
 * /127 on bond0; a wrong source address is a known provider bug class).
 * node/pkg/lifecycle/startup/autodetection/reachaddr.go opens a UDP socket
 * towards it (no packet is sent) and takes the kernel's source address,
 * which must be on an interface. On Equinix Metal that is bond0's public
 * address whether the /128 route the boot script adds (via the gateway on
 * bond0) or the default route (also bond0) answers, and it does not depend
 * on the interface's name or on the order of addresses on it.
 * interface=^bond0$ would work on Equinix's Ubuntu images too, but takes the
 * first global address on bond0 in enumeration order (an Elastic IP added
 * there could win) and breaks on images that name the bond otherwise. Every
 * device peers with the same two routers, so the one DaemonSet template
 * fits every node.
 */

/** Equinix Metal's IPv6 multihop BGP router (its pair is fc00::f). */
export const METAL_BGP_PEER = 'fc00::e';
/** calico-node's IP6_AUTODETECTION_METHOD on Equinix Metal. */
export const EQUINIX_METAL_IP6_AUTODETECTION = `can-reach=${METAL_BGP_PEER}`;
