/**
 * Everything Flux reconciles, as files: one cluster's tree under
 * clusters/<name>/ (its fabric: Calico's objects and the cluster's DNS
 * configuration; a metal cluster's routers' configurations), and the shared trees policies/ and apps/. Pure: the same
 * inputs give byte-identical files.
 */
import { fluxComponents } from '../flux/components.js';
import type { KubeObject } from '../kube/objects.js';
import type { LoadedCluster } from '../plan/loaded.js';
import { FLUX_CONTROLLERS, FLUX_VERSION } from '../toolchain/pins.js';
import { bgpConfiguration, bgpPeers, bgpSecretAccess, felixConfiguration, ipPool, networkSets } from './calico.js';
import { echoBase, echoPublicAddresses, egressBase } from './apps.js';
import { corednsConfigMap } from './coredns.js';
import { birdTemplatesConfigMap } from './birdTemplates.js';
import { nodeSessions } from '../cluster/sessions.js';
import { fluxKustomization, fluxSync, kustomization, stages } from './flux.js';
import { baselinePolicies } from './policies.js';
import { manifestFile, type Manifest } from './yaml.js';
import { renderRouterConfigs } from './routers.js';

export interface RenderedFile {
  /** Path relative to the repository root. */
  readonly path: string;
  readonly content: string;
}

export const FACTS_FILE = 'provider-facts.json';
/** The fabric's file of Calico's BIRD templates, extended (lib/render/birdTemplates.ts). */
export const BIRD_TEMPLATES_FILE = 'bird-templates.yaml';

/** What the tree is rendered from besides the spec: files of the pinned upstream releases, read by lib/repo/workspace.ts pinnedInputs(). */
export interface PinnedInputs {
  /** Flux's controllers' CRDs (readFluxCrds()), for flux-system/gotk-components.yaml. */
  readonly crds: readonly KubeObject[];
  /** Calico's confd templates by file name, for fabric/bird-templates.yaml (lib/render/birdTemplates.ts). */
  readonly calicoTemplates: Readonly<Record<string, string>>;
}

/** Where gotk-components.yaml comes from, for its header: the pinned release. */
export const FLUX_COMPONENTS_SOURCE = `Flux ${FLUX_VERSION} (${FLUX_CONTROLLERS.map((c) => `${c.name} ${c.version}`).join(', ')}; lib/toolchain/pins.ts)`;

/**
 * One cluster's whole tree: clusterFiles() and Flux's own objects
 * (flux-system/gotk-components.yaml), which Flux applies to itself from git.
 */
export function renderCluster(inputs: LoadedCluster, pinned: PinnedInputs): RenderedFile[] {
  const components: RenderedFile = {
    path: `clusters/${inputs.spec.name}/flux-system/gotk-components.yaml`,
    content: manifestFile(`${inputs.sources.join(' and ')} and ${FLUX_COMPONENTS_SOURCE}`, fluxComponents(inputs.spec, pinned.crds)),
  };
  return [...clusterFiles(inputs, pinned.calicoTemplates), components].sort((a, b) => a.path.localeCompare(b.path));
}

/** One cluster's tree but gotk-components.yaml: everything rendered from the spec (and facts) and Calico's pinned templates. */
export function clusterFiles(inputs: LoadedCluster, calicoTemplates: Readonly<Record<string, string>>): RenderedFile[] {
  const { spec, plan, devices } = inputs;
  const root = `clusters/${spec.name}`;
  const source = inputs.sources.join(' and ');
  const file = (path: string, docs: readonly Manifest[]): RenderedFile => ({ path: `${root}/${path}`, content: manifestFile(source, docs) });

  const peers = devices ? bgpPeers(devices) : [];
  const fabric: Array<[string, Manifest[]]> = [
    ['ippool.yaml', [ipPool(plan)]],
    ['bgp-configuration.yaml', [bgpConfiguration(spec, plan)]],
    ['felix-configuration.yaml', [felixConfiguration()]],
    ['network-sets.yaml', networkSets(spec, plan)],
    ['bgp-passwords-rbac.yaml', bgpSecretAccess()],
    // The cluster's DNS configuration: applied with Calico's, before Flux and anything that resolves a name.
    ['coredns.yaml', [corednsConfigMap(spec, plan)]],
    // BFD and the hold time on the nodes' sessions: the templates calico-node's confd reads, mounted over its own.
    [BIRD_TEMPLATES_FILE, [birdTemplatesConfigMap(calicoTemplates, nodeSessions(spec))]],
  ];
  if (peers.length > 0) fabric.push(['bgp-peers.yaml', peers]);

  const publicAddresses = echoPublicAddresses(plan);
  const files: RenderedFile[] = [
    file('kustomization.yaml', [kustomization(['flux-system', ...stages(spec).map((s) => `${s.name}.yaml`)])]),
    file('flux-system/kustomization.yaml', [kustomization(['gotk-components.yaml', 'gotk-sync.yaml'])]),
    file('flux-system/gotk-sync.yaml', fluxSync(spec)),
    ...stages(spec).map((s) => file(`${s.name}.yaml`, [fluxKustomization(spec, s)])),
    file('fabric/kustomization.yaml', [kustomization(fabric.map(([name]) => name))]),
    ...fabric.map(([name, docs]) => file(`fabric/${name}`, docs)),
    file('apps/kustomization.yaml', [kustomization(['../../../apps/echo', '../../../apps/egress'], publicAddresses.length > 0 ? ['public-addresses.yaml'] : [])]),
  ];
  if (publicAddresses.length > 0) files.push(file('apps/public-addresses.yaml', publicAddresses));
  // The routers' side of the sessions, where the spec lists them (metal): for the network team, not for Flux (no kustomization names them).
  if (spec.inventory) files.push(...renderRouterConfigs(spec, plan).map((f) => ({ path: `${root}/${f.path}`, content: f.content })));
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

export function renderShared(): RenderedFile[] {
  const dir = (root: string, source: string, parts: Array<{ file: string; docs: Manifest[] }>): RenderedFile[] => [
    { path: `${root}/kustomization.yaml`, content: manifestFile(source, [kustomization(parts.map((p) => p.file))]) },
    ...parts.map((p) => ({ path: `${root}/${p.file}`, content: manifestFile(source, p.docs) })),
  ];
  return [
    ...dir('policies/baseline', 'lib/render/policies.ts', baselinePolicies()),
    ...dir('apps/echo', 'lib/render/apps.ts', echoBase()),
    ...dir('apps/egress', 'lib/render/apps.ts', egressBase()),
  ].sort((a, b) => a.path.localeCompare(b.path));
}
