/**
 * The bootstrap a machine of the cluster runs, whatever brings it there
 * (cloud-init on Equinix Metal; SSH on metal): the files to put in place
 * and the commands that start it. One bootstrap for every transport: a
 * platform gives only how the machine learns its own address and gateway
 * (NodeDiscovery).
 *
 * It survives what real machines and real applies do:
 * - it is a systemd unit that runs at every boot until it has succeeded
 *   once (a stamp file), started again by systemd 30 s after any failure:
 *   a slow mirror, a failed apply or a power cut half-way strand nothing;
 * - joins are tried until they succeed (kubeadm reset between tries), so a
 *   machine may wait hours for the endpoint to answer;
 * - every control plane answers the API ClusterIP itself (a DNAT to its own
 *   API server) at every boot, until its own kube-proxy serves the
 *   ClusterIP, then hands over (the API handover unit): after a full
 *   restart, kube-proxy and Calico, which reach the API only through the
 *   ClusterIP, find it;
 * - the first control plane initialises the cluster only when no API server
 *   of this cluster (TLS checked against the cluster CA) answers on the
 *   ClusterIP; a replacement joins the cluster it finds.
 *
 * Each step may be run again: a later try redoes what an earlier one did
 * and resets what kubeadm left half done. docs/bootstrap.md says what it
 * does and how it is run in tests (test/lab/bootScript.test.ts).
 */
import { ADMISSION_FILE, admissionConfiguration } from './podSecurity.js';
import { ENCRYPTION_FILE, encryptionConfiguration } from './encryption.js';
import { staleMemberLines } from './bootEtcd.js';
import { formatAddress } from '../net/ipv6.js';
import { planInBlock, type AddressPlan, type Machine } from '../plan/addressPlan.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { API_BOOTSTRAP_TABLE, apiBootstrapNat } from './apiBootstrap.js';
import { API_SERVER_PORT, kubeadmInit, kubeadmJoin, type JoinSecrets, type KubeadmOptions } from './kubeadm.js';
import { SHARED_KEY_FILES, type SharedControlPlaneKeys } from '../kube/kubeadmCerts.js';
import { HOST_FIREWALL_FILE, hostFirewall, PEER_ELEMENTS_PLACEHOLDER } from './hostFirewall.js';
import { NAT64_UNIT, nat64Files } from './nat64.js';
import { holdsStandIn, relocateScript, relocationLines, RELOCATE_SCRIPT, standInBlock } from './blockRelocation.js';
import { bootUnit, firewallScript, firewallUnit, handoverScript, handoverUnit, joinTokenScript, joinTokenTimer, joinTokenUnit, routesScript, routesUnit } from './bootUnits.js';
import {
  API_BOOTSTRAP_FILE,
  APT_LOCK_TIMEOUT,
  APT_TRIES,
  BOOT_DONE,
  BOOT_RESTART_SEC,
  BOOT_SCRIPT,
  BOOT_STATUS,
  BOOT_UNIT,
  CA_CERT,
  CA_KEY,
  CLUSTER_CHECK_TRIES,
  FIREWALL_SCRIPT,
  FIREWALL_UNIT,
  HANDOVER_SCRIPT,
  HANDOVER_UNIT,
  JOIN_DISCOVERY_TIMEOUT,
  JOIN_TOKEN_FILE,
  JOIN_TOKEN_RENEWAL,
  JOIN_TOKEN_SCRIPT,
  JOIN_TOKEN_TIMER,
  JOIN_TOKEN_UNIT,
  JOIN_RETRY_SLEEP,
  KUBEADM_INIT_CONFIG,
  KUBEADM_JOIN_CONFIG,
  NODE_ADDRESS_PLACEHOLDER,
  PEER_ROUTES,
  ROUTES_SCRIPT,
  ROUTES_UNIT,
  UNIT_DIR,
  UPLINK_SYSCTL,
} from './bootPaths.js';

export * from './bootPaths.js';

const SWAP_COMMENT = '# (native6: the kubelet runs without swap) ';

export interface BootSecrets extends JoinSecrets {
  /** The cluster CA (PEM): the first control plane's, and what a replacement checks the cluster by. */
  readonly caCertPem: string;
  readonly caKeyPem: string;
  /** sha256:<hex> of the CA's public key, as kubeadm join's discovery pins it. */
  readonly caCertHash: string;
  /**
   * The other keys every control plane shares, made by the stack (absent in a stack made before):
   * the first control plane starts with them, and apply uploads them for later joins, so
   * kubeadm init does not upload its own (lib/kube/kubeadmCerts.ts).
   */
  readonly shared?: Omit<SharedControlPlaneKeys, 'caCertPem' | 'caKeyPem'>;
}

/** Where the first control plane is given the shared keys: /etc/native6/pki/<kubeadm's file name>. */
export const sharedKeyPath = (file: string) => `${dirOf(CA_CERT)}/${file}`;
const SHARED_FILES = (Object.entries(SHARED_KEY_FILES) as Array<[keyof SharedControlPlaneKeys, string]>).filter(([k]) => k !== 'caCertPem' && k !== 'caKeyPem') as Array<
  [keyof Omit<SharedControlPlaneKeys, 'caCertPem' | 'caKeyPem'>, string]
>;
const isPrivate = (file: string) => file.endsWith('.key');

/**
 * How the machine learns what the platform numbered: shell lines, run once
 * the prerequisites (curl, jq) are installed, that set `addr` (its IPv6
 * address), `gw` (its IPv6 gateway) and `peers` (its BGP peers,
 * space-separated, empty when they are on the link), and may set `routed`
 * (the peers given a route through the gateway; all of `peers` unless set).
 * They may call `fail "<why>"` and must print no secret.
 */
export interface NodeDiscovery {
  readonly lines: readonly string[];
  /**
   * Lines run after them that set `block` to the block the provider
   * assigned (`<network>/<length>`, the parent block of the machine's
   * address), where the platform can tell: needed when the spec gives only
   * the block's size (lib/render/blockRelocation.ts).
   */
  readonly block?: readonly string[];
}

/** What a platform changes in the bootstrap beside discovery. */
export interface BootOptions {
  /** kubeadm's options for the init and the join configurations (the lab's: no container runtime). */
  readonly kubeadm?: { readonly init?: KubeadmOptions; readonly join?: KubeadmOptions };
  /**
   * Where containerd, kubeadm, the kubelet and kubectl come from. `apt` (the
   * default): Kubernetes' package repository, pinned to the spec's version
   * and held, with containerd, curl, jq and nftables from the distribution.
   * `image`: the machine's image carries them (an air-gapped machine, a
   * golden image, the lab): the bootstrap checks they are there, kubeadm at
   * the spec's version, and installs nothing.
   */
  readonly packages?: 'apt' | 'image';
  /** When the control planes renew the join token (systemd time spans): 2 min after boot, then every 6 h unless given. */
  readonly joinTokenRenewal?: { readonly afterBoot: string; readonly every: string };
  /** The NAT64 translator's node-local IPv4 pool (lib/render/nat64.ts; DEFAULT_NAT64_POOL unless given). */
  readonly nat64Pool?: string;
}

export interface BootFile {
  readonly path: string;
  readonly mode: '0600' | '0644' | '0700';
  readonly content: string;
}

export interface Bootstrap {
  readonly files: readonly BootFile[];
  /** Run once, as root, after the files are in place: the sysctls, then the boot unit started (not waited for). */
  readonly start: readonly (readonly string[])[];
}

/** The Kubernetes package repository's minor channel for a version like v1.35.4. */
export function packageChannel(kubernetesVersion: string): string {
  const m = /^v(\d+)\.(\d+)\.\d+$/.exec(kubernetesVersion);
  if (!m) throw new Error(`kubernetesVersion "${kubernetesVersion}" is not vMAJOR.MINOR.PATCH`);
  return `v${m[1]}.${m[2]}`;
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/'));
const isFirst = (m: Machine) => m.role === 'control-plane' && m.index === 1;

/** Logging (systemd puts the output in the journal), the status file, and a trap that records any failed command with its line. */
function prelude(machine: Machine): string[] {
  const role = isFirst(machine) ? 'first control plane: kubeadm init, or join a cluster that answers' : machine.role === 'control-plane' ? 'control plane: kubeadm join' : 'worker: kubeadm join';
  return [
    '#!/bin/bash',
    `# native6 boot: ${machine.name} (${role})`,
    `# Run by ${BOOT_UNIT} at every boot until ${BOOT_DONE} exists; systemd runs it again ${BOOT_RESTART_SEC} s after a failure.`,
    // -E: the ERR trap holds inside functions too.
    'set -Eeuo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    'log() { echo "native6-boot: $*"; }',
    `status() { mkdir -p ${dirOf(BOOT_STATUS)}; echo "$*" > ${BOOT_STATUS}; }`,
    'fail() { status "failed: $*"; log "failed: $*"; exit 1; }',
    // Once, in the script itself (not again in the subshell of a failed $(...)).
    `trap 'rc=$?; if [ "$BASH_SUBSHELL" = 0 ]; then status "failed: exit $rc at line $LINENO: $BASH_COMMAND"; log "failed: exit $rc at line $LINENO: $BASH_COMMAND"; fi' ERR`,
    'status running',
    '',
    '# apt at a first boot: unattended-upgrades holds dpkg\'s lock for minutes (apt waits for it),',
    '# apt-daily the lists\' lock, which no apt option waits for (tried again).',
    'apt_get() {',
    '  local try',
    `  for try in $(seq 1 ${APT_TRIES}); do`,
    `    apt-get -o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT} "$@" && return 0`,
    `    log "apt-get $1 failed (try $try of ${APT_TRIES}), again in 10 s"`,
    '    sleep 10',
    '  done',
    '  return 1',
    '}',
    '',
  ];
}

/** The machine as the platform numbered it (discovery), the plan moved into its block (`relocated`: the files, when the spec gives only the block's size), its peers' routes, its uplink, its address put into the configurations. */
function node(discovery: NodeDiscovery, configs: readonly string[], relocated?: readonly string[]): string[] {
  return [
    '# The machine, as the platform numbered it.',
    'addr= gw= peers=',
    'unset routed',
    ...discovery.lines,
    'routed=${routed-$peers}',
    '[ -n "$addr" ] && [ "$addr" != null ] || fail "no IPv6 address for this machine"',
    '[ -n "$gw" ] && [ "$gw" != null ] || fail "no IPv6 gateway for this machine"',
    ...(relocated ? relocationLines(discovery, relocated) : []),
    '# Multihop BGP: peers off the link are reached through the gateway, now and at every boot.',
    `: > ${PEER_ROUTES}.new`,
    'for peer in $routed; do',
    `  echo "$peer $gw" >> ${PEER_ROUTES}.new`,
    'done',
    `mv ${PEER_ROUTES}.new ${PEER_ROUTES}`,
    ROUTES_SCRIPT,
    '# Forwarding is on (90-native6.conf): the uplink still takes router advertisements, now and at every boot.',
    'uplink=$(ip -6 -o route get "$gw" | sed -n \'s/.* dev \\([^ ]*\\).*/\\1/p\')',
    '[ -n "$uplink" ] || fail "no interface towards the gateway $gw"',
    `echo "net/ipv6/conf/$uplink/accept_ra = 2" > ${UPLINK_SYSCTL}`,
    'sysctl -q -w "net/ipv6/conf/$uplink/accept_ra=2"',
    `sed -i "s/${NODE_ADDRESS_PLACEHOLDER}/$addr/g" ${configs.join(' ')}`,
    '# The machine\'s own firewall, with its BGP peers: now, and at every boot before the network is up.',
    'if [ -n "$peers" ]; then',
    `  sed -i "s|${PEER_ELEMENTS_PLACEHOLDER}|elements = { $(echo $peers | sed 's/ /, /g') }|" ${HOST_FIREWALL_FILE}`,
    'else',
    `  sed -i "/${PEER_ELEMENTS_PLACEHOLDER}/d" ${HOST_FIREWALL_FILE}`,
    'fi',
    FIREWALL_SCRIPT,
    '',
  ];
}

/** The programs a stock image lacks, from the distribution: what the rest of the script uses (tayga: the NAT64 translator). */
function prerequisites(packages: 'apt' | 'image', nat64: boolean): string[] {
  if (packages === 'image') {
    return [
      '# The machine\'s image brings every program (packages: image): checked, nothing installed.',
      `for p in ${[...IMAGE_PROGRAMS, ...(nat64 ? ['tayga'] : [])].join(' ')}; do`,
      '  command -v "$p" >/dev/null || fail "the machine\'s image has no $p (packages: image installs nothing)"',
      'done',
    ];
  }
  return [
    '# First what the rest uses: a stock image has no jq, nft or containerd (a minimal one no curl or gpg either).',
    'apt_get update -q',
    `apt_get install -y -q containerd curl gpg jq nftables${nat64 ? ' tayga' : ''}`,
    ...(nat64 ? ['# The distribution\'s tayga starts its own NAT64 from /etc/tayga.conf: native6-nat64.service runs it instead.', 'systemctl disable --now tayga.service 2>/dev/null || true'] : []),
  ];
}

/** What an image must carry for `packages: image`. */
export const IMAGE_PROGRAMS = ['containerd', 'curl', 'jq', 'nft', 'kubeadm', 'kubelet', 'kubectl'] as const;

/** The Kubernetes packages pinned to the spec's version and held (apt), or the image's kubeadm checked against it. */
function kubernetesPackages(spec: ClusterSpec, packages: 'apt' | 'image'): string[] {
  if (packages === 'image') {
    return [
      `[ "$(kubeadm version -o short)" = ${spec.kubernetesVersion} ] || fail "the image's kubeadm is $(kubeadm version -o short), the spec asks ${spec.kubernetesVersion}"`,
      'mkdir -p /etc/containerd',
    ];
  }
  const channel = packageChannel(spec.kubernetesVersion);
  const pkgVersion = `${spec.kubernetesVersion.slice(1)}-*`;
  const repo = `https://pkgs.k8s.io/core:/stable:/${channel}/deb/`;
  return [
    '# The Kubernetes packages, pinned to the spec\'s version; they and the container runtime held.',
    'mkdir -p /etc/containerd /etc/apt/keyrings',
    `curl -fsSL ${repo}Release.key | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes.gpg`,
    `echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] ${repo} /" > /etc/apt/sources.list.d/kubernetes.list`,
    'apt_get update -q',
    `apt_get install -y -q kubelet="${pkgVersion}" kubeadm="${pkgVersion}" kubectl="${pkgVersion}"`,
    'apt-mark hold kubelet kubeadm kubectl containerd',
  ];
}

/** containerd, then kubelet, kubeadm and kubectl pinned to the spec's version; swap off for good. */
function runtime(spec: ClusterSpec, packages: 'apt' | 'image'): string[] {
  return [
    ...kubernetesPackages(spec, packages),
    '# containerd: systemd cgroups, and the pause image this kubeadm names (containerd 1.7\'s sandbox_image, 2.x\'s pinned sandbox).',
    `pause=$(kubeadm config images list --kubernetes-version ${spec.kubernetesVersion} | grep '/pause:')`,
    '[ -n "$pause" ] || fail "kubeadm names no pause image"',
    'containerd config default | sed -e "s/SystemdCgroup = false/SystemdCgroup = true/" -e "s#^\\([[:space:]]*sandbox_image = \\).*#\\1\\"$pause\\"#" -e "s#^\\([[:space:]]*sandbox = \\).*#\\1\'$pause\'#" > /etc/containerd/config.toml',
    'systemctl restart containerd',
    '# No swap, now and after a reboot: the kubelet does not start with swap on (failSwapOn).',
    'swapoff -a',
    `sed -Ei '/^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]/ s/^/${SWAP_COMMENT}/' /etc/fstab`,
    'systemctl mask swap.target',
    '',
  ];
}

/**
 * Joins tried until one succeeds: each waits up to JOIN_DISCOVERY_TIMEOUT for the endpoint; kubeadm reset between tries.
 * A control plane first removes an etcd member a former machine left at its address (bootEtcd.ts).
 */
function joinLoop(endpoint: string, controlPlane: boolean): string[] {
  return [
    ...(controlPlane ? staleMemberLines() : []),
    'join_until_done() {',
    '  local try=1',
    `  until ${controlPlane ? 'remove_stale_member && ' : ''}kubeadm join --config ${KUBEADM_JOIN_CONFIG}; do`,
    `    log "kubeadm join through ${endpoint} failed (try $try): kubeadm reset, again in ${JOIN_RETRY_SLEEP} s"`,
    '    kubeadm reset --force || log "kubeadm reset failed too; trying the join anyway"',
    '    try=$((try + 1))',
    `    sleep ${JOIN_RETRY_SLEEP}`,
    '  done',
    '}',
    '',
  ];
}

function kubeadmSteps(machine: Machine, clusterIP: string, shared: boolean): string[] {
  const endpoint = `[${clusterIP}]:${API_SERVER_PORT}`;
  if (!isFirst(machine)) {
    return [...joinLoop(endpoint, machine.role === 'control-plane'), `log "kubeadm join through ${endpoint} (tried until the endpoint answers)"`, 'join_until_done'];
  }
  return [
    ...joinLoop(endpoint, true),
    '# Whether this cluster exists already (a replaced first control plane): an API server that',
    '# proves, by TLS, to hold a certificate of the cluster CA answers on the ClusterIP. A former',
    '# try\'s translation to this machine\'s own, half-made API server goes first.',
    `nft delete table ip6 ${API_BOOTSTRAP_TABLE} 2>/dev/null || true`,
    'cluster_answers() {',
    '  local try',
    `  for try in $(seq 1 ${CLUSTER_CHECK_TRIES}); do`,
    `    curl -sS --cacert ${CA_CERT} --connect-timeout 5 --max-time 10 -o /dev/null "https://${endpoint}/version" && return 0`,
    '    sleep 5',
    '  done',
    '  return 1',
    '}',
    'if cluster_answers; then',
    `  log "the cluster answers on ${endpoint}: this machine joins it as a control plane (no kubeadm init)"`,
    '  join_until_done',
    'else',
    '  if [ -e /etc/kubernetes/manifests/kube-apiserver.yaml ] || [ -e /etc/kubernetes/admin.conf ]; then',
    '    log "a former try left kubeadm\'s files: kubeadm reset"',
    '    kubeadm reset --force',
    '  fi',
    `  install -D -m 0644 ${CA_CERT} /etc/kubernetes/pki/ca.crt`,
    `  install -D -m 0600 ${CA_KEY} /etc/kubernetes/pki/ca.key`,
    ...(shared
      ? [
          '  # The keys every control plane shares, the stack\'s: apply hands them to later joins, so init uploads none.',
          ...SHARED_FILES.map(([, f]) => `  install -D -m ${isPrivate(f) ? '0600' : '0644'} ${sharedKeyPath(f)} /etc/kubernetes/pki/${f}`),
        ]
      : []),
    '  # The API endpoint before anything is routed: the ClusterIP answered here (handed over below).',
    `  nft -f ${API_BOOTSTRAP_FILE}`,
    `  log "kubeadm init (API endpoint ${endpoint})"`,
    `  kubeadm init --config ${KUBEADM_INIT_CONFIG}${shared ? '' : ' --upload-certs'} --skip-token-print --skip-certificate-key-print`,
    'fi',
  ];
}

function bootScript(spec: ClusterSpec, plan: AddressPlan, machine: Machine, discovery: NodeDiscovery, shared: boolean, packages: 'apt' | 'image', relocated?: readonly string[]): string {
  const clusterIP = formatAddress(plan.apiServer);
  const controlPlane = machine.role === 'control-plane';
  const configs = [...(isFirst(machine) ? [KUBEADM_INIT_CONFIG] : []), KUBEADM_JOIN_CONFIG, ...(controlPlane ? [API_BOOTSTRAP_FILE] : [])];
  const secrets = [
    ...(isFirst(machine) ? [KUBEADM_INIT_CONFIG] : []),
    KUBEADM_JOIN_CONFIG,
    ...(isFirst(machine) ? [CA_KEY, ...(shared ? SHARED_FILES.map(([, f]) => f).filter(isPrivate).map(sharedKeyPath) : [])] : []),
  ];
  return [
    ...prelude(machine),
    ...prerequisites(packages, plan.nat64 !== undefined),
    '',
    ...node(discovery, configs, relocated),
    ...runtime(spec, packages),
    ...kubeadmSteps(machine, clusterIP, shared),
    '',
    '# In the cluster: what holds the bootstrap token, the certificate key (and the CA key) is not kept.',
    `rm -f ${secrets.join(' ')}`,
    `touch ${BOOT_DONE}`,
    'status done',
    ...(plan.nat64 ? ['# The node\'s pods reach IPv4 through it (started at every boot, already running unless it failed).', `systemctl start --no-block ${NAT64_UNIT}`] : []),
    ...(controlPlane
      ? [
          '# This control plane answers the ClusterIP until its kube-proxy serves it, now and at every boot;',
          '# it keeps the join token valid, from now on.',
          `systemctl start --no-block ${HANDOVER_UNIT} ${JOIN_TOKEN_TIMER}`,
        ]
      : []),
    'log done',
    '',
  ].join('\n');
}

/**
 * The bootstrap of one machine: its files (secrets in files readable by
 * root only; the whole is itself a secret) and the commands that start it.
 * A plan whose block is not known yet (spec.network.blockSize) is rendered
 * inside a stand-in block that the machine moves into its provider's block
 * (lib/render/blockRelocation.ts).
 */
export function nodeBootstrap(spec: ClusterSpec, addressPlan: AddressPlan, machine: Machine, secrets: BootSecrets, discovery: NodeDiscovery, options: BootOptions = {}): Bootstrap {
  const relative = !addressPlan.resolved;
  const plan = relative ? planInBlock(spec, standInBlock(addressPlan.block.length)) : addressPlan;
  const first = isFirst(machine);
  const controlPlane = machine.role === 'control-plane';
  const clusterIP = formatAddress(plan.apiServer);
  const address = { name: machine.name, address: NODE_ADDRESS_PLACEHOLDER };
  const files: BootFile[] = [
    {
      path: '/etc/sysctl.d/90-native6.conf',
      mode: '0644',
      content: `net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.default.forwarding = 1\n${plan.nat64 ? '# NAT64: translated packets are forwarded out as IPv4 (only those: native6-nat64\'s rules)\nnet.ipv4.ip_forward = 1\n' : ''}`,
    },
    { path: '/etc/modules-load.d/native6.conf', mode: '0644', content: 'overlay\n' },
    ...(first ? [{ path: KUBEADM_INIT_CONFIG, mode: '0600' as const, content: kubeadmInit(spec, plan, address, secrets, options.kubeadm?.init) }] : []),
    {
      path: KUBEADM_JOIN_CONFIG,
      mode: '0600',
      content: kubeadmJoin(plan, address, secrets, { controlPlane, caCertHash: secrets.caCertHash }, { discoveryTimeout: JOIN_DISCOVERY_TIMEOUT, ...options.kubeadm?.join }),
    },
    // The boot script goes here (below): it names the files that hold an address of a stand-in block.
    { path: `${UNIT_DIR}/${BOOT_UNIT}`, mode: '0644', content: bootUnit(machine) },
    { path: HOST_FIREWALL_FILE, mode: '0644', content: hostFirewall(spec, plan) },
    { path: FIREWALL_SCRIPT, mode: '0700', content: firewallScript() },
    { path: `${UNIT_DIR}/${FIREWALL_UNIT}`, mode: '0644', content: firewallUnit() },
    { path: ROUTES_SCRIPT, mode: '0700', content: routesScript() },
    { path: `${UNIT_DIR}/${ROUTES_UNIT}`, mode: '0644', content: routesUnit() },
  ];
  if (first) {
    files.push({ path: CA_CERT, mode: '0644', content: secrets.caCertPem }, { path: CA_KEY, mode: '0600', content: secrets.caKeyPem });
    const shared = secrets.shared;
    if (shared) for (const [k, f] of SHARED_FILES) files.push({ path: sharedKeyPath(f), mode: isPrivate(f) ? '0600' : '0644', content: shared[k] });
  }
  if (controlPlane) {
    files.push(
      { path: ADMISSION_FILE, mode: '0644', content: admissionConfiguration() },
      ...(secrets.secretsKey !== undefined ? [{ path: ENCRYPTION_FILE, mode: '0600' as const, content: encryptionConfiguration(secrets.secretsKey) }] : []),
      { path: API_BOOTSTRAP_FILE, mode: '0644', content: apiBootstrapNat(clusterIP, NODE_ADDRESS_PLACEHOLDER) },
      { path: HANDOVER_SCRIPT, mode: '0700', content: handoverScript(machine, clusterIP) },
      { path: `${UNIT_DIR}/${HANDOVER_UNIT}`, mode: '0644', content: handoverUnit(machine) },
      { path: JOIN_TOKEN_FILE, mode: '0600', content: `${secrets.bootstrapToken}\n` },
      { path: JOIN_TOKEN_SCRIPT, mode: '0700', content: joinTokenScript() },
      { path: `${UNIT_DIR}/${JOIN_TOKEN_UNIT}`, mode: '0644', content: joinTokenUnit() },
      { path: `${UNIT_DIR}/${JOIN_TOKEN_TIMER}`, mode: '0644', content: joinTokenTimer(options.joinTokenRenewal ?? JOIN_TOKEN_RENEWAL) },
    );
  }
  if (plan.nat64) files.push(...nat64Files(plan.nat64, options.nat64Pool));
  const relocated = relative ? files.filter((f) => holdsStandIn(f.content)).map((f) => f.path) : undefined;
  const script: BootFile = { path: BOOT_SCRIPT, mode: '0700', content: bootScript(spec, plan, machine, discovery, first && secrets.shared !== undefined, options.packages ?? 'apt', relocated) };
  files.splice(files.findIndex((f) => f.path === KUBEADM_JOIN_CONFIG) + 1, 0, script);
  if (relative) files.push({ path: RELOCATE_SCRIPT, mode: '0700', content: relocateScript(plan.block.length) });
  const units = [BOOT_UNIT, FIREWALL_UNIT, ROUTES_UNIT, ...(plan.nat64 ? [NAT64_UNIT] : []), ...(controlPlane ? [HANDOVER_UNIT, JOIN_TOKEN_TIMER] : [])];
  return {
    files,
    start: [['sysctl', '--system'], ['modprobe', 'overlay'], ['systemctl', 'daemon-reload'], ['systemctl', 'enable', ...units], ['systemctl', 'start', '--no-block', BOOT_UNIT]],
  };
}
