/**
 * What the baseline must refuse, tried with packets (review security-2026-12 H3 and M1):
 *
 * - a pod of a new namespace that labels itself as a trusted network
 *   (`native6.dev/network: trusted`, the label the baseline's network sets
 *   carry), its namespace letting every egress out as a tenant may, gets
 *   nothing from that label: the internal pod, which only its own
 *   namespace's echo pods may reach, does not answer it; the API server
 *   does (the pod's network works, so the refusal is the policy's);
 * - in that namespace, a pod on the host's network (outside every workload
 *   policy) is refused by the cluster's Pod Security default (baseline);
 * - the internet asks the cluster's DNS on the kube-dns ClusterIP (the
 *   Service range is announced; kube-proxy masquerades such traffic to a
 *   node address): no answer, over UDP or TCP, so the cluster's resolver is
 *   no open resolver; a pod's asking it is the cluster-dns family's.
 *
 * The namespace is deleted afterwards, even when a step failed.
 */
import { randomBytes } from 'node:crypto';
import { KubeError, type KubeClient } from '../../../kube/client.js';
import { formatAddress, parseAddress } from '../../../net/ipv6.js';
import { ECHO_PORT } from '../../../render/apps.js';
import { CLUSTER_DOMAIN } from '../../../render/kubeadm.js';
import type { LabContext } from '../lab.js';
import type { CheckFn } from './check.js';
import { policyListing } from './egress.js';
import { inPod, type PodItem } from './probes.js';
import { CREATED_BY, deleteLeftNamespaces, deleteNamespace, startClient, waitFor } from './tenant.js';

/** The label a pod puts on itself to pass for one of the baseline's trusted networks. */
export const TRUSTED_LABEL = { 'native6.dev/network': 'trusted' } as const;

const curl = (url: string) => ['curl', '-sk', '-o', '/dev/null', '-m', '3', '-w', '%{http_code}', url];
const answered = (code: string) => (/^[1-5]\d\d$/.test(code) ? 'answered' : 'no answer');

export async function verifyPolicyAttacks(ctx: LabContext, admin: KubeClient, check: CheckFn): Promise<void> {
  await trustedLabelPod(ctx, admin, check);
  await internetToClusterDns(ctx, admin, check);
}

async function trustedLabelPod(ctx: LabContext, admin: KubeClient, check: CheckFn): Promise<void> {
  const name = 'policy/attack/pod-labelled-trusted->pod:internal';
  const expected = 'no answer from pod:internal; the API server answers';
  const internal = (await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods?labelSelector=app%3Dinternal')).items.find((p) => p.status.podIP);
  if (!internal) {
    check(name, expected, 'no internal pod with an address in namespace echo', false);
    return;
  }
  const namespace = `verify-tenant-${randomBytes(3).toString('hex')}`;
  await deleteLeftNamespaces(ctx, admin);
  try {
    await admin.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { ...CREATED_BY } } });
    // What a tenant may write in its own namespace: every egress allowed (the baseline denies it by default).
    await admin.request('POST', `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'tenant-allows-all-egress', namespace, labels: { ...CREATED_BY } },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] },
    });
    await hostNetworkPod(admin, namespace, check);
    const pod = await startClient(admin, namespace, TRUSTED_LABEL);
    if (typeof pod === 'string') {
      check(name, expected, pod, false);
      return;
    }
    // Every node's agent has seen the pod once its own node has compiled its chain (one round, about 1 s); two rounds more for the others.
    const node = ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName);
    const address = formatAddress(parseAddress(pod.status.podIP!));
    const chained = node !== undefined && (await waitFor(20_000, async () => {
      const listing = await policyListing(ctx, node.ns);
      return typeof listing !== 'string' && listing.egressChains.has(address);
    }));
    if (!chained) {
      check(name, expected, `${namespace}/client (${address}) has no egress chain on ${pod.spec.nodeName ?? '(no node)'} after 20 s`, false);
      return;
    }
    await new Promise((res) => setTimeout(res, 2500));
    const toInternal = answered(await inPod(ctx, pod, curl(`http://[${internal.status.podIP}]:${ECHO_PORT}/`)));
    const toApi = answered(await inPod(ctx, pod, curl(`https://[${formatAddress(ctx.cluster.plan.apiServer)}]/readyz`)));
    check(name, expected, `${toInternal} from pod:internal; the API server: ${toApi}`, toInternal === 'no answer' && toApi === 'answered');
  } finally {
    await deleteNamespace(ctx, admin, namespace);
  }
}

/**
 * A host-network pod in a namespace that says nothing (review M2: it would sit in the node's network
 * namespace, outside every workload policy): refused by the cluster's Pod Security default (baseline),
 * asked as a server-side dry run.
 */
async function hostNetworkPod(admin: KubeClient, namespace: string, check: CheckFn): Promise<void> {
  const name = 'policy/attack/host-network-pod-in-new-namespace';
  const expected = 'refused: violates PodSecurity "baseline:latest" (host namespaces)';
  // The namespace's default ServiceAccount (the controller manager makes it) must exist before any pod is admitted.
  await waitFor(20_000, async () => (await admin.find(`/api/v1/namespaces/${namespace}/serviceaccounts/default`)) !== undefined);
  const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'on-the-host', labels: { ...CREATED_BY } }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec'] }] } };
  let observed: string;
  try {
    await admin.request('POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All`, body);
    observed = 'admitted';
  } catch (e) {
    observed = e instanceof KubeError ? e.message.replace(/^[A-Z]+ \S+: /, '') : (e as Error).message;
  }
  check(name, expected, observed, /violates PodSecurity "baseline:latest": host namespaces/.test(observed));
}

async function internetToClusterDns(ctx: LabContext, admin: KubeClient, check: CheckFn): Promise<void> {
  const dns = (await admin.get<{ spec: { clusterIP: string } }>('/api/v1/namespaces/kube-system/services/kube-dns')).spec.clusterIP;
  const name = `kubernetes.default.svc.${CLUSTER_DOMAIN}`;
  for (const transport of ['udp', 'tcp'] as const) {
    const res = await ctx.runner.run('dig', ['+time=2', '+tries=1', ...(transport === 'tcp' ? ['+tcp'] : []), `@${dns}`, name, 'AAAA'], { ns: ctx.topology.internet.ns, allowFail: true, timeoutMs: 8000 });
    const status = /status: ([A-Z]+)/.exec(res.stdout)?.[1];
    check(`policy/attack/internet->dns:kube-dns/${transport}`, 'no answer (the cluster\'s resolver is no open resolver)', status ? `answered ${status}` : 'no answer', status === undefined);
  }
}
