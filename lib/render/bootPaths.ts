/**
 * Where the bootstrap (lib/render/bootstrap.ts) puts things on a machine,
 * and its timings: shared by the bootstrap's script and its units
 * (bootUnits.ts), and read by the tests that run them.
 */
/** Replaced by the boot script with the machine's IPv6 address, learnt at boot. */
export const NODE_ADDRESS_PLACEHOLDER = '@NODE_ADDRESS@';
export const BOOT_SCRIPT = '/usr/local/sbin/native6-boot';
export const HANDOVER_SCRIPT = '/usr/local/sbin/native6-api-handover';
export const ROUTES_SCRIPT = '/usr/local/sbin/native6-peer-routes';
export const FIREWALL_SCRIPT = '/usr/local/sbin/native6-host-firewall';
/** The machine's own firewall (lib/render/hostFirewall.ts), loaded at every boot before the network is up. */
export const FIREWALL_UNIT = 'native6-host-firewall.service';
export const BOOT_UNIT = 'native6-boot.service';
/** The routes to the BGP peers, put back at every boot (the kernel forgets them). */
export const ROUTES_UNIT = 'native6-peer-routes.service';
/** The peers and the gateway they are reached through, as the bootstrap learnt them: `<peer> <gateway>` a line. */
export const PEER_ROUTES = '/etc/native6/peer-routes';
export const HANDOVER_UNIT = 'native6-api-handover.service';
export const UNIT_DIR = '/etc/systemd/system';
export const KUBEADM_INIT_CONFIG = '/etc/native6/kubeadm-init.yaml';
export const KUBEADM_JOIN_CONFIG = '/etc/native6/kubeadm-join.yaml';
/** The cluster CA, given to the first control plane: kubeadm reset empties /etc/kubernetes/pki, so it waits here. */
export const CA_CERT = '/etc/native6/pki/ca.crt';
export const CA_KEY = '/etc/native6/pki/ca.key';
export const API_BOOTSTRAP_FILE = '/etc/native6/api-bootstrap.nft';
/** The boot's state: `running`, `done`, or `failed: <what>` (for a failed command: its exit status, line and text). */
export const BOOT_STATUS = '/var/lib/native6/boot-status';
/** Written once the machine is in the cluster: the boot unit does not run again. */
export const BOOT_DONE = '/var/lib/native6/boot-done';
/** The API handover's state on a control plane: `waiting: …` or `handed over`. */
export const HANDOVER_STATUS = '/var/lib/native6/api-handover';
/** accept_ra = 2 on the uplink, kept for the next boots. */
export const UPLINK_SYSCTL = '/etc/sysctl.d/91-native6-uplink.conf';
/** How long one join try waits for the endpoint before it is reset and tried again. */
export const JOIN_DISCOVERY_TIMEOUT = '5m0s';
/** Seconds between join tries, and before systemd runs a failed bootstrap again. */
export const JOIN_RETRY_SLEEP = 30;
export const BOOT_RESTART_SEC = 30;
/** apt waits this long (seconds) for dpkg's lock, which unattended-upgrades often holds right after a first boot. */
export const APT_LOCK_TIMEOUT = 600;
/** apt-get tried this often, 10 s apart: the lists' lock (apt-daily) is one no apt option waits for. */
export const APT_TRIES = 30;
/** The handover looks this often (seconds) for kube-proxy serving the ClusterIP, and says so every minute. */
export const HANDOVER_SLEEP = 5;
/** Whether the cluster already answers: this many looks, 5 s apart. */
export const CLUSTER_CHECK_TRIES = 3;
/** The stack's join token, kept on the control planes (which hold the CA key already) for its renewal. */
export const JOIN_TOKEN_FILE = '/etc/native6/join-token';
export const JOIN_TOKEN_SCRIPT = '/usr/local/sbin/native6-join-token';
/** On every control plane: the stack's join token kept valid (JOIN_TOKEN_TTL from each run), so a machine added any time later joins. */
export const JOIN_TOKEN_UNIT = 'native6-join-token.service';
export const JOIN_TOKEN_TIMER = 'native6-join-token.timer';
export const JOIN_TOKEN_TTL_HOURS = 24;
/** When the timer runs the renewal: this long after boot, then this often (systemd time spans). */
export const JOIN_TOKEN_RENEWAL = { afterBoot: '2min', every: '6h' } as const;
