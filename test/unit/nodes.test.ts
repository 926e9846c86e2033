/**
 * Apply's join token and its last phase (lib/workflows/apply.ts "join token"
 * and "nodes"; lib/workflows/nodes.ts, lib/kube/bootstrapToken.ts): the
 * stack's token written again valid for a day, nothing when the platform
 * gives none; every machine of the spec a Ready Node, or each machine that
 * is not named with why, and Nodes the spec no longer names said.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeClient } from '../../lib/kube/client.js';
import { bootstrapTokenSecret, JOIN_TOKEN_VALIDITY_MS, tokenId } from '../../lib/kube/bootstrapToken.js';
import { applyPhases, type ApplyDeps } from '../../lib/workflows/apply.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { NOT_JOINED, NodesNotReady, readiness, type NodeList } from '../../lib/workflows/nodes.js';

const node = (name: string, ready?: { status: string; reason?: string; message?: string }) => ({
  metadata: { name },
  status: { conditions: [{ type: 'MemoryPressure', status: 'False' }, ...(ready ? [{ type: 'Ready', ...ready }] : [])] },
});
const TOKEN = 'abcdef.0123456789abcdef';
const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

describe('every machine a Ready Node', () => {
  it('sorts the machines into Ready and not, each with why, and names Nodes of no machine', () => {
    const nodes: NodeList = {
      items: [
        node('dfw-cp-1', { status: 'True', reason: 'KubeletReady' }),
        node('dfw-cp-2', { status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready: NetworkReady=false' }),
        node('dfw-general-1', { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }),
        node('dfw-general-2'),
        node('dfw-old-9', { status: 'True' }),
      ],
    };
    assert.deepEqual(readiness(['dfw-cp-1', 'dfw-cp-2', 'dfw-cp-3', 'dfw-general-1', 'dfw-general-2'], nodes), {
      ready: ['dfw-cp-1'],
      waiting: [
        { machine: 'dfw-cp-2', why: 'Ready=False (KubeletNotReady: container runtime network not ready: NetworkReady=false)' },
        { machine: 'dfw-cp-3', why: NOT_JOINED },
        { machine: 'dfw-general-1', why: 'Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)' },
        { machine: 'dfw-general-2', why: 'its Node has no Ready condition yet (the kubelet has not posted its status)' },
      ],
      unknown: ['dfw-old-9'],
    });
    assert.match(NOT_JOINED, /boot-status.*journalctl -u native6-boot/);
  });
});

/** A fake API: the Nodes it lists (one list per look, the last repeated), and what was applied. */
function fakeClient(lists: NodeList[]) {
  const applied: Array<{ path: string; obj: Record<string, unknown>; manager: string }> = [];
  const deleted: string[] = [];
  let look = 0;
  const client = {
    get: async (path: string) => {
      assert.equal(path, '/api/v1/nodes');
      return lists[Math.min(look++, lists.length - 1)];
    },
    apply: async (path: string, obj: Record<string, unknown>, manager: string) => void applied.push({ path, obj, manager }),
    delete: async (path: string) => (deleted.push(path), true),
  } as unknown as KubeClient;
  return { client, applied, deleted };
}

function phases(client: KubeClient, outputs: { machines: string[]; joinToken?: string }, nodesTimeoutMs?: number) {
  const lines: string[] = [];
  const sleeps: number[] = [];
  let clock = 0;
  const deps: ApplyDeps = {
    log: createLineLog((l) => lines.push(l)),
    up: async () => assert.fail('not called'),
    bootstrapFlux: async () => assert.fail('not called'),
    waitFlux: async () => assert.fail('not called'),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => new Date(Date.parse('2026-12-06T16:00:00Z') + clock),
  };
  const all = applyPhases({ repoRoot: '/nonexistent', specs: [], remote: 'origin', branch: 'main', fluxTimeoutMs: 1000, ...(nodesTimeoutMs ? { nodesTimeoutMs } : {}) }, deps);
  const state = { stack: 'dfw', specFile: 'infra/dfw.yaml', spec: {} as never, client, up: { outputs: { cluster: 'dfw', platform: 'equinix-metal', specFile: 'infra/dfw.yaml', facts: {} as never, kubeconfig: 'k', ...outputs }, summary: {}, unchanged: false } } as Record<string, unknown>;
  const run = (name: string) => all.find((p) => p.name === name)!.run(state as never);
  return { run, lines, sleeps, state, clock: () => clock };
}

describe("apply's join credentials", () => {
  it('writes the token\'s Secret as kubeadm does, valid for a day from now, forced over kubeadm\'s', async () => {
    const { client, applied } = fakeClient([]);
    const p = phases(client, { machines: [], joinToken: TOKEN });
    await p.run('join credentials');
    assert.equal(applied.length, 1);
    const [a] = applied;
    assert.equal(a!.path, '/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef');
    assert.equal(a!.manager, 'native6-apply');
    assert.equal(a!.obj.type, 'bootstrap.kubernetes.io/token');
    assert.deepEqual(decode(a!.obj.data as Record<string, string>), {
      description: "native6: the stack's join token, renewed by every apply",
      'token-id': 'abcdef',
      'token-secret': '0123456789abcdef',
      expiration: '2026-12-07T16:00:00Z',
      'usage-bootstrap-authentication': 'true',
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
    });
    assert.equal(JOIN_TOKEN_VALIDITY_MS, 86_400_000);
    assert.ok(p.lines.some((l) => l === 'dfw: join token abcdef valid until 2026-12-07T16:00:00.000Z'), p.lines.join('\n'));
    assert.ok(!p.lines.join('\n').includes('0123456789abcdef'), 'the token\'s secret half is not logged');
  });

  it('uploads the shared control-plane keys when the stack holds them, and takes away an owner kubeadm gave', async () => {
    const { client, applied } = fakeClient([]);
    const patched: Array<{ path: string; patch: unknown }> = [];
    Object.assign(client, {
      get: async () => ({ metadata: { ownerReferences: [{ kind: 'Secret', name: 'bootstrap-token-xyz123' }] } }),
      mergePatch: async (path: string, patch: unknown) => void patched.push({ path, patch }),
    });
    const keys = { caCertPem: 'a', caKeyPem: 'b', frontProxyCaCertPem: 'c', frontProxyCaKeyPem: 'd', etcdCaCertPem: 'e', etcdCaKeyPem: 'f', saKeyPem: 'g', saPubPem: 'h' };
    const p = phases(client, { machines: [], joinToken: TOKEN, controlPlaneKeys: { certificateKey: 'ab'.repeat(32), keys } } as never);
    await p.run('join credentials');
    assert.deepEqual(
      applied.map((a) => a.path),
      [
        '/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef',
        '/api/v1/namespaces/kube-system/secrets/kubeadm-certs',
        '/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/kubeadm%3Akubeadm-certs',
        '/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/kubeadm%3Akubeadm-certs',
      ],
    );
    assert.deepEqual(patched, [{ path: '/api/v1/namespaces/kube-system/secrets/kubeadm-certs', patch: { metadata: { ownerReferences: null } } }]);
    assert.ok(p.lines.some((l) => l.includes("the control planes' shared keys uploaded")), p.lines.join('\n'));
  });

  it('a stack without shared keys: the token only, and a warning that says what that means', async () => {
    const { client, applied } = fakeClient([]);
    const p = phases(client, { machines: [], joinToken: TOKEN });
    await p.run('join credentials');
    assert.equal(applied.length, 1);
    assert.ok(p.lines.some((l) => l.startsWith('warning: dfw: the stack holds no shared control-plane keys')), p.lines.join('\n'));
  });

  it('does nothing when the platform gives no token, and refuses a malformed one without printing it', async () => {
    const { client, applied } = fakeClient([]);
    const p = phases(client, { machines: [] });
    await p.run('join credentials');
    assert.deepEqual(applied, []);
    assert.ok(p.lines.some((l) => l.includes('gives no join token')));
    assert.throws(() => tokenId('ABCDEF.0123456789abcdef'), (e: Error) => !e.message.includes('0123456789abcdef'));
    assert.throws(() => bootstrapTokenSecret('abcdef0123456789abcdef', new Date(), 'x'));
  });
});

describe("apply's nodes phase", () => {
  const machines = ['dfw-cp-1', 'dfw-general-1'];
  it('deletes the Nodes of removed machines once not Ready, waits until every machine is Ready, and names Ready Nodes of no machine', async () => {
    const { client, deleted } = fakeClient([
      // The first look: a removed machine's Node, gone (Unknown), is deleted; one still Ready is kept.
      { items: [node('dfw-cp-1', { status: 'True' }), node('dfw-old-2', { status: 'Unknown', reason: 'NodeStatusUnknown' }), node('dfw-old-1', { status: 'True' })] },
      { items: [node('dfw-cp-1', { status: 'True' })] },
      { items: [node('dfw-cp-1', { status: 'True' }), node('dfw-general-1', { status: 'False', reason: 'KubeletNotReady' })] },
      { items: [node('dfw-cp-1', { status: 'True' }), node('dfw-general-1', { status: 'True' }), node('dfw-old-1', { status: 'True' })] },
    ]);
    const p = phases(client, { machines });
    await p.run('nodes');
    assert.deepEqual(deleted, ['/api/v1/nodes/dfw-old-2']);
    assert.ok(p.lines.some((l) => l.startsWith('dfw: deleted Node dfw-old-2: no machine of the spec names it and it is not Ready')), p.lines.join('\n'));
    assert.deepEqual(p.sleeps, [5000, 5000]);
    assert.deepEqual((p.state.nodes as { ready: string[] }).ready, machines);
    assert.ok(p.lines.some((l) => l === 'dfw: 2 of 2 machines are Ready Nodes'), p.lines.join('\n'));
    assert.ok(p.lines.some((l) => l.startsWith('warning: dfw: Ready Nodes that no machine of infra/dfw.yaml names') && l.endsWith('dfw-old-1')), p.lines.join('\n'));
  });

  it('at its timeout, names each machine that is not Ready and why', async () => {
    const { client, deleted } = fakeClient([{ items: [node('dfw-cp-1', { status: 'True' })] }]);
    const p = phases(client, { machines }, 60_000);
    await assert.rejects(p.run('nodes'), (e: unknown) => e instanceof NodesNotReady && /^1 of 2 machine\(s\) not Ready after 60 s:\n- dfw-general-1: no Node: it has not joined/.test((e as Error).message));
    assert.equal(p.clock(), 60_000, "looked every 5 s for the minute");
    assert.deepEqual(deleted, [], "a machine of the spec not yet joined is never deleted");
  });
});

describe("apply's first phase: signed commits", () => {
  it('refuses, before anything is made, a cluster whose Flux verifies commits when apply has no signing key', async () => {
    const { client } = fakeClient([]);
    const p = phases(client, { machines: [] });
    p.state.spec = { gitops: { url: 'https://github.com/acme/clusters', branch: 'main', interval: '5m', verify: { secretRef: 'git-signers' } } };
    await assert.rejects(
      p.run('render (before up)'),
      (e: unknown) => e instanceof Error && /^infra\/dfw\.yaml: spec\.gitops\.verify is set, so Flux applies only signed commits, but apply was given no commit-signing-key/.test(e.message) && /NATIVE6_COMMIT_SIGNING_KEY/.test(e.message),
    );
  });
});
