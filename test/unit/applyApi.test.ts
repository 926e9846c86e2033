// Apply's API step (lib/workflows/apply.ts, phase "api"): the API ClusterIP
// first, which every control plane serves, so a first control plane that is
// down does not stop apply; the first control plane's own address when the
// ClusterIP does not answer (before Calico announces it, on a first apply);
// each attempt asks both, in that order; the budget is bounded and said.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPhases, type ApplyDeps } from '../../lib/workflows/apply.js';
import { createLineLog } from '../../lib/workflows/log.js';
import type { KubeClient } from '../../lib/kube/client.js';

/** Fake clients named by their kubeconfig; those in `answering` answer /version. */
function kube(answering: readonly string[], asked: string[]) {
  return (kubeconfig: string): KubeClient =>
    ({
      server: kubeconfig,
      get: async () => {
        asked.push(kubeconfig);
        if (!answering.includes(kubeconfig)) throw new Error(`connect ECONNREFUSED (${kubeconfig})`);
        return { gitVersion: 'v1.35.4' };
      },
    }) as unknown as KubeClient;
}

async function runApiStep(answering: readonly string[], outputs: { kubeconfig: string; bootstrapKubeconfig?: string }, attempts?: number) {
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
  const state = { stack: 'dfw', specFile: 'infra/dfw.yaml', spec: {} as never, up: { outputs: { cluster: 'dfw', platform: 'equinix-metal', specFile: 'infra/dfw.yaml', machines: [], facts: {} as never, ...outputs }, summary: {}, unchanged: false } } as never as { client?: KubeClient };
  let error: Error | undefined;
  try {
    await api.run(state as never);
  } catch (e) {
    error = e as Error;
  }
  return { asked, lines, sleeps, client: state.client, error };
}

test('the ClusterIP answers: apply uses it and asks nothing else', async () => {
  const r = await runApiStep(['clusterip', 'cp-1'], { kubeconfig: 'clusterip', bootstrapKubeconfig: 'cp-1' });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.asked, ['clusterip']);
  assert.equal(r.client?.server, 'clusterip');
  assert.ok(r.lines.some((l) => l.includes('dfw: API server v1.35.4 answers through the API ClusterIP')), r.lines.join('\n'));
});

test('the ClusterIP does not answer yet: the first control plane does, in the same attempt', async () => {
  const r = await runApiStep(['cp-1'], { kubeconfig: 'clusterip', bootstrapKubeconfig: 'cp-1' });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.asked, ['clusterip', 'cp-1']);
  assert.equal(r.client?.server, 'cp-1');
  assert.deepEqual(r.sleeps, [], 'no wait: the second way answered in the first attempt');
  assert.ok(r.lines.some((l) => l.includes('answers through the first control plane')), r.lines.join('\n'));
});

test('neither answers: every attempt asks both, and the error names both ways', async () => {
  const r = await runApiStep([], { kubeconfig: 'clusterip', bootstrapKubeconfig: 'cp-1' }, 3);
  assert.deepEqual(r.asked, ['clusterip', 'cp-1', 'clusterip', 'cp-1', 'clusterip', 'cp-1']);
  assert.match(r.error?.message ?? '', /the API server of dfw: gave up after 3 attempts/);
  assert.match(r.error?.message ?? '', /the API ClusterIP: connect ECONNREFUSED \(clusterip\); the first control plane: connect ECONNREFUSED \(cp-1\)/);
  assert.deepEqual(r.sleeps, [2000, 4000]);
});

test('the default budget is 30 attempts, 2 s doubling to 60 s: about 26 minutes of waiting', async () => {
  const r = await runApiStep([], { kubeconfig: 'clusterip' });
  assert.equal(r.asked.length, 30, 'one way, 30 attempts');
  assert.equal(r.sleeps.length, 29);
  const waited = r.sleeps.reduce((a, b) => a + b, 0) / 1000;
  assert.ok(waited >= 20 * 60 && waited <= 30 * 60, `${waited} s`);
  assert.match(r.error?.message ?? '', /gave up after 30 attempts.*connect ECONNREFUSED \(clusterip\)$/s);
});
