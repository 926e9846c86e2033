/**
 * Lab tier, the rack lab bootstrapped over SSH: a `platform: metal` spec of
 * lab machines (one uplink, two routers running the rendered FRR
 * configuration, a control plane and a worker, each with its own sshd),
 * its host keys read from the machines into the spec, then applied with
 * the real Pulumi CLI (file backend) and the metal platform's program:
 * one MetalMachine per machine, the host key pinned, the bootstrap's files
 * and start commands over SSH (the lab's image: native6:bootOptions). Then
 * the lab's own Kubernetes phases, which find each machine's bootstrap
 * started by apply and wait for it: kubeadm init and join, the lab's
 * stand-in for calico-node, kube-proxy, the API handover, the demo.
 *
 * Shown: every machine's sessions with both routers Established under the
 * rendered configuration (MD5 by the cluster's password), the machines'
 * default from BGP, the pod blocks on the routers and at the upstream,
 * the API through its ClusterIP from the host, the demo's Service from the
 * internet; verify whole (what cannot apply says why: no metadata service
 * on metal, one control plane, no Flux); a second apply with the same spec
 * makes no connection and changes nothing; no key or file content in the
 * state in clear; a machine racked and added to the spec joins through a
 * third apply (the others' firewalls updated over SSH); destroy drains the
 * workers through the control plane, deleted last, and resets every machine.
 * Everything it makes is removed in `finally`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRunner } from '../../lib/exec/run.js';
import { hasBgpDefault, labDown, runLabPhases, sessionEstablished } from '../../lib/platforms/lab/lab.js';
import { listNamespaces } from '../../lib/platforms/lab/machine/netns.js';
import { RACK_MACHINE_PHASES, RACK_NETWORK_PHASES, rackBootOptions, rackHostKeys } from '../../lib/platforms/lab/rack/phases.js';
import { rackRouters } from '../../lib/platforms/lab/rack/topology.js';
import { kernelRoutes, labAdminClient, nextHops } from '../../lib/platforms/lab/verify/probes.js';
import { destroyStack, upStack } from '../../lib/pulumi/stack.js';
import { RACK_CLUSTER_PHASES, rackStack, renderRack, type RackLabOptions } from '../../lib/workflows/rackLab.js';
import { labVerify } from '../../lib/platforms/lab/verify/verify.js';
import { readDisk } from '../../lib/platforms/lab/kubernetes/boot.js';
import { BOOT_DONE } from '../../lib/render/bootstrap.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { need, needRoot } from '../prerequisites.js';

const ROOT = process.cwd();
const CLUSTER = 'rk';
const SPEC = `infra/${CLUSTER}.yaml`;

test('rack lab: a metal spec of lab machines applied over SSH with the real Pulumi CLI, its nodes peering with routers that run the rendered configuration', { timeout: 1_500_000 }, async () => {
  needRoot();
  need(pulumiBinary(join(ROOT, '.cache')), 'npm run setup -- bin:pulumi');
  const runner = createRunner();
  const checkout = mkdtempSync(join(tmpdir(), 'n6-rackapply-'));
  const progress = (p: { name: string; note: string; ms: number }) => console.log(`# ${p.name} (${(p.ms / 1000).toFixed(1)} s): ${p.note}`);
  try {
    const rack = (workers: number): RackLabOptions => ({ codeRoot: ROOT, dir: checkout, name: CLUSTER, controlPlanes: 1, workers });
    const render = (hostKeys?: Map<string, string>, workers = 1) => renderRack(rack(workers), hostKeys);
    // 1. The machines as their owner has them; their host keys read into the spec, as a user does.
    let ctx = render();
    await runLabPhases(ctx, [...RACK_NETWORK_PHASES, ...RACK_MACHINE_PHASES], progress);
    const hostKeys = await rackHostKeys(ctx);
    ctx = render(hostKeys);
    assert.match(readFileSync(join(checkout, SPEC), 'utf8'), new RegExp(hostKeys.get(`${CLUSTER}-cp-1`)!.replace(/[+/]/g, '\\$&')));

    // 2. Apply's Pulumi half: the real CLI, the metal program, SSH from this host through the lab.
    const stack = await rackStack(rack(1), ctx);
    const state = join(ctx.paths.root, 'pulumi', 'backend');
    let t = Date.now();
    const up1 = await upStack(stack, (l) => process.stdout.write(l.split('\n').filter((x) => x.includes('native6-metal')).map((x) => `# ${x}\n`).join('')));
    console.log(`# up 1: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(up1.summary)}`);
    assert.equal(up1.summary.create, 5, 'the stack, two machines, the cluster secrets and the admin credential');

    // 3. The lab's Kubernetes phases: each machine's bootstrap, started by apply, waited for.
    const phases = RACK_CLUSTER_PHASES;
    t = Date.now();
    await runLabPhases(ctx, phases, progress);
    console.log(`# the cluster, after apply: ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // 4. Under the rendered configuration: every machine's session with both routers, its default from BGP.
    const routers = rackRouters(ctx.topology);
    for (const m of ctx.topology.machines) {
      for (const r of routers) assert.ok(await sessionEstablished(runner, r.ns, m.address), `${r.name} <-> ${m.machine.name}`);
      assert.ok(await hasBgpDefault(runner, m.ns), `${m.machine.name} has its default from BGP`);
    }
    const admin = labAdminClient(ctx);
    const nodes = await admin.get<{ items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }> } }> }>('/api/v1/nodes');
    assert.deepEqual(nodes.items.map((n) => [n.metadata.name, n.status.conditions.find((c) => c.type === 'Ready')?.status]).sort(), [[`${CLUSTER}-cp-1`, 'True'], [`${CLUSTER}-general-1`, 'True']]);
    const upstream = await kernelRoutes(runner, ctx.topology.internet.ns);
    const services = upstream.find((x) => x.dst === '2001:db8:200:1::/112' || x.dst.startsWith('2001:db8:200:') && x.dst.endsWith('/112'));
    assert.ok(services, `the upstream has the Service range (${upstream.map((x) => x.dst).join(', ')})`);
    assert.equal(nextHops(services).length, 2, 'over both routers');

    // 5. Verify, whole, on the cluster apply bootstrapped (the lab's checks; what cannot apply says why).
    const { report } = await labVerify(ctx);
    console.log(`# verify: ${report.passed} checks passed; not applicable: ${report.notApplicable.map((n) => n.family).join(', ')}`);
    assert.deepEqual(report.checks.filter((c) => !c.ok).map((c) => `${c.name}: expected ${c.expected}, observed ${c.observed}`), []);
    const notApplicable: string[] = report.notApplicable.map((n) => n.family);
    for (const family of ['metadata-bgp-peers', 'flux', 'api-with-control-plane-hung']) assert.ok(notApplicable.includes(family), `${family} cannot apply here`);
    assert.deepEqual(notApplicable.filter((f) => !['metadata-bgp-peers', 'flux', 'api-with-control-plane-hung', 'policy-matrix-host-row', 'client-during-node-hang'].includes(f)), []);
    for (const want of ['bgp/n6-rk_tor-1/sessions-established', 'routes/n6-rk_tor-2/services-ecmp', 'api/clusterip-from-host-kubeconfig', 'boot/rk-general-1/host-firewall', 'services/echo-cluster/cluster-ip-from-internet']) {
      assert.ok(report.checks.some((c) => c.name === want), `verify has no check ${want}`);
    }

    // 6. A second apply with the same spec: nothing to do, no connection.
    t = Date.now();
    const up2 = await upStack(stack);
    console.log(`# up 2: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(up2.summary)}`);
    assert.ok(up2.unchanged, JSON.stringify(up2.summary));
    const exported = () => readdirSync(join(state, '.pulumi', 'stacks', 'native6')).map((f) => readFileSync(join(state, '.pulumi', 'stacks', 'native6', f), 'utf8')).join('\n');
    assert.doesNotMatch(exported(), /BEGIN OPENSSH PRIVATE KEY/, 'the operator key is not in the state in clear');
    assert.doesNotMatch(exported(), /kubeadm join|certificateKey: /, 'no bootstrap file in the state in clear');

    // 7. A machine racked and added to the spec: the lab makes it, its host key goes into the spec,
    // the routers get the rendered file again (a new neighbour), and a second apply joins it.
    ctx = render(hostKeys, 2);
    await runLabPhases(ctx, [...RACK_NETWORK_PHASES, ...RACK_MACHINE_PHASES], progress);
    ctx = render(await rackHostKeys(ctx), 2);
    // Its boot options too (the lab's image): without them it would install from the internet, which the lab has not.
    await stack.setConfig('native6:bootOptions', { value: rackBootOptions(ctx), secret: false });
    t = Date.now();
    const up3 = await upStack(stack);
    console.log(`# up 3 (a worker added): ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(up3.summary)}`);
    // The new machine made; the others' firewalls updated (a new cluster source), the control plane's too.
    assert.deepEqual({ create: up3.summary.create, update: up3.summary.update }, { create: 1, update: 2 });
    await runLabPhases(ctx, phases, progress);
    const added = ctx.topology.machines.find((m) => m.machine.name === `${CLUSTER}-general-2`)!;
    for (const r of routers) assert.ok(await sessionEstablished(runner, r.ns, added.address), `${r.name} <-> ${added.machine.name}`);
    const nodes2 = await admin.get<{ items: Array<{ metadata: { name: string } }> }>('/api/v1/nodes');
    assert.equal(nodes2.items.length, 3);

    // 8. Teardown through Pulumi: each worker drained and deleted through the control plane (which
    // goes last), every machine reset over SSH, nothing left in the state.
    t = Date.now();
    const lines: string[] = [];
    const destroyed = await destroyStack(stack, (l) => lines.push(l));
    console.log(`# destroy: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(destroyed)}`);
    assert.equal(destroyed.delete, 6, 'the stack, three machines, the cluster secrets and the admin credential');
    assert.deepEqual(lines.join('').split('\n').filter((l) => /deregistering .* failed/.test(l) && !l.includes(`${CLUSTER}-cp-1:`)), [], 'the workers deregistered through a live control plane');
    for (const m of ctx.topology.machines) assert.equal(readDisk(ctx, m, BOOT_DONE), undefined, `${m.machine.name} reset`);
    assert.doesNotMatch(exported(), /native6-metal:Machine/, 'no machine left in the state');
  } finally {
    const removed = await labDown(runner, checkout, CLUSTER);
    console.log(`# removed ${removed.length} namespaces`);
    rmSync(checkout, { recursive: true, force: true });
  }
  assert.deepEqual(await listNamespaces(runner, `n6-${CLUSTER}`), [], 'no namespace left');
});
