/**
 * The API path of an object, from its apiVersion, kind, namespace and name:
 * the kinds the product applies (Kubernetes', Calico's, Flux's). A kind not
 * listed is an error naming it, never a guessed plural.
 */
const PLURALS: Readonly<Record<string, string>> = {
  // Kubernetes
  ConfigMap: 'configmaps',
  CustomResourceDefinition: 'customresourcedefinitions',
  DaemonSet: 'daemonsets',
  Deployment: 'deployments',
  Namespace: 'namespaces',
  NetworkPolicy: 'networkpolicies',
  Pod: 'pods',
  PodDisruptionBudget: 'poddisruptionbudgets',
  ResourceQuota: 'resourcequotas',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  Secret: 'secrets',
  Service: 'services',
  ServiceAccount: 'serviceaccounts',
  // Calico (crd.projectcalico.org/v1)
  BGPConfiguration: 'bgpconfigurations',
  BGPPeer: 'bgppeers',
  FelixConfiguration: 'felixconfigurations',
  GlobalNetworkPolicy: 'globalnetworkpolicies',
  GlobalNetworkSet: 'globalnetworksets',
  IPPool: 'ippools',
  KubeControllersConfiguration: 'kubecontrollersconfigurations',
  // Flux
  Bucket: 'buckets',
  GitRepository: 'gitrepositories',
  Kustomization: 'kustomizations',
  OCIRepository: 'ocirepositories',
};

export interface ObjectRef {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

export function objectPath(o: ObjectRef): string {
  const plural = PLURALS[o.kind ?? ''];
  if (!plural) throw new Error(`no API path known for kind ${o.kind ?? '(none)'} (${o.metadata.name}): add it to lib/kube/paths.ts`);
  const base = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
  return `${base}${o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : ''}/${plural}/${o.metadata.name}`;
}
