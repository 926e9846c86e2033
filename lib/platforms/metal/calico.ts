/**
 * What is the metal platform's in Calico's install (lib/platforms/
 * calicoInstall.ts makes the objects for both kubeadm platforms): how
 * calico-node finds the node's IPv6 address.
 *
 * The address it must find is the machine's own on its uplink
 * (spec.machines[].address): the routers' configuration rendered from the
 * same spec expects each node's session from it, and the fabric's BGPPeers
 * send from the node's address (`sourceAddress: UseNodeIP`,
 * lib/render/calico.ts). calico-node's DaemonSet has one pod template for
 * every machine, and machines on different uplinks have different routers,
 * so no can-reach= address (Equinix Metal's method) fits them all.
 *
 * IP6_AUTODETECTION_METHOD=kubernetes-internal-ip names, rather than
 * searches for, that address. calico-node reads its Kubernetes Node at
 * startup (node/pkg/lifecycle/startup/startup.go, the in-cluster client it
 * has anyway) and takes the Node's first InternalIP of the family asked
 * for (autodetection_methods.go autoDetectUsingK8sInternalIP), with the
 * prefix length of the interface address equal to it (GetLocalCIDR). An
 * InternalIP that no interface holds comes back without a prefix length,
 * fails to parse as a CIDR, and a node with no IPv6 address recorded yet
 * stops at "Failed to autodetect an IPv6 address" (configureIPsAndSubnets)
 * rather than run with the wrong one (all of it as Calico v3.28.5's
 * source reads, node/pkg/lifecycle/startup/ in the pinned module, whose
 * manifest is the one calicoInstall.ts adjusts).
 *
 * What it relies on: the Node's IPv6 InternalIP is the spec's address.
 * Every kubeadm configuration sets the kubelet's node-ip to the machine's
 * address (lib/render/kubeadm.ts nodeRegistration), and on metal that
 * address is spec.machines[].address, put in by the boot script from the
 * spec (platform.ts listedDiscovery, which first checks the machine holds
 * it, or fails the boot) or already filled in over SSH (filledFiles). With
 * node-ip set and no cloud provider, the kubelet records exactly that
 * address as the only InternalIP, after checking an interface holds it
 * (kubernetes pkg/kubelet/nodestatus/setters.go NodeAddress,
 * kubelet_node_status.go validateNodeIP). test/unit/metalNodeIp.test.ts
 * ties the two together for every machine of infra/colo.yaml.
 *
 * What this avoids: the cidr= method (every uplink's prefix) took the first
 * global address inside a prefix, so a machine with a second address in
 * its uplink's prefix (SLAAC from a router advertising it as autonomous;
 * the bootstrap keeps accept_ra = 2 on the uplink) could have the wrong one
 * picked, and its routers would refuse the session. Other addresses on the
 * machine no longer matter; the method does not depend on interface names,
 * address order or the uplinks' prefixes.
 */

/** calico-node's IP6_AUTODETECTION_METHOD on a metal cluster: the Node's InternalIP, the kubelet's node-ip (see the header). */
export const METAL_IP6_AUTODETECTION = 'kubernetes-internal-ip';
