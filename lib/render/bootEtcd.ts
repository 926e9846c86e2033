/**
 * A control plane that comes back empty at the address of an etcd member
 * (a machine replaced in place: the lab, the metal platform; a disk wiped)
 * cannot join as kubeadm makes it: kubeadm's etcd phase skips adding a
 * member whose peer URL exists already, so the new etcd would start as the
 * former machine's member with none of its data, which etcd refuses (the
 * leader's raft log for that member is ahead of an empty one). So before a
 * control plane joins, with no etcd data of its own, the member at its peer
 * URL is removed through a surviving member's API, with the certificates
 * kubeadm's join downloads and makes (`control-plane-prepare`), and kubeadm
 * then adds it anew. A member of this machine's own data is never touched;
 * on Equinix Metal a replacement gets a new address, and nothing is found.
 *
 * Pure: shell lines for the boot script (lib/render/bootstrap.ts), which
 * defines `log`, and `addr` (this machine's address) before them.
 */
import { KUBEADM_JOIN_CONFIG } from './bootPaths.js';

/** Where kubeadm keeps etcd's data (its default, which the rendered configuration keeps). */
export const ETCD_DATA_DIR = '/var/lib/etcd';
const PKI = '/etc/kubernetes/pki';
const ETCD_PEER_PORT = 2380;
const ETCD_CLIENT_PORT = 2379;
/** The annotation on kubeadm's etcd static pods that names the member's client URL (what kubeadm itself reads). */
const CLIENT_URLS_ANNOTATION = 'kubeadm.kubernetes.io/etcd.advertise-client-urls';

/** The shell function `remove_stale_member`: 0 when no stale member is left (or this machine has etcd data), 1 to try again. */
export function staleMemberLines(): string[] {
  const etcdCurl = `curl -fsS --connect-timeout 5 --max-time 15 --cacert ${PKI}/etcd/ca.crt --cert ${PKI}/apiserver-etcd-client.crt --key ${PKI}/apiserver-etcd-client.key -X POST`;
  const annotation = CLIENT_URLS_ANNOTATION.replace(/\./g, '\\.');
  return [
    '# A control plane back empty at the address of an etcd member (replaced in place) would start',
    '# etcd as that member with none of its data, which etcd refuses: the member goes first, and',
    '# kubeadm adds it anew. Never with etcd data of its own.',
    'remove_stale_member() {',
    `  [ -d ${ETCD_DATA_DIR}/member ] && return 0`,
    '  local phase',
    '  for phase in download-certs certs kubeconfig; do',
    `    kubeadm join phase control-plane-prepare "$phase" --config ${KUBEADM_JOIN_CONFIG} || return 1`,
    '  done',
    `  local peer="https://[$addr]:${ETCD_PEER_PORT}" urls url members id`,
    `  urls=$(kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -n kube-system -l component=etcd -o jsonpath='{range .items[*]}{.metadata.annotations.${annotation}}{"\\n"}{end}') || return 1`,
    '  for url in $urls; do',
    `    [ "$url" = "https://[$addr]:${ETCD_CLIENT_PORT}" ] && continue`,
    `    members=$(${etcdCurl} -d '{}' "$url/v3/cluster/member/list") || continue`,
    '    id=$(jq -r --arg peer "$peer" \'.members[]? | select(any(.peerURLs[]?; . == $peer)) | .ID\' <<<"$members")',
    '    if [ -n "$id" ]; then',
    '      log "etcd member $id at $peer is a former machine\'s (this one has no etcd data): removed through $url"',
    `      ${etcdCurl} -d "{\\"ID\\":\\"$id\\"}" "$url/v3/cluster/member/remove" > /dev/null || return 1`,
    '    fi',
    '    return 0',
    '  done',
    '  log "no other etcd member answered (${urls:-none named}): tried again"',
    '  return 1',
    '}',
    '',
  ];
}
