/**
 * The API endpoint before anything is routed (README, "The API endpoint's
 * chicken and egg"), the same on both platforms: the first control plane
 * translates the ClusterIP's port 443 to its own API server until
 * kube-proxy serves the ClusterIP.
 */
import { API_SERVER_PORT } from './kubeadm.js';

export const API_BOOTSTRAP_TABLE = 'n6-api-bootstrap';

/**
 * The bootstrap endpoint on the first control plane: the ClusterIP's port
 * 443 translated to its own API server, for its own programs (output) and
 * for what the routers bring it (prerouting), ahead of kube-proxy's rules.
 * Translation, not the address on a loopback: connections made through it
 * keep their translation in conntrack, so they survive the handover (an
 * address taken away would leave them hanging until their keepalives gave
 * up, and kube-proxy would miss endpoint updates for that long).
 */
export function apiBootstrapNat(clusterIP: string, apiServer: string): string {
  return [
    `table ip6 ${API_BOOTSTRAP_TABLE}`,
    `delete table ip6 ${API_BOOTSTRAP_TABLE}`,
    `table ip6 ${API_BOOTSTRAP_TABLE} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority -110; policy accept;',
    `    ip6 daddr ${clusterIP} tcp dport ${API_SERVER_PORT} dnat to [${apiServer}]:${API_SERVER_PORT}`,
    '  }',
    '  chain output {',
    '    type nat hook output priority -110; policy accept;',
    `    ip6 daddr ${clusterIP} tcp dport ${API_SERVER_PORT} dnat to [${apiServer}]:${API_SERVER_PORT}`,
    '  }',
    '}',
    '',
  ].join('\n');
}
