// Apply's API step (lib/workflows/apply.ts, phase "api"): the API ClusterIP
// first, which every control plane serves, so a first control plane that is
// down does not stop apply; the first control plane's own address when the
// ClusterIP does not answer (before Calico announces it, on a first apply);
// then each control plane's public IPv4, checked as kubernetes.default.svc (a runner with IPv4
// only); each attempt asks them all, in that order; the budget is bounded and said.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPhases, type ApplyDeps } from '../../lib/workflows/apply.js';
import { createLineLog } from '../../lib/workflows/log.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { parse, stringify } from 'yaml';
import type { Device } from '../../lib/cluster/devices.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { planAddresses } from '../../lib/plan/addressPlan.js';

const dfw = loadSpecFile(REPO_DIR, 'infra/dfw.yaml', { ignoreFacts: true }).cluster!.spec;

/** A kubeconfig whose server's host is `name` (https://<name>), with a CA and a user as the real ones have. */
const kc = (name: string) =>
  stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `https://${name}`, 'certificate-authority-data': 'Q0E=' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x', users: [{ name: 'u', user: { token: 't' } }] });

/** What a kubeconfig names: its server's host, and ` as <tls-server-name>` when it has one. */
function named(kubeconfig: string): string {
  const c = (parse(kubeconfig) as { clusters: Array<{ cluster: { server: string; 'tls-server-name'?: string } }> }).clusters[0]!.cluster;
  return `${new URL(c.server).host}${c['tls-server-name'] ? ` as ${c['tls-server-name']}` : ''}`;
}

/** Fake clients named by their kubeconfig; those in `answering` answer /version. */
function kube(answering: readonly string[], asked: string[]) {
  return (kubeconfig: string): KubeClient => {
    const name = named(kubeconfig);
    return {
      server: name,
      get: async () => {
        asked.push(name);
        if (!answering.includes(name)) throw new Error(`connect ECONNREFUSED (${name})`);
        return { gitVersion: 'v1.35.4' };
      },
    } as unknown as KubeClient;
  };
}

/** A device as the provider gives it: its public IPv6 /127 and, when given, its public IPv4 /31. */
function device(hostname: string, v4?: string): Device {
  const addresses = [
    { address_family: 6 as const, public: true, address: '2001:db8:2a00::3', gateway: '2001:db8:2a00::2', cidr: 127 },
    ...(v4 ? [{ address_family: 4 as const, public: true, address: v4, gateway: v4.replace(/\d+$/, (x) => String(Number(x) - 1)), cidr: 31 }] : []),
    { address_family: 4 as const, public: false, address: '10.0.0.3', gateway: '10.0.0.2', cidr: 31 },
  ];
  return { hostname, network: { addresses }, bgp_neighbors: [] };
}

async function runApiStep(answering: readonly string[], outputs: { kubeconfig: string; bootstrapKubeconfig?: string; devices?: Device[] }, attempts?: number) {
  const asked: string[] = [];
  const lines: string[] = [];
  const sleeps: number[] = [];
  const deps: ApplyDeps = {
    log: createLineLog((l) => lines.push(l)),
    up: async () => assert.fail('not called'),
    bootstrapFlux: async () => assert.fail('not called'),
    waitFlux: async () => assert.fail('not called'),
    kube: kube(answering, asked),
    sleep: async (ms) => void sleeps.push(ms),
  };
  const api = applyPhases({ repoRoot: '/nonexistent', specs: [], remote: 'origin', branch: 'main', fluxTimeoutMs: 1000, ...(attempts ? { apiAttempts: attempts } : {}) }, deps).find((p) => p.name === 'api')!;
  const { devices, ...kubeconfigs } = outputs;
  const facts = { apiVersion: 'native6.dev/v1alpha1', kind: 'ProviderFacts', cluster: 'dfw', reservedBlock: '2001:db8:2a00::/56', devices: devices ?? [] };
  const state = { stack: 'dfw', specFile: 'infra/dfw.yaml', spec: dfw, up: { outputs: { cluster: 'dfw', platform: 'equinix-metal', specFile: 'infra/dfw.yaml', machines: [], facts, ...kubeconfigs }, summary: {}, unchanged: false } } as never as { client?: KubeClient };
  let error: Error | undefined;
  try {
    await api.run(state as never);
  } catch (e) {
    error = e as Error;
  }
  return { asked, lines, sleeps, client: state.client, error };
}

test('the ClusterIP answers: apply uses it and asks nothing else', async () => {
  const r = await runApiStep(['clusterip', 'cp-1'], { kubeconfig: kc('clusterip'), bootstrapKubeconfig: kc('cp-1') });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.asked, ['clusterip']);
  assert.equal(r.client?.server, 'clusterip');
  assert.ok(r.lines.some((l) => l.includes('dfw: API server v1.35.4 answers through the API ClusterIP')), r.lines.join('\n'));
});

test('the ClusterIP does not answer yet: the first control plane does, in the same attempt', async () => {
  const r = await runApiStep(['cp-1'], { kubeconfig: kc('clusterip'), bootstrapKubeconfig: kc('cp-1') });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.asked, ['clusterip', 'cp-1']);
  assert.equal(r.client?.server, 'cp-1');
  assert.deepEqual(r.sleeps, [], 'no wait: the second way answered in the first attempt');
  assert.ok(r.lines.some((l) => l.includes('answers through the first control plane')), r.lines.join('\n'));
});

test('neither answers: every attempt asks both, and the error names both ways', async () => {
  const r = await runApiStep([], { kubeconfig: kc('clusterip'), bootstrapKubeconfig: kc('cp-1') }, 3);
  assert.deepEqual(r.asked, ['clusterip', 'cp-1', 'clusterip', 'cp-1', 'clusterip', 'cp-1']);
  assert.match(r.error?.message ?? '', /the API server of dfw: gave up after 3 attempts/);
  assert.match(r.error?.message ?? '', /the API ClusterIP: connect ECONNREFUSED \(clusterip\); the first control plane: connect ECONNREFUSED \(cp-1\)/);
  assert.deepEqual(r.sleeps, [2000, 4000]);
});

test('the default budget is 30 attempts, 2 s doubling to 60 s: about 26 minutes of waiting', async () => {
  const r = await runApiStep([], { kubeconfig: kc('clusterip') });
  assert.equal(r.asked.length, 30, 'one way, 30 attempts');
  assert.equal(r.sleeps.length, 29);
  const waited = r.sleeps.reduce((a, b) => a + b, 0) / 1000;
  assert.ok(waited >= 20 * 60 && waited <= 30 * 60, `${waited} s`);
  assert.match(r.error?.message ?? '', /gave up after 30 attempts.*connect ECONNREFUSED \(clusterip\)$/s);
});

test('a runner with IPv4 only: the control planes are asked over their IPv4, checked as kubernetes.default.svc', async () => {
  const cps = planAddresses(dfw).machines.filter((m) => m.role === 'control-plane').map((m) => m.name);
  assert.ok(cps.length >= 2, 'dfw has several control planes');
  const worker = planAddresses(dfw).machines.find((m) => m.role === 'worker')!.name;
  // The first control plane has no IPv4 (a platform may give none); the others have; a worker's IPv4 is no API.
  const devices = [device(cps[0]!), ...cps.slice(1).map((n, i) => device(n, `198.51.100.${2 * i + 3}`)), device(worker, '198.51.100.99')];
  const second = '198.51.100.3 as kubernetes.default.svc'; // URL.host leaves out https' own port, 443
  const r = await runApiStep([second], { kubeconfig: kc('clusterip'), bootstrapKubeconfig: kc('cp-1'), devices });
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual(r.asked, ['clusterip', 'cp-1', second], 'the IPv6 ways first, then the control planes over IPv4, in their order');
  assert.equal(r.client?.server, second);
  assert.ok(r.lines.some((l) => l.includes(`answers through ${cps[1]} over IPv4 (198.51.100.3)`)), r.lines.join('\n'));

  // None answers: every attempt asks every control plane's IPv4, never the worker's, and the error names each.
  const none = await runApiStep([], { kubeconfig: kc('clusterip'), devices }, 2);
  const v4 = cps.slice(1).map((_, i) => `198.51.100.${2 * i + 3} as kubernetes.default.svc`);
  assert.deepEqual(none.asked, [...['clusterip', ...v4], ...['clusterip', ...v4]]);
  assert.ok(!none.asked.some((a) => a.startsWith('198.51.100.99')), 'no worker');
  for (const [i, n] of cps.slice(1).entries()) assert.match(none.error?.message ?? '', new RegExp(`${n} over IPv4 \\(198\\.51\\.100\\.${2 * i + 3}\\): connect ECONNREFUSED`));
});
