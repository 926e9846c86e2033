/**
 * How long until every node's kube-proxy serves what the API says, on a lab
 * that is up (`npm run bench -- lab` runs it after the cold bring-up):
 *   - a new Service: from its creation (the API's answer) until every
 *     machine's nftables table `ip6 kube-proxy` holds its ClusterIP;
 *   - a new endpoint: from the moment echo-cluster's EndpointSlice lists a
 *     new pod as ready until every machine's table holds the pod's address.
 * Every machine's table is read side by side, about every 50 ms; the figure
 * of a sample is the last machine's. The objects it makes are removed.
 */
import { formatAddress, parseAddress } from '../../lib/net/ipv6.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { LabContext } from '../../lib/platforms/lab/lab.js';

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

export interface LagSamples {
  readonly service: number[];
  readonly endpoint: number[];
}

/** Milliseconds from `t0` until every machine's kube-proxy table holds `address` (undefined past `timeoutMs`). */
async function everyNodeHas(ctx: LabContext, address: string, t0: number, timeoutMs: number): Promise<number | undefined> {
  const pending = new Set(ctx.topology.machines.map((m) => m.ns));
  while (pending.size > 0) {
    if (Date.now() - t0 > timeoutMs) return undefined;
    await Promise.all(
      [...pending].map(async (ns) => {
        const res = await ctx.runner.run('nft', ['list', 'table', 'ip6', 'kube-proxy'], { ns, allowFail: true });
        if (res.stdout.includes(address)) pending.delete(ns);
      }),
    );
    if (pending.size > 0) await sleep(50);
  }
  return Date.now() - t0;
}

async function readyAddresses(admin: KubeClient, service: string): Promise<Set<string>> {
  const slices = await admin.get<{ items: Array<{ endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> }> }>(
    `/apis/discovery.k8s.io/v1/namespaces/echo/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${service}`)}`,
  );
  return new Set(slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true).flatMap((e) => e.addresses.map((a) => formatAddress(parseAddress(a)))));
}

export async function serviceLag(ctx: LabContext, admin: KubeClient, samples: number): Promise<LagSamples> {
  const out: LagSamples = { service: [], endpoint: [] };
  for (let i = 0; i < samples; i++) {
    const name = `bench-lag-${i}`;
    const path = `/api/v1/namespaces/echo/services/${name}`;
    const created = await admin.request<{ spec: { clusterIP: string } }>('POST', '/api/v1/namespaces/echo/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'echo' },
      spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    const t0 = Date.now();
    try {
      const ms = await everyNodeHas(ctx, formatAddress(parseAddress(created.spec.clusterIP)), t0, 60_000);
      if (ms === undefined) throw new Error(`service lag: ${name} (${created.spec.clusterIP}) not served by every node within 60 s`);
      out.service.push(ms);
    } finally {
      await admin.delete(path, { missingOk: true });
    }
  }
  const deployment = '/apis/apps/v1/namespaces/echo/deployments/echo';
  const { spec } = await admin.get<{ spec: { replicas?: number } }>(deployment);
  const replicas = spec.replicas ?? 1;
  try {
    for (let i = 0; i < samples; i++) {
      const before = await readyAddresses(admin, 'echo-cluster');
      await admin.mergePatch(deployment, { spec: { replicas: replicas + 1 } });
      let added: string | undefined;
      const waitFrom = Date.now();
      while (!added) {
        if (Date.now() - waitFrom > 180_000) throw new Error('service lag: no new echo pod ready within 180 s');
        added = [...(await readyAddresses(admin, 'echo-cluster'))].find((a) => !before.has(a));
        if (!added) await sleep(50);
      }
      const ms = await everyNodeHas(ctx, added, Date.now(), 60_000);
      if (ms === undefined) throw new Error(`service lag: the new endpoint ${added} not served by every node within 60 s`);
      out.endpoint.push(ms);
      await admin.mergePatch(deployment, { spec: { replicas } });
      // The next sample starts from the same endpoints: the extra pod gone from the slice.
      const waitGone = Date.now();
      while ((await readyAddresses(admin, 'echo-cluster')).has(added) && Date.now() - waitGone < 120_000) await sleep(200);
    }
  } finally {
    await admin.mergePatch(deployment, { spec: { replicas } });
  }
  return out;
}
