/**
 * Calico's datastore in the lab cluster, as a Calico install would leave it
 * before any node runs: the CRDs of the pinned release (the same files
 * `npm run validate` checks against, from the calico module), the
 * calico-node ServiceAccount and its ClusterRole, the BGP password Secret
 * (the apply flow's job: never in git), then the rendered fabric
 * (clusters/<name>/fabric) with server-side apply; and calico-node's confd
 * folder on each machine, with the templates the fabric's ConfigMap holds.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../kube/objects.js';
import { CALICO_NAMESPACE, CALICO_NODE_SERVICE_ACCOUNT } from '../../../render/calico.js';
import { SCHEMA_PINS } from '../../../toolchain/pins.js';
import { schemaDir } from '../../../toolchain/cacheDir.js';
import { calicoConfdDir } from '../../../toolchain/pins.js';
import type { KubeClient } from '../../../kube/client.js';
import { BIRD6_TEMPLATE, BIRD_TEMPLATES_CONFIGMAP, BIRD_TEMPLATES_NAMESPACE } from '../../../render/birdTemplates.js';
import type { LabContext } from '../lab.js';
import type { MachineNode } from '../topology.js';
import { machineRoot } from './boot.js';

export const FIELD_MANAGER = 'native6-lab';

const READ = ['get', 'list', 'watch'];

/** What the lab's BGP agent (standing in for calico-node) may do. */
export function calicoNodeRbac(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CALICO_NODE_SERVICE_ACCOUNT, namespace: CALICO_NAMESPACE } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'native6-lab:calico-node' },
      rules: [
        { apiGroups: [''], resources: ['nodes'], verbs: [...READ, 'patch'] },
        { apiGroups: [''], resources: ['services', 'endpoints', 'namespaces', 'pods'], verbs: READ },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: READ },
        {
          apiGroups: ['crd.projectcalico.org'],
          resources: ['bgpconfigurations', 'bgppeers', 'bgpfilters', 'ippools', 'ipamconfigs', 'felixconfigurations', 'clusterinformations', 'globalnetworkpolicies', 'networkpolicies', 'globalnetworksets', 'networksets', 'hostendpoints'],
          verbs: READ,
        },
        { apiGroups: ['crd.projectcalico.org'], resources: ['ipamblocks', 'blockaffinities'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'native6-lab:calico-node' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'native6-lab:calico-node' },
      subjects: [{ kind: 'ServiceAccount', name: CALICO_NODE_SERVICE_ACCOUNT, namespace: CALICO_NAMESPACE }],
    },
  ];
}

/** The Calico CRDs of the pinned release, from the setup's cache. */
export function calicoCrds(cacheDir: string): KubeObject[] {
  const pin = SCHEMA_PINS.find((p) => p.name === 'calico');
  if (!pin) throw new Error('no Calico schema pin');
  const dir = schemaDir(cacheDir, pin);
  const out: KubeObject[] = [];
  for (const f of readdirSync(dir).filter((n) => pin.match.test(n)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const crd = doc.toJS() as Partial<KubeObject> | null;
      if (crd?.kind === 'CustomResourceDefinition' && crd.metadata?.name) out.push(crd as KubeObject);
    }
  }
  if (out.length === 0) throw new Error(`no Calico CRDs in ${dir}; run npm run setup`);
  return out;
}


/**
 * calico-node's confd folder on a lab machine (/etc/calico/confd on its
 * disk), as on a real node: Calico's conf.d of the pinned release, and the
 * templates of the cluster's ConfigMap as the API server holds it (the
 * rendered fabric's bird-templates.yaml: what calico-node mounts over its
 * own templates), read when the machine's agent starts, as a kubelet
 * mounts it when the pod starts. Returns the folder as the machine sees it.
 */
export async function installConfdFolder(ctx: LabContext, m: MachineNode, client: KubeClient): Promise<string> {
  const cm = await client.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${BIRD_TEMPLATES_NAMESPACE}/configmaps/${BIRD_TEMPLATES_CONFIGMAP}`);
  const templates = Object.entries(cm.data ?? {});
  if (!templates.some(([name]) => name === BIRD6_TEMPLATE)) throw new Error(`ConfigMap ${BIRD_TEMPLATES_NAMESPACE}/${BIRD_TEMPLATES_CONFIGMAP} has no ${BIRD6_TEMPLATE}: is the fabric applied?`);
  const folder = join(machineRoot(ctx, m), CONFD_DIR);
  rmSync(join(folder, 'templates'), { recursive: true, force: true });
  mkdirSync(join(folder, 'templates'), { recursive: true });
  for (const [name, text] of templates) writeFileSync(join(folder, 'templates', name), text);
  rmSync(join(folder, 'conf.d'), { recursive: true, force: true });
  cpSync(join(calicoConfdDir(join(ctx.binDir, '..')), 'conf.d'), join(folder, 'conf.d'), { recursive: true });
  return `/${CONFD_DIR}`;
}

const CONFD_DIR = 'etc/calico/confd';
