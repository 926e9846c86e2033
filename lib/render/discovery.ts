/**
 * How a machine learns what its platform numbered (NodeDiscovery, the one
 * part of the bootstrap a platform gives): from a metadata service that
 * answers the asking machine its own document in Equinix Metal's shape
 * (`network.addresses`, `bgp_neighbors`). Equinix Metal's
 * metadata.platformequinix.com is one; the lab's metadata service, which
 * serves the same shape, is another.
 */
import type { NodeDiscovery } from './bootstrap.js';

const PUBLIC_V6 = '[.network.addresses[] | select(.address_family == 6 and .public)][0]';

export interface MetadataDiscoveryOptions {
  /**
   * Whether the BGP peers are reached through the gateway by a route per
   * peer (Equinix Metal: fc00::e and fc00::f, off the bonded link). False
   * where the platform's own routes reach them already (the lab: a default
   * over both links, its stand-in for Equinix Metal's bond).
   */
  readonly routePeers: boolean;
}

/** The machine's address, gateway and IPv6 BGP peers from the metadata document at `url`; the block its address comes from (parent_block) when the plan needs it. */
export function metadataDiscovery(url: string, options: MetadataDiscoveryOptions): NodeDiscovery {
  return {
    lines: [
      `meta=$(curl -fsS --retry 20 --retry-delay 3 --retry-all-errors ${url})`,
      `addr=$(jq -r '${PUBLIC_V6}.address' <<<"$meta")`,
      `gw=$(jq -r '${PUBLIC_V6}.gateway' <<<"$meta")`,
      `peers=$(jq -r '[.bgp_neighbors[] | select(.address_family == 6) | .peer_ips[]] | join(" ")' <<<"$meta")`,
      ...(options.routePeers ? [] : ['routed=']),
    ],
    block: [`block=$(jq -r '${PUBLIC_V6}.parent_block | if . == null then "" else "\\(.network)/\\(.cidr)" end' <<<"$meta")`],
  };
}
