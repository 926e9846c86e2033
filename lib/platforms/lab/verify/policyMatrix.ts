/** The zero-trust policy matrix, observed with packets: every source against every destination, expected vs observed. */
import type { KubeClient } from '../../../kube/client.js';
import { formatAddress } from '../../../net/ipv6.js';
import type { LabContext } from '../lab.js';
import { type PodItem, inPod } from './probes.js';

export interface MatrixCell {
  readonly source: string;
  readonly destination: string;
  readonly expected: 'allow' | 'deny';
  readonly observed: 'allow' | 'deny';
}

/**
 * Every source (the internet, a node, a pod of each kind in the echo
 * namespace) against every destination (each kind of pod, each Service, the
 * API server), expected by the zero-trust baseline and the demo app's
 * policies (written out here, not computed by the engine under test) vs
 * observed: a new TCP connection and an HTTP answer within 3 s is "allow".
 * `overrides` changes expectations (a test that changes a policy).
 */
export async function policyMatrix(ctx: LabContext, admin: KubeClient, overrides: Readonly<Record<string, 'allow' | 'deny'>> = {}): Promise<{ cells: MatrixCell[]; host: string | undefined } | undefined> {
  const t = ctx.topology;
  const pods = (await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods')).items.filter((p) => p.status.podIP && !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp);
  const echo = pods.filter((p) => p.metadata.labels?.app === 'echo');
  const internal = pods.find((p) => p.metadata.labels?.app === 'internal');
  if (echo.length < 2 || !internal) return undefined;
  const svc = async (name: string) => (await admin.get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/echo/services/${name}`)).spec.clusterIP;
  const api = formatAddress(ctx.cluster.plan.apiServer);
  const destinations: Array<{ name: string; url: (from: string) => string }> = [
    { name: 'pod:echo', url: (from) => `http://[${(echo.find((p) => p.metadata.name !== from) ?? echo[0]!).status.podIP}]:8080/` },
    { name: 'pod:internal', url: () => `http://[${internal.status.podIP}]:8080/` },
    { name: 'service:echo-cluster', url: () => '' },
    { name: 'service:internal', url: () => '' },
    { name: 'api-server', url: () => `https://[${api}]/readyz` },
  ];
  const echoCluster = await svc('echo-cluster');
  const internalSvc = await svc('internal');
  destinations[2]!.url = () => `http://[${echoCluster}]/`;
  destinations[3]!.url = () => `http://[${internalSvc}]/`;
  // A node that holds none of the echo namespace's pods (its own pods it reaches unpoliced, as with Calico).
  const busy = new Set(pods.map((p) => p.spec.nodeName));
  const host = t.machines.find((m) => !busy.has(m.machine.name));
  const curl = (url: string) => ['curl', '-sk', '-o', '/dev/null', '-m', '3', '-w', '%{http_code}', url];
  type Source = { name: string; podName?: string; run: (url: string) => Promise<string>; expect: Record<string, 'allow' | 'deny'> };
  const sources: Source[] = [
    {
      name: 'internet',
      run: async (url) => (await ctx.runner.run(curl(url)[0]!, curl(url).slice(1), { ns: t.internet.ns, allowFail: true, timeoutMs: 8000 })).stdout.trim(),
      expect: { 'pod:echo': 'allow', 'pod:internal': 'deny', 'service:echo-cluster': 'allow', 'service:internal': 'deny', 'api-server': 'allow' },
    },
    ...(host
      ? [
          {
            name: `host:${host.machine.name}`,
            run: async (url: string) => (await ctx.runner.run(curl(url)[0]!, curl(url).slice(1), { ns: host.ns, allowFail: true, timeoutMs: 8000 })).stdout.trim(),
            expect: { 'pod:echo': 'allow', 'pod:internal': 'deny', 'service:echo-cluster': 'allow', 'service:internal': 'deny', 'api-server': 'allow' } as Record<string, 'allow' | 'deny'>,
          },
        ]
      : []),
    {
      name: 'pod:echo',
      podName: echo[0]!.metadata.name,
      run: (url) => inPod(ctx, echo[0]!, curl(url)),
      expect: { 'pod:echo': 'deny', 'pod:internal': 'allow', 'service:echo-cluster': 'deny', 'service:internal': 'allow', 'api-server': 'allow' },
    },
    {
      name: 'pod:internal',
      podName: internal.metadata.name,
      run: (url) => inPod(ctx, internal, curl(url)),
      expect: { 'pod:echo': 'deny', 'service:echo-cluster': 'deny', 'service:internal': 'deny', 'api-server': 'allow' },
    },
  ];
  const cells: MatrixCell[] = [];
  for (const s of sources) {
    for (const d of destinations) {
      const base = s.expect[d.name];
      if (!base) continue;
      const key = `${s.name}->${d.name}`;
      const code = await s.run(d.url(s.podName ?? ''));
      cells.push({ source: s.name, destination: d.name, expected: overrides[key] ?? base, observed: /^[1-5]\d\d$/.test(code) ? 'allow' : 'deny' });
    }
  }
  return { cells, host: host?.machine.name };
}
