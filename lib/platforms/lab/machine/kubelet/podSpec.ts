/**
 * What the lab's kubelet derives from a pod's spec before it runs it, as
 * the kubelet does, pure: the container's environment (env with its
 * fieldRef/resourceFieldRef values and $(VAR) references, the Services'
 * variables of enableServiceLinks), the pod's resolv.conf (dnsPolicy,
 * dnsConfig, the KubeletConfiguration's clusterDNS and clusterDomain) and
 * /etc/hosts, and the shell script that builds the pod's file system in
 * its own mount namespace and runs the program in it (sandboxScript).
 */
import { formatAddress, parseAddress } from '../../../../net/ipv6.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  readinessProbe?: { httpGet?: { path?: string; port: number | string }; failureThreshold?: number };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  securityContext?: { runAsUser?: number; runAsGroup?: number; capabilities?: { add?: string[]; drop?: string[] } };
}

export interface PodMeta {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Service {
  metadata: { name: string; namespace: string };
  spec: { clusterIP?: string; ports?: Array<{ name?: string; port: number; protocol?: string }> };
}

/** Kubernetes quantities as integers (bytes, or millicores for cpu with divisor 1m). */
export function quantity(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q);
  if (!m) throw new Error(`"${q}" is not a quantity`);
  const units: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, m: 1e-3 };
  const u = units[m[2]!];
  if (u === undefined) throw new Error(`"${q}": unknown unit ${m[2]}`);
  return Number(m[1]) * u;
}

/** The variables the kubelet gives for a Service (docker-links style): FOO_SERVICE_HOST, FOO_SERVICE_PORT, FOO_PORT… */
export function serviceEnv(services: readonly Service[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of [...services].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const ip = s.spec.clusterIP;
    if (!ip || ip === 'None' || !s.spec.ports?.length) continue;
    const name = s.metadata.name.toUpperCase().replace(/-/g, '_');
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const first = s.spec.ports[0]!;
    out[`${name}_SERVICE_HOST`] = ip;
    out[`${name}_SERVICE_PORT`] = String(first.port);
    out[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${host}:${first.port}`;
    for (const p of s.spec.ports) {
      const proto = p.protocol ?? 'TCP';
      if (p.name) out[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
      const key = `${name}_PORT_${p.port}_${proto}`;
      out[key] = `${proto.toLowerCase()}://${host}:${p.port}`;
      out[`${key}_PROTO`] = proto.toLowerCase();
      out[`${key}_PORT`] = String(p.port);
      out[`${key}_ADDR`] = ip;
    }
  }
  return out;
}

/** $(VAR) references expanded from what is defined so far; $$ escapes; unknown references are left as written (as the kubelet does). */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? all)));
}

export interface EnvContext {
  readonly pod: PodMeta;
  readonly nodeName: string;
  readonly podIP?: string;
  readonly hostIP: string;
  readonly serviceAccount?: string;
  /** Services of the pod's namespace (enableServiceLinks) and the API's `kubernetes` Service, which every pod gets. */
  readonly services: readonly Service[];
  readonly enableServiceLinks?: boolean;
  /** Values of configMapKeyRef/secretKeyRef, "configmap/name/key" or "secret/name/key". */
  readonly refs?: ReadonlyMap<string, string>;
}

const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The container's environment, in the kubelet's order: the Services' variables, then env in order (each may refer to the ones before). */
export function containerEnv(c: Container, all: readonly Container[], x: EnvContext): Record<string, string> {
  const master = x.services.filter((s) => s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes');
  const own = x.enableServiceLinks === false ? [] : x.services.filter((s) => s.metadata.namespace === x.pod.namespace && !(s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'));
  const env: Record<string, string> = { PATH: IMAGE_PATH, HOSTNAME: x.pod.name, ...serviceEnv(own), ...serviceEnv(master) };
  for (const v of c.env ?? []) {
    if (v.value !== undefined || !v.valueFrom) {
      env[v.name] = expand(v.value ?? '', env);
      continue;
    }
    const f = v.valueFrom;
    if (f.fieldRef) env[v.name] = field(f.fieldRef.fieldPath, x);
    else if (f.resourceFieldRef) env[v.name] = resource(f.resourceFieldRef, c, all);
    else {
      const ref = f.configMapKeyRef ? `configmap/${f.configMapKeyRef.name}/${f.configMapKeyRef.key}` : `secret/${f.secretKeyRef!.name}/${f.secretKeyRef!.key}`;
      const value = x.refs?.get(ref);
      const optional = (f.configMapKeyRef ?? f.secretKeyRef)?.optional === true;
      if (value === undefined && !optional) throw new Error(`env ${v.name}: ${ref} not found`);
      if (value !== undefined) env[v.name] = value;
    }
  }
  return env;
}

function field(path: string, x: EnvContext): string {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label) return (label[1] === 'labels' ? x.pod.labels : x.pod.annotations)?.[label[2]!] ?? '';
  const values: Record<string, string | undefined> = {
    'metadata.name': x.pod.name,
    'metadata.namespace': x.pod.namespace,
    'metadata.uid': x.pod.uid,
    'spec.nodeName': x.nodeName,
    'spec.serviceAccountName': x.serviceAccount ?? 'default',
    'status.hostIP': x.hostIP,
    'status.hostIPs': x.hostIP,
    'status.podIP': x.podIP ?? '',
    'status.podIPs': x.podIP ?? '',
  };
  const v = values[path];
  if (v === undefined) throw new Error(`fieldRef ${path} is not one the kubelet resolves`);
  return v;
}

function resource(r: NonNullable<EnvVar['valueFrom']>['resourceFieldRef'] & object, c: Container, all: readonly Container[]): string {
  const target = r.containerName ? all.find((x) => x.name === r.containerName) : c;
  if (!target) throw new Error(`resourceFieldRef: no container ${r.containerName}`);
  const [kind, name] = r.resource.split('.') as ['limits' | 'requests', string];
  const given = target.resources?.[kind]?.[name];
  // Without a limit the kubelet gives the node's allocatable; the lab says so by a large number rather than none.
  const value = given !== undefined ? quantity(given) : name === 'cpu' ? 1000 : 2 ** 40;
  // The API server writes the default divisor as "0": it means 1.
  const divisor = quantity(r.divisor ?? '1') || 1;
  return String(Math.max(1, Math.ceil(value / divisor)));
}

export interface DnsInputs {
  readonly dnsPolicy?: string;
  readonly hostNetwork?: boolean;
  readonly dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: Array<{ name: string; value?: string }> };
  readonly namespace: string;
  /** KubeletConfiguration: clusterDNS and clusterDomain. */
  readonly clusterDNS: readonly string[];
  readonly clusterDomain: string;
  /** The node's resolv.conf (the KubeletConfiguration's resolvConf). */
  readonly hostResolvConf: string;
}

function parseResolv(text: string): { nameservers: string[]; searches: string[]; options: string[] } {
  const out = { nameservers: [] as string[], searches: [] as string[], options: [] as string[] };
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.searches = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/** The pod's /etc/resolv.conf, as the kubelet writes it (pkg/kubelet/network/dns). */
export function podResolvConf(d: DnsInputs): string {
  const host = parseResolv(d.hostResolvConf);
  const policy = d.dnsPolicy ?? 'ClusterFirst';
  let servers: string[];
  let searches: string[];
  let options: string[];
  if (policy === 'None') {
    servers = [];
    searches = [];
    options = [];
  } else if (policy === 'Default' || (policy === 'ClusterFirst' && d.hostNetwork) || d.clusterDNS.length === 0) {
    ({ nameservers: servers, searches, options } = host);
  } else {
    servers = [...d.clusterDNS];
    searches = [`${d.namespace}.svc.${d.clusterDomain}`, `svc.${d.clusterDomain}`, d.clusterDomain, ...host.searches];
    options = ['ndots:5'];
  }
  const c = d.dnsConfig;
  servers = [...new Set([...servers, ...(c?.nameservers ?? [])])];
  searches = [...new Set([...searches, ...(c?.searches ?? [])])];
  const opts = new Map(options.map((o) => [o.split(':')[0]!, o] as const));
  for (const o of c?.options ?? []) opts.set(o.name, o.value !== undefined ? `${o.name}:${o.value}` : o.name);
  return [
    ...(searches.length ? [`search ${searches.join(' ')}`] : []),
    ...servers.slice(0, 3).map((s) => `nameserver ${s.includes(':') ? formatAddress(parseAddress(s)) : s}`),
    ...(opts.size ? [`options ${[...opts.values()].join(' ')}`] : []),
    '',
  ].join('\n');
}

/** The pod's /etc/hosts (pkg/kubelet/kubelet_pods.go managedHostsFileContent). */
export function podHosts(podIP: string | undefined, hostname: string): string {
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    ...(podIP ? [`${podIP}\t${hostname}`] : []),
    '',
  ].join('\n');
}

export interface Mount {
  /** A file or folder of the machine. */
  readonly source: string;
  /** Where the pod sees it. */
  readonly target: string;
  readonly readOnly: boolean;
  readonly file: boolean;
}

export interface Sandbox {
  /** The folder the pod's root file system is mounted on (a tmpfs, in the pod's mount namespace only). */
  readonly root: string;
  /** The machine's folders the pod sees (read-only): the image's /usr and its symlinks, certificates. */
  readonly system: readonly string[];
  readonly mounts: readonly Mount[];
  /** null for a host-network pod (it keeps the machine's host name). */
  readonly hostname: string | null;
  readonly workingDir: string;
  readonly user: { readonly uid: number; readonly gid: number };
  /** Capabilities the program keeps as a non-root user (e.g. net_bind_service). */
  readonly capabilities: readonly string[];
  readonly argv: readonly string[];
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The script run with `unshare --mount --propagation private` (and --uts
 * for a pod with its own network): a tmpfs root with the machine's /usr
 * (read-only) and the merged-usr links, /dev, /proc, /sys, a private /tmp,
 * an /etc of the pod's own (its resolv.conf, hosts and hostname, the
 * machine's passwd, group and certificates), the pod's volumes where its
 * mounts say; then chroot into it and run the program as the image's
 * user. Nothing is mounted in the machine's own view: the mounts go when
 * the program does.
 */
export function sandboxScript(s: Sandbox): string {
  const r = q(s.root);
  const lines = [
    'set -eu',
    `mount -t tmpfs -o mode=0755 pod-root ${r}`,
    `cd ${r}`,
    'mkdir -p usr etc dev proc sys tmp run var/run',
    'for l in bin sbin lib lib64 lib32 libx32; do if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$l"; elif [ -d "/$l" ]; then mkdir "$l"; mount --rbind "/$l" "$l"; mount -o remount,bind,ro "$l"; fi; done',
    'mount --rbind /usr usr && mount -o remount,bind,ro usr',
    'mount --rbind /dev dev',
    'mount -t proc proc proc',
    'mount --rbind /sys sys && mount -o remount,bind,ro sys',
    'mount -t tmpfs -o mode=1777 tmp tmp',
    'chmod 1777 tmp',
  ];
  for (const dir of s.system) lines.push(`mkdir -p ${q(`.${dir}`)} && mount --rbind ${q(dir)} ${q(`.${dir}`)} && mount -o remount,bind,ro ${q(`.${dir}`)}`);
  for (const m of s.mounts) {
    const at = q(`.${m.target}`);
    lines.push(m.file ? `mkdir -p "$(dirname ${at})" && touch ${at}` : `mkdir -p ${at}`);
    lines.push(`mount --bind ${q(m.source)} ${at}${m.readOnly ? ` && mount -o remount,bind,ro ${at}` : ''}`);
  }
  if (s.hostname !== null) lines.push(`hostname ${q(s.hostname)}`);
  const setpriv =
    s.user.uid === 0
      ? []
      : ['/usr/bin/setpriv', `--reuid=${s.user.uid}`, `--regid=${s.user.gid}`, '--clear-groups', ...(s.capabilities.length ? [`--inh-caps=+${s.capabilities.join(',+')}`, `--ambient-caps=+${s.capabilities.join(',+')}`] : []), '--'];
  lines.push(`exec chroot . ${[...setpriv, '/usr/bin/env', `--chdir=${s.workingDir}`, '--', ...s.argv].map(q).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
