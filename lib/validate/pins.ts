// The one place where the upstream API schema sources are pinned.
//
// `npm run setup` downloads each module below with `go mod download` (so the
// Go module proxy and go.sum-style checksums do the fetching and integrity
// checking) and copies only the listed files into
// `.cache/schemas/<name>-<version>/`. `npm run validate` checks every rendered
// object against exactly these schemas; bumping a version here is the whole
// upgrade.

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
