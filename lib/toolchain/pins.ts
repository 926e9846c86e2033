// Over 450 lines on purpose: the one place where every pinned version lives, so that an upgrade is one file.
// The one place where every version is pinned: the upstream API schemas the
// rendered trees are validated against, the programs the lab runs
// (Kubernetes, etcd, the CNI plugins, Flux's controllers, Calico's
// templates) and the Debian packages it needs on the host.
//
// `npm run setup` builds the programs from their Go modules at exactly these
// versions (consumer modules tools/k8s and tools/cni, whose go.mod files
// must require the same versions: the setup refuses to build when they
// disagree) into `.cache/bin/` and `.cache/cni/bin/`, unless a program of
// the same name on PATH already reports the pinned version; then it links
// to that one. Either way the lab finds every program at the path
// toolPaths() gives.
//
// The Kubernetes release is the one the rendered trees are validated
// against (SCHEMA_PINS below): the binaries and the schemas move together.

import { join } from 'node:path';

// ------------------------------------------------------------ API schemas
//
// The upstream API schema sources. `npm run setup` downloads each module
// with `go mod download` (so the Go module proxy and go.sum-style checksums
// do the fetching and integrity checking) and copies only the listed files
// into `.cache/schemas/<name>-<version>/`. `npm run validate` checks every
// rendered object against exactly these schemas; bumping a version here is
// the whole upgrade.

export type SchemaFormat = 'openapi-v3' | 'crd-yaml';

export interface SchemaPin {
  /** Short name; the cache folder is `<name>-<version>`. */
  readonly name: string;
  /** Go module path. */
  readonly module: string;
  /** Exact module version the proxy serves (may be a pseudo-version). */
  readonly version: string;
  /** What people call it, for messages: "Kubernetes", "Calico", "Flux". */
  readonly product: string;
  /** The product release this module version is, for messages. */
  readonly productVersion: string;
  /** How the copied files are read. */
  readonly format: SchemaFormat;
  /** Folder inside the module whose matching files are copied (not recursive). */
  readonly dir: string;
  /** File names (basenames) in `dir` to copy. */
  readonly match: RegExp;
  /** Basenames that must be among the copied files, or setup fails. */
  readonly mustHave: readonly string[];
}

export const KUBERNETES_VERSION = 'v1.35.4';
export const CALICO_VERSION = 'v3.28.5';
export const FLUX_VERSION = 'v2.9.5';

export const SCHEMA_PINS: readonly SchemaPin[] = [
  {
    name: 'kubernetes',
    module: 'k8s.io/kubernetes',
    version: KUBERNETES_VERSION,
    product: 'Kubernetes',
    productVersion: KUBERNETES_VERSION,
    format: 'openapi-v3',
    dir: 'api/openapi-spec/v3',
    // One OpenAPI v3 document per group-version: api__v1_openapi.json,
    // apis__<group>__<version>_openapi.json (not the group/discovery indexes).
    match: /^(api|apis__[a-z0-9.-]+)__v[0-9]+((alpha|beta)[0-9]+)?_openapi\.json$/,
    mustHave: [
      'api__v1_openapi.json',
      'apis__apps__v1_openapi.json',
      'apis__batch__v1_openapi.json',
      'apis__networking.k8s.io__v1_openapi.json',
      'apis__rbac.authorization.k8s.io__v1_openapi.json',
      'apis__apiextensions.k8s.io__v1_openapi.json',
      'apis__coordination.k8s.io__v1_openapi.json',
      'apis__discovery.k8s.io__v1_openapi.json',
      'apis__policy__v1_openapi.json',
    ],
  },
  {
    name: 'calico',
    module: 'github.com/projectcalico/calico',
    // Calico v3.28.5 as the Go module proxy knows it (the repository's tags
    // are not module versions, so the proxy serves a pseudo-version).
    version: 'v1.11.0-cni-plugin.0.20250813170300-a0db560f0520',
    product: 'Calico',
    productVersion: CALICO_VERSION,
    format: 'crd-yaml',
    dir: 'libcalico-go/config/crd',
    match: /^crd\.projectcalico\.org_[a-z0-9]+\.yaml$/,
    mustHave: [
      'crd.projectcalico.org_bgpconfigurations.yaml',
      'crd.projectcalico.org_bgppeers.yaml',
      'crd.projectcalico.org_felixconfigurations.yaml',
      'crd.projectcalico.org_globalnetworkpolicies.yaml',
      'crd.projectcalico.org_globalnetworksets.yaml',
      'crd.projectcalico.org_ippools.yaml',
    ],
  },
  {
    name: 'flux-kustomize-controller',
    module: 'github.com/fluxcd/kustomize-controller',
    version: 'v1.9.5',
    product: 'Flux',
    productVersion: FLUX_VERSION,
    format: 'crd-yaml',
    dir: 'config/crd/bases',
    match: /^[a-z0-9.]+_[a-z0-9]+\.yaml$/,
    mustHave: ['kustomize.toolkit.fluxcd.io_kustomizations.yaml'],
  },
  {
    name: 'flux-source-controller',
    module: 'github.com/fluxcd/source-controller',
    version: 'v1.9.5',
    product: 'Flux',
    productVersion: FLUX_VERSION,
    format: 'crd-yaml',
    dir: 'config/crd/bases',
    match: /^[a-z0-9.]+_[a-z0-9]+\.yaml$/,
    mustHave: [
      'source.toolkit.fluxcd.io_gitrepositories.yaml',
      'source.toolkit.fluxcd.io_ocirepositories.yaml',
    ],
  },
];

/** Folder name of a pin under `.cache/schemas/`. */
export function schemaDirName(pin: SchemaPin): string {
  return `${pin.name}-${pin.version}`;
}

/** "Kubernetes v1.35.4, Calico v3.28.5, Flux v2.9.5" */
export function schemaSourcesLabel(pins: readonly SchemaPin[] = SCHEMA_PINS): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of pins) {
    const label = `${p.product} ${p.productVersion}`;
    if (!seen.has(label)) {
      seen.add(label);
      out.push(label);
    }
  }
  return out.join(', ');
}

/** Oldest Go toolchain the setup supports. */
export const GO_MIN_VERSION: readonly [number, number] = [1, 22];

/** Our own Go helper that reads YAML the way kubectl and Flux do. */
export const YAMLCHECK_SOURCE_DIR = 'tools/yamlcheck';
export const YAMLCHECK_BINARY = 'bin/yamlcheck'; // relative to the cache dir

/** The command that sets everything up; named in every "not set up" error. */
export const SETUP_COMMAND = 'npm run setup';

// ------------------------------------------------------------ lab programs

/**
 * etcd server, linked into the same binary as Kubernetes. The newest v3.6.x
 * the module proxy serves whose own requirements k8s.io/kubernetes@v1.35.4's
 * module graph already satisfies: adding it moves no Kubernetes dependency
 * except etcd's own modules (client v3.6.5 -> v3.6.8). v3.6.12 and later
 * pull grpc v1.79+, otel v1.40+ and newer x/net into kube-apiserver. 1.35
 * supports etcd >= 3.5.24 and defaults to 3.6.6 (kubeadm's
 * DefaultEtcdVersion), which the proxy does not serve.
 */
export const ETCD_VERSION = 'v3.6.8';

/** github.com/containernetworking/plugins */
export const CNI_PLUGINS_VERSION = 'v1.9.1';

export interface GoBuildPin {
  /** Our consumer module, relative to the repository root. */
  readonly sourceDir: string;
  /** Upstream modules the consumer's go.mod must require at these versions. */
  readonly requires: Readonly<Record<string, string>>;
}

/**
 * tools/k8s: one multi-call binary with etcd and the Kubernetes programs.
 * The version variables are what upstream's hack/lib/version.sh sets;
 * buildDate is the module's time on the proxy (`go list -m -json
 * k8s.io/kubernetes@v1.35.4`), so that builds are reproducible. The proxy
 * serves no VCS origin for k8s.io/kubernetes, so the release's commit is
 * unknown here: gitCommit is left empty rather than made up.
 */
export const K8S_BUILD = {
  sourceDir: 'tools/k8s',
  requires: {
    'k8s.io/kubernetes': KUBERNETES_VERSION,
    'go.etcd.io/etcd/server/v3': ETCD_VERSION,
  },
  /** Published twin of every ./staging module k8s.io/kubernetes replaces. */
  stagingVersion: KUBERNETES_VERSION.replace(/^v1\./, 'v0.'),
  buildDate: '2026-04-15T18:01:22Z',
  gitCommit: '',
  /** The multi-call binary in `<cache>/bin/`; each program links to it. */
  binary: 'k8s',
} as const satisfies GoBuildPin & Record<string, unknown>;

/** tools/cni: each plugin is a `tool` of the module (they are package main upstream). */
export const CNI_BUILD = {
  sourceDir: 'tools/cni',
  requires: { 'github.com/containernetworking/plugins': CNI_PLUGINS_VERSION },
} as const satisfies GoBuildPin;

/** `-ldflags` for tools/k8s (stripped, version variables set). */
export function k8sLdflags(): string {
  const m = /^v(\d+)\.(\d+)\./.exec(KUBERNETES_VERSION);
  if (!m) throw new Error(`KUBERNETES_VERSION ${KUBERNETES_VERSION} is not vMAJOR.MINOR.PATCH`);
  const vars: Record<string, string> = {
    gitVersion: KUBERNETES_VERSION,
    gitMajor: m[1]!,
    gitMinor: m[2]!,
    gitTreeState: 'clean',
    buildDate: K8S_BUILD.buildDate,
    gitCommit: K8S_BUILD.gitCommit,
  };
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    for (const [k, v] of Object.entries(vars)) flags.push(`-X=${pkg}.${k}=${v}`);
  }
  return flags.join(' ');
}

/** `-ldflags` for tools/cni: the version the plugins print, as upstream's build sets it. */
export function cniLdflags(): string {
  return `-s -w -X=github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=${CNI_PLUGINS_VERSION}`;
}

// ---------------------------------------------------------------- binaries

export type ToolGroup = 'kubernetes' | 'etcd' | 'cni';

export interface ToolPin {
  /** File name (what the lab runs; multi-call binaries dispatch on it). */
  readonly name: string;
  readonly group: ToolGroup;
  /** Folder under the cache dir. */
  readonly dir: 'bin' | 'cni/bin';
  /** The version it must report, as written in its output (etcd has no "v"). */
  readonly version: string;
  /** Arguments that make it print its version; CNI plugins print it when called without CNI_COMMAND. */
  readonly versionArgs: readonly string[];
  /** First group: the reported version. Matched against stdout + stderr. */
  readonly versionPattern: RegExp;
}

const kube = (name: string): ToolPin => ({
  name,
  group: 'kubernetes',
  dir: 'bin',
  version: KUBERNETES_VERSION,
  versionArgs: ['--version'],
  versionPattern: /^Kubernetes (v\S+)$/m,
});

const cni = (name: string): ToolPin => ({
  name,
  group: 'cni',
  dir: 'cni/bin',
  version: CNI_PLUGINS_VERSION,
  versionArgs: [],
  versionPattern: new RegExp(`^CNI ${name} plugin (v\\S+)$`, 'm'),
});

export const TOOL_PINS: readonly ToolPin[] = [
  kube('kube-apiserver'),
  kube('kube-controller-manager'),
  kube('kube-scheduler'),
  kube('kube-proxy'),
  { ...kube('kubeadm'), versionArgs: ['version', '-o', 'short'], versionPattern: /^(v\S+)$/m },
  { ...kube('kubectl'), versionArgs: ['version', '--client'], versionPattern: /^Client Version: (v\S+)$/m },
  {
    name: 'etcd',
    group: 'etcd',
    dir: 'bin',
    version: ETCD_VERSION.replace(/^v/, ''),
    versionArgs: ['--version'],
    versionPattern: /^etcd Version: (\S+)$/m,
  },
  cni('ptp'),
  cni('host-local'),
  cni('loopback'),
  cni('portmap'),
];

/** Import path of each CNI plugin's main package in the plugins module. */
export const CNI_PLUGIN_PACKAGES: Readonly<Record<string, string>> = {
  ptp: 'github.com/containernetworking/plugins/plugins/main/ptp',
  'host-local': 'github.com/containernetworking/plugins/plugins/ipam/host-local',
  loopback: 'github.com/containernetworking/plugins/plugins/main/loopback',
  portmap: 'github.com/containernetworking/plugins/plugins/meta/portmap',
};

export interface ToolPaths {
  etcd: string;
  'kube-apiserver': string;
  'kube-controller-manager': string;
  'kube-scheduler': string;
  'kube-proxy': string;
  kubeadm: string;
  kubectl: string;
  /** The folder to give CNI runtimes as CNI_PATH. */
  cniBinDir: string;
  cni: { ptp: string; 'host-local': string; loopback: string; portmap: string };
}

/** Absolute path of one pinned program in the cache (a link to the multi-call binary or to a reused one on PATH). */
export function toolPath(cacheDir: string, pin: ToolPin): string {
  return join(cacheDir, pin.dir, pin.name);
}

/**
 * Absolute paths of every program the lab runs, as `npm run setup` leaves
 * them (`npm run setup -- --print-paths` prints them). Pure: it does not
 * check that the setup has run.
 */
export function toolPaths(cacheDir: string): ToolPaths {
  const p = (name: string) => {
    const pin = TOOL_PINS.find((t) => t.name === name);
    if (!pin) throw new Error(`no tool pin named ${name}`);
    return toolPath(cacheDir, pin);
  };
  return {
    etcd: p('etcd'),
    'kube-apiserver': p('kube-apiserver'),
    'kube-controller-manager': p('kube-controller-manager'),
    'kube-scheduler': p('kube-scheduler'),
    'kube-proxy': p('kube-proxy'),
    kubeadm: p('kubeadm'),
    kubectl: p('kubectl'),
    cniBinDir: join(cacheDir, 'cni/bin'),
    cni: { ptp: p('ptp'), 'host-local': p('host-local'), loopback: p('loopback'), portmap: p('portmap') },
  };
}

/** Where setup records what each program is (built here or reused from PATH). */
export const TOOL_MANIFEST = 'bin/manifest.json'; // relative to the cache dir

// ------------------------------------------------------------------ debian

/**
 * Host packages the lab needs: routing daemons run inside the lab's network
 * namespaces (frr, bird), packet filtering and conntrack for kube-proxy and
 * the policies, the usual interface tools, git (its `git http-backend`
 * is the lab's git server, lib/platforms/lab/gitServer.ts), and tayga (the
 * NAT64 translator every node of a cluster with IPv4 egress runs: the
 * lab's machines find it in their image, as the bootstrap's `packages:
 * image` expects), and dig (bind9-dnsutils: verify's DNS questions).
 */
export const DEBIAN_PACKAGES: readonly string[] = ['frr', 'bird', 'nftables', 'iptables', 'ipset', 'conntrack', 'iproute2', 'ethtool', 'iputils-ping', 'util-linux', 'curl', 'iperf3', 'git', 'openssl', 'openssh-client', 'openssh-server', 'jq', 'tayga', 'bind9-dnsutils'];

/** Written (when absent) before installing, so that no package starts its daemon in the host namespace. */
export const POLICY_RC_D = '/usr/sbin/policy-rc.d';

// ------------------------------------------------------------------ Calico

/**
 * Calico's confd template resources (conf.d/*.toml, templates/*.template),
 * copied by `npm run setup` from the same Calico module the CRD schemas
 * come from, into `<cache>/calico/confd-<version>/`. The lab's node agent
 * renders them with n6-confd (tools/confd): calico-node itself cannot be
 * built here (README, "Calico in the lab").
 */
export const CALICO_CONFD = {
  module: 'github.com/projectcalico/calico',
  version: 'v1.11.0-cni-plugin.0.20250813170300-a0db560f0520',
  productVersion: 'v3.28.5',
  dir: 'confd/etc/calico/confd',
  /** Sub-folders and the files copied from each. */
  parts: [
    { sub: 'conf.d', match: /^bird6?(_aggr|_ipam)?\.toml$/ },
    { sub: 'templates', match: /^bird6?(_aggr|_ipam)?\.cfg\.template$/ },
  ],
  mustHave: ['conf.d/bird6.toml', 'conf.d/bird6_aggr.toml', 'conf.d/bird6_ipam.toml', 'templates/bird6.cfg.template', 'templates/bird6_aggr.cfg.template', 'templates/bird6_ipam.cfg.template'],
} as const;

export function calicoConfdDir(cacheDir: string): string {
  return join(cacheDir, 'calico', `confd-${CALICO_CONFD.productVersion}`);
}

/** n6-confd, built by setup from tools/confd. */
export const CONFD_SOURCE_DIR = 'tools/confd';
export function confdBinary(cacheDir: string): string {
  return join(cacheDir, 'bin', 'n6-confd');
}

// -------------------------------------------------------------------- Flux

/**
 * Flux's source-controller and kustomize-controller, built by `npm run
 * setup` (steps bin:flux-source, bin:flux-kustomize) from their published
 * modules at the versions whose CRDs `npm run validate` checks against
 * (SCHEMA_PINS above): the binaries, the CRDs the lab installs and the
 * schemas move together. Each is built through its own consumer module
 * (tools/flux/<name>: upstream's go.mod has replace directives, so `go
 * install module@version` refuses it; one module for both would let MVS
 * move one controller's dependencies to the other's). On the cloud the same
 * release runs from upstream's images (lib/flux/install.ts).
 */
export interface FluxControllerPin extends GoProgramPin {
  /** Program name, file name in `<cache>/bin/`, and Deployment name. */
  readonly name: 'source-controller' | 'kustomize-controller';
}

/** A program built from its published module through a consumer module (tools/<...>), found by its Go build info. */
export interface GoProgramPin extends GoBuildPin {
  /** Program name and file name in `<cache>/bin/`. */
  readonly name: string;
  /** Setup step. */
  readonly step: string;
  readonly module: string;
  readonly version: string;
  /** Upstream's image (the cloud runs `${image}:${version}`). */
  readonly image: string;
  /** `-ldflags` for the build. */
  readonly ldflags: string;
}

export function goProgramBinary(cacheDir: string, name: string): string {
  return join(cacheDir, 'bin', name);
}

/**
 * CoreDNS, the version kubeadm v1.35 deploys (its constants.CoreDNSVersion,
 * v1.13.1), built by setup (step bin:coredns) through tools/coredns. The lab
 * runs it twice: as the cluster's DNS (kubeadm's coredns Deployment, with
 * the dns64 plugin of its default build) and as its internet's resolver.
 */
export const COREDNS: GoProgramPin = {
  name: 'coredns',
  step: 'bin:coredns',
  module: 'github.com/coredns/coredns',
  version: 'v1.13.1',
  image: 'registry.k8s.io/coredns/coredns',
  ldflags: '-s -w',
  sourceDir: 'tools/coredns',
  requires: { 'github.com/coredns/coredns': 'v1.13.1' },
};

/** `-ldflags` for the controllers: stripped, as upstream's Makefile builds them (they have no version variable). */
export const FLUX_LDFLAGS = '-s -w';

function fluxSchemaVersion(module: string): string {
  const pin = SCHEMA_PINS.find((p) => p.module === module);
  if (!pin) throw new Error(`no schema pin for ${module} (SCHEMA_PINS in lib/toolchain/pins.ts)`);
  return pin.version;
}

function fluxController(name: FluxControllerPin['name'], step: string): FluxControllerPin {
  const module = `github.com/fluxcd/${name}`;
  const version = fluxSchemaVersion(module); // The image from docker.io (answers over IPv6), not ghcr.io (no AAAA record).
  return { name, step, module, version, image: `docker.io/fluxcd/${name}`, ldflags: FLUX_LDFLAGS, sourceDir: `tools/flux/${name}`, requires: { [module]: version } };
}

export const FLUX_CONTROLLERS: readonly FluxControllerPin[] = [
  fluxController('source-controller', 'bin:flux-source'),
  fluxController('kustomize-controller', 'bin:flux-kustomize'),
];


export function fluxBinary(cacheDir: string, name: FluxControllerPin['name']): string {
  return goProgramBinary(cacheDir, name);
}

/**
 * The controllers' CRDs (`config/crd/bases/*.yaml` of each controller's
 * module at its pinned version), copied by setup (step flux:crds) into
 * `<cache>/flux/crds/` with a manifest naming module, version, sum and
 * files.
 */
export const FLUX_CRDS = {
  dir: 'config/crd/bases',
  match: /^[a-z0-9.]+_[a-z0-9]+\.yaml$/,
  mustHave: {
    'source-controller': ['source.toolkit.fluxcd.io_gitrepositories.yaml'],
    'kustomize-controller': ['kustomize.toolkit.fluxcd.io_kustomizations.yaml'],
  },
} as const;

export function fluxCrdDir(cacheDir: string): string {
  return join(cacheDir, 'flux', 'crds');
}
