/**
 * What verify makes for a check of its own and removes afterwards: a
 * namespace made now, after render, with one pod (agnhost netexec, the one
 * program the lab's kubelet runs), labelled so that what an interrupted
 * verify left is found and removed by the next.
 */
import type { KubeClient } from '../../../kube/client.js';
import { ECHO_IMAGE, ECHO_PORT } from '../../../render/apps.js';
import type { LabContext } from '../lab.js';
import type { PodItem } from './probes.js';

/** The label of what verify creates: what an interrupted run left is found by it, and removed by the next. */
export const CREATED_BY = { 'app.kubernetes.io/managed-by': 'native6-verify' } as const;

/** Deletes the namespaces an interrupted verify left. */
export async function deleteLeftNamespaces(ctx: LabContext, admin: KubeClient): Promise<void> {
  const selector = encodeURIComponent(Object.entries(CREATED_BY).map(([k, v]) => `${k}=${v}`).join(','));
  for (const left of (await admin.get<{ items: Array<{ metadata: { name: string } }> }>(`/api/v1/namespaces?labelSelector=${selector}`)).items) {
    ctx.log(`verify: namespace ${left.metadata.name}, left by an interrupted verify, deleted`);
    await admin.delete(`/api/v1/namespaces/${left.metadata.name}`, { missingOk: true });
  }
}

/** Deletes verify's namespace and waits for it to go (its pod stopped by the kubelet); says how it went in the log. */
export async function deleteNamespace(ctx: LabContext, admin: KubeClient, name: string): Promise<void> {
  const start = Date.now();
  try {
    await admin.delete(`/api/v1/namespaces/${name}`, { missingOk: true });
    const gone = await waitFor(60_000, async () => (await admin.find(`/api/v1/namespaces/${name}`)) === undefined);
    ctx.log(`verify: namespace ${name} ${gone ? `deleted in ${((Date.now() - start) / 1000).toFixed(1)} s` : 'still terminating after 60 s (the next verify deletes it)'}`);
  } catch (e) {
    ctx.log(`verify: namespace ${name} not deleted (the next verify deletes it): ${(e as Error).message}`);
  }
}

/**
 * Creates the new namespace's pod (with `labels` besides its own) once its
 * ServiceAccount exists (the API refuses a pod before), and waits for it to
 * run with an address: the pod, or what it is waiting for.
 */
export async function startClient(admin: KubeClient, namespace: string, labels: Readonly<Record<string, string>>): Promise<PodItem | string> {
  const hasAccount = await waitFor(30_000, async () => (await admin.find(`/api/v1/namespaces/${namespace}/serviceaccounts/default`)) !== undefined);
  if (!hasAccount) return `namespace ${namespace} has no default ServiceAccount after 30 s: no pod can be made in it`;
  await admin.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'client', namespace, labels: { app: 'client', ...labels, ...CREATED_BY } },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'client',
          image: ECHO_IMAGE,
          args: ['netexec', `--http-port=${ECHO_PORT}`],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  });
  type Pod = PodItem & { status: { phase?: string; containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string } } }> } };
  let pod: Pod | undefined;
  const running = await waitFor(90_000, async () => {
    pod = await admin.find<Pod>(`/api/v1/namespaces/${namespace}/pods/client`);
    return pod?.status.phase === 'Running' && pod.status.podIP !== undefined;
  });
  if (running && pod) return pod;
  if (!pod) return `${namespace}/client is gone`;
  const waiting = pod.status.containerStatuses?.[0]?.state?.waiting;
  const where = pod.spec.nodeName ? ` on ${pod.spec.nodeName}` : ', not scheduled';
  return `${namespace}/client not running with an address after 90 s: ${pod.status.phase ?? 'no phase'}${where}${waiting ? ` (${waiting.reason}: ${waiting.message ?? ''})` : ''}`;
}

/** Polls `done` every 500 ms until it holds or `timeoutMs` passed; whether it held. */
export async function waitFor(timeoutMs: number, done: () => Promise<boolean>): Promise<boolean> {
  const start = Date.now();
  for (;;) {
    if (await done()) return true;
    if (Date.now() - start >= timeoutMs) return false;
    await new Promise((res) => setTimeout(res, 500));
  }
}
