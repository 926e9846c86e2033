// Apply's "BGP password" phase (lib/workflows/apply.ts): the Secret the BGPPeers reference is applied
// at every apply with a key for every machine of the stack, so that a machine an apply added has its
// key before its calico-node starts (it was written at the first bootstrap only: review M6); nothing
// is applied where the platform gives no password (the lab keeps its own), and no password is logged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPhases, APPLY_FIELD_MANAGER, type ApplyDeps } from '../../lib/workflows/apply.js';
import { createLineLog } from '../../lib/workflows/log.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { BGP_SECRET, CALICO_NAMESPACE } from '../../lib/render/calico.js';

async function runPhase(outputs: { machines: string[]; bgpPassword?: string }) {
  const applied: Array<{ path: string; body: { metadata: { name: string; namespace: string }; data: Record<string, string> }; manager: string }> = [];
  const lines: string[] = [];
  const client = {
    pathOf: async (o: { metadata: { name: string; namespace: string } }) => `/api/v1/namespaces/${o.metadata.namespace}/secrets/${o.metadata.name}`,
    apply: async (path: string, body: never, manager: string) => void applied.push({ path, body, manager }),
  } as unknown as KubeClient;
  const deps: ApplyDeps = {
    log: createLineLog((l) => lines.push(l)),
    up: async () => assert.fail('not called'),
    bootstrapFlux: async () => assert.fail('not called'),
    waitFlux: async () => assert.fail('not called'),
  };
  const phase = applyPhases({ repoRoot: '/nonexistent', specs: [], remote: 'origin', branch: 'main', fluxTimeoutMs: 1000 }, deps).find((p) => p.name === 'BGP password')!;
  assert.ok(phase, 'apply has a BGP password phase');
  const state = { stack: 'dfw', specFile: 'infra/dfw.yaml', spec: {} as never, client, up: { outputs: { cluster: 'dfw', platform: 'equinix-metal', specFile: 'infra/dfw.yaml', facts: {} as never, kubeconfig: '', ...outputs }, summary: {}, unchanged: false } };
  await phase.run(state as never);
  return { applied, lines };
}

test('every apply applies the BGP password Secret with a key for each machine, the one just added included', async () => {
  const password = 'Zx9pQ2rT7vK4mN8sL3wY';
  const r = await runPhase({ machines: ['dfw-cp-1', 'dfw-cp-2', 'dfw-cp-3', 'dfw-general-1', 'dfw-general-2'], bgpPassword: password });
  assert.equal(r.applied.length, 1);
  const [secret] = r.applied;
  assert.equal(secret!.path, `/api/v1/namespaces/${CALICO_NAMESPACE}/secrets/${BGP_SECRET}`);
  assert.equal(secret!.manager, APPLY_FIELD_MANAGER);
  assert.deepEqual(Object.keys(secret!.body.data), ['dfw-cp-1', 'dfw-cp-2', 'dfw-cp-3', 'dfw-general-1', 'dfw-general-2']);
  for (const v of Object.values(secret!.body.data)) assert.equal(Buffer.from(v, 'base64').toString(), password);
  assert.ok(r.lines.some((l) => l.includes('a key for each of 5 machines')), r.lines.join('\n'));
  assert.ok(!r.lines.join('\n').includes(password), 'the password is never logged');
});

test('a platform that gives no password (the lab keeps its own): nothing is applied', async () => {
  const r = await runPhase({ machines: ['lab-cp-1'] });
  assert.deepEqual(r.applied, []);
});
