/**
 * Lab tier: the whole lab for real from a small spec (3 control planes, 2
 * workers) — network namespaces, FRR routers, kubeadm, etcd, the API
 * servers, kube-proxy, Calico's datastore and each node's BGP agent (BIRD on
 * Calico's own confd templates) — then `verify` (routes, ECMP, Local /128s,
 * the API through its ClusterIP from the internet, with a control plane
 * hung), a second `up` that changes nothing, a worker hung (SIGSTOP) and
 * withdrawn by both routers while the Service keeps answering through the
 * other nodes, every machine switched off and on at once and back by itself
 * (verify again), the first control plane replaced in place and joined again
 * by its own bootstrap (verify again), and `down` leaving nothing behind; then a lab of one machine,
 * where verify reports what cannot apply to it, with the reason. Every
 * family of checks is required by name (test/lab/families.ts). Needs root
 * and what `npm run setup` builds and installs (it fails, naming them,
 * without). Everything it makes is removed in `finally`, even on failure.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRunner } from '../../lib/exec/run.js';
import type { PhaseReport } from '../../lib/phases/phase.js';
import { createLabContext, labDown, runLabPhases, sessionHealth } from '../../lib/platforms/lab/lab.js';
import { replaceMachine, restartAll } from '../../lib/platforms/lab/machine/power.js';
import { MOUNT_NS_DIR, runOnMachine } from '../../lib/platforms/lab/machine/machine.js';
import { readDisk } from '../../lib/platforms/lab/kubernetes/boot.js';
import { BOOT_UNIT } from '../../lib/render/bootPaths.js';
import { UP_PHASES } from '../../lib/platforms/lab/phases.js';
import { listNamespaces, namespacePids } from '../../lib/platforms/lab/machine/netns.js';
import { kernelRoutes, labAdminClient, probeFrom } from '../../lib/platforms/lab/verify/probes.js';
import { labVerify } from '../../lib/platforms/lab/verify/verify.js';
import { policyMatrix } from '../../lib/platforms/lab/verify/policyMatrix.js';
import { parseAllDocuments } from 'yaml';
import { scratchCluster } from '../../lib/repo/scratch.js';
import { need, needRoot } from '../prerequisites.js';
import { assertFamilies, ONE_MACHINE } from './families.js';

const BIN = join(process.cwd(), '.cache/bin');
/** Root, and the programs setup builds. */
function needLab(): void {
  needRoot();
  need(join(BIN, 'kube-apiserver'), 'npm run setup');
}

/** Down, then what it left: every namespace of the cluster, and its machines' mount namespaces. */
async function downAndLeftovers(repo: string, name: string): Promise<{ removed: string[]; namespaces: string[]; mounts: string[] }> {
  const runner = createRunner();
  const removed = await labDown(runner, repo, name);
  return {
    removed,
    namespaces: [...(await listNamespaces(runner, `n6-${name}-`)), ...(await listNamespaces(runner, `n6-${name}_`))],
    mounts: existsSync(MOUNT_NS_DIR) ? readdirSync(MOUNT_NS_DIR).filter((f) => f.startsWith(`n6-${name}`)) : [],
  };
}

// The timeout only guards against a hang: three verifies (each hangs a worker until the node controller
// gives up on it, then waits for it back), a full restart and a replacement take about 22 minutes here.
test('lab: up, verify, idempotent up, hung machine withdrawn, every machine restarted at once, down', { timeout: 2_400_000 }, async () => {
  needLab();
  const scratch = scratchCluster('lt', { controlPlanes: 3, workers: 2, block: '2001:db8:4200::/56' });
  const { repo, cluster } = scratch;
  const runner = createRunner();
  let left: Awaited<ReturnType<typeof downAndLeftovers>> | undefined;
  try {
    const ctx = createLabContext(repo, cluster, { binDir: BIN });
    const first: PhaseReport[] = [];
    await runLabPhases(ctx, UP_PHASES, (p) => first.push(p));
    assert.ok(first.every((p) => p.ok));
    console.log(`# up: ${first.map((p) => `${p.name} ${(p.ms / 1000).toFixed(1)}s`).join(", ")}`);
    // The new Service was served by every node before its pods were: no attempt of the workloads
    // phase's probes went unanswered (a node without the Service drops its packets).
    const workloads = first.find((p) => p.name === 'workloads')!.note;
    const timedOut = [...workloads.matchAll(/(\d+) timed out/g)].map((m) => Number(m[1]));
    assert.equal(timedOut.length, 2, `the workloads phase probes the ClusterIP and the external IP: ${workloads}`);
    assert.deepEqual(timedOut, [0, 0], `a probe waited out a timeout: ${workloads}`);

    const { report } = await labVerify(ctx);
    // Three control planes and two workers, no Flux: every family applies but Flux's.
    assertFamilies(report, ['flux']);
    console.log(`# verify: ${report.passed} checks passed in ${new Set(report.checks.map((c) => c.family)).size} families; not applicable: ${report.notApplicable.map((n) => n.family).join(', ')}`);
    const names = report.checks.map((c) => c.name);
    for (const want of ['bgp/n6-lt_r1/sessions-established', 'routes/n6-lt_r2/services-ecmp', 'api/clusterip-from-host-kubeconfig', 'api/kubernetes-service-endpoints', 'etcd/members-running', 'etcd/secrets-sealed-at-rest', 'api/clusterip-from-internet', 'api/clusterip-from-internet-with-lt-cp-3-hung', 'recovery/lt-cp-3-after-hang', 'services/echo-cluster/cluster-ip-from-internet', 'services/echo-cluster/external-ip-from-internet']) {
      assert.ok(names.includes(want), `verify has no check ${want}`);
    }

    // A policy change: the app's echo -> internal policy goes (as Flux prunes it when it leaves the
    // rendered tree); the matrix changes in exactly those cells, then the policy comes back.
    const admin = labAdminClient(ctx);
    const npPath = '/apis/networking.k8s.io/v1/namespaces/echo/networkpolicies/echo-to-internal';
    const np = parseAllDocuments(readFileSync(join(repo, 'apps/echo/network-policy.yaml'), 'utf8')).map((d) => d.toJS() as { metadata?: { name?: string } }).find((d) => d?.metadata?.name === 'echo-to-internal');
    assert.ok(np, 'the rendered tree has the echo-to-internal NetworkPolicy');
    await admin.request('DELETE', npPath);
    const changed = { 'pod:echo->pod:internal': 'deny', 'pod:echo->service:internal': 'deny' } as const;
    let after = await policyMatrix(ctx, admin, changed);
    for (let i = 0; i < 10 && after!.cells.some((c) => c.expected !== c.observed); i++) {
      await new Promise((res) => setTimeout(res, 1000));
      after = await policyMatrix(ctx, admin, changed);
    }
    assert.deepEqual(after!.cells.filter((c) => c.expected !== c.observed), [], 'the matrix after removing echo-to-internal');
    await admin.apply(npPath, np, 'native6-lab');
    let back = await policyMatrix(ctx, admin);
    for (let i = 0; i < 10 && back!.cells.some((c) => c.expected !== c.observed); i++) {
      await new Promise((res) => setTimeout(res, 1000));
      back = await policyMatrix(ctx, admin);
    }
    assert.deepEqual(back!.cells.filter((c) => c.expected !== c.observed), [], 'the matrix with echo-to-internal back');
    console.log(`# policy matrix: ${after!.cells.length} cells as expected, before and after removing echo-to-internal`);

    // A second up on a running lab changes nothing.
    const second: PhaseReport[] = [];
    await runLabPhases(ctx, UP_PHASES, (p) => second.push(p));
    assert.match(second.find((p) => p.name === 'routers')!.note, /n6-lt_r1: running; n6-lt_r2: running/);
    assert.match(second.find((p) => p.name === 'kubelets')!.note, /0 started, 5 running/);
    assert.match(second.find((p) => p.name === 'machines join')!.note, /all joined/);

    // Hang (SIGSTOP, not kill) a control plane: every process in it stops; both routers withdraw its
    // routes once BFD (100 ms × 3 on both ends: the spec's default, the nodes' BIRD running it from the
    // fabric's templates) declares it down, long before the hold time (9 s) could, and the echo Service
    // answers through the other nodes.
    const echo = await admin.get<{ spec: { clusterIP: string } }>('/api/v1/namespaces/echo/services/echo-cluster');
    // A control plane that runs none of the Service's pods (the lab's control planes take pods: a hung
    // node's endpoints stay in the Service until the node is declared dead, and flows sent to them
    // fail, which is the node lifecycle's business, not the routers'). Three control planes, two echo pods.
    const pods = await admin.get<{ items: Array<{ metadata: { labels?: Record<string, string> }; spec: { nodeName?: string } }> }>('/api/v1/namespaces/echo/pods');
    const busy = new Set(pods.items.filter((p) => p.metadata.labels?.app === 'echo').map((p) => p.spec.nodeName));
    const victim = ctx.topology.machines.filter((m) => m.machine.role === 'control-plane' && !busy.has(m.machine.name)).pop()!;
    assert.ok(victim, `every control plane runs an echo pod (${[...busy].join(', ')})`);
    // Before the hang, each router's BFD session with the victim is up: the nodes' BIRD runs BFD (a
    // session BGP re-established a moment ago, after verify's own hang, asks for its BFD session again).
    for (const r of ctx.topology.routers) {
      const since = Date.now();
      let state: string | undefined;
      while ((state = (await sessionHealth(runner, r.ns, victim.address)).bfd) !== 'up' && Date.now() - since < 60_000) await new Promise((res) => setTimeout(res, 200));
      assert.equal(state, 'up', `${r.ns}'s BFD session with ${victim.machine.name}, 60 s on`);
    }
    const pids = await namespacePids(runner, victim.ns);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      const start = Date.now();
      const withdrawn = async () => {
        for (const r of ctx.topology.routers) {
          const routes = await kernelRoutes(runner, r.ns);
          if (JSON.stringify(routes).includes(`"${victim.address}"`)) return false;
        }
        return true;
      };
      // The bound only guards against a hang (the figure is the benchmarks' business: npm run bench -- failover).
      while (!(await withdrawn())) {
        assert.ok(Date.now() - start < 120_000, `routes via ${victim.address} still on a router 120 s after it hung`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const ms = Date.now() - start;
      // BFD did it: each router's BGP session was reset for BFD, not for its hold timer.
      for (const r of ctx.topology.routers) {
        const health = await sessionHealth(runner, r.ns, victim.address);
        assert.match(health.lastReset ?? '', /BFD Down/i, `${r.ns} dropped ${victim.machine.name} for "${health.lastReset}", not BFD`);
        assert.equal(health.bfd, 'down', `${r.ns}'s BFD session with the hung ${victim.machine.name}`);
      }
      console.log(`# hung machine withdrawn by both routers after ${ms} ms, by BFD (100 ms × 3; hold time 9 s)`);
      const probe = await probeFrom(ctx, ctx.topology.internet.ns, { url: `http://[${echo.spec.clusterIP}]/healthz`, need: 10, timeoutS: 30 });
      assert.ok(probe.ok, `echo-cluster with ${victim.machine.name} hung: ${probe.successes}/${probe.attempts}, last ${probe.last}`);
      console.log(`# echo-cluster through the other nodes while ${victim.machine.name} is hung: ${probe.successes}/${probe.attempts}`);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }

    // Every machine switched off at once and on again, as a power cut does (every process killed, the
    // kernels' state lost, the disks kept), then only what each machine's init system starts: the
    // kubelet and the units its bootstrap enabled. Nothing is done by hand: the lab comes back by itself
    // (each control plane answers the API ClusterIP itself until its kube-proxy serves it) and verify passes.
    const restart = await restartAll(ctx);
    for (const m of ctx.topology.machines) assert.ok(restart.units[m.machine.name]!.includes('native6-host-firewall.service'), `${m.machine.name} started its enabled units`);
    console.log(`# every machine restarted at once (${restart.killed} processes killed): back by itself in ${(restart.backMs / 1000).toFixed(1)} s`);
    const { report: afterRestart } = await labVerify(ctx);
    assertFamilies(afterRestart, ['flux']);
    console.log(`# verify after the restart: ${afterRestart.passed} checks passed`);

    // The first control plane replaced in place (its disk gone, a new machine with its name and
    // address booted from its user-data): its bootstrap finds the cluster answering and joins it
    // as a control plane instead of making a new one, after removing the etcd member its former
    // self left at its address; then verify passes whole again.
    const cp1 = ctx.topology.machines[0]!;
    const members = async () => {
      const cp2 = ctx.topology.machines[1]!;
      const pki = '/etc/kubernetes/pki';
      const out = await runOnMachine(runner, cp2.ns, 'curl', ['-fsS', '--cacert', `${pki}/etcd/ca.crt`, '--cert', `${pki}/apiserver-etcd-client.crt`, '--key', `${pki}/apiserver-etcd-client.key`, '-X', 'POST', '-d', '{}', `https://[${cp2.address}]:2379/v3/cluster/member/list`]);
      return (JSON.parse(out.stdout) as { members: Array<{ ID: string; name: string; peerURLs: string[] }> }).members;
    };
    const before = (await members()).find((x) => x.name === cp1.machine.name);
    assert.ok(before, `${cp1.machine.name} is an etcd member before it is replaced`);
    const replaced = await replaceMachine(ctx, cp1);
    const journal = readDisk(ctx, cp1, `/var/log/native6-lab/${BOOT_UNIT}.log`) ?? '';
    assert.match(journal, /the cluster answers on .*: this machine joins it as a control plane \(no kubeadm init\)/);
    assert.ok(journal.includes(`etcd member ${before.ID} at https://[${cp1.address}]:2380 is a former machine's`), `the former member removed:\n${journal}`);
    const now = await members();
    assert.deepEqual(now.map((x) => x.name).sort(), ctx.topology.machines.filter((x) => x.machine.role === 'control-plane').map((x) => x.machine.name).sort());
    assert.notEqual(now.find((x) => x.name === cp1.machine.name)!.ID, before.ID, 'a new member, not the former one');
    console.log(`# ${cp1.machine.name} replaced in place (${replaced.killed} processes killed, its disk gone): joined the cluster by itself in ${replaced.joinedS.toFixed(1)} s`);
    const { report: afterReplace } = await labVerify(ctx);
    assertFamilies(afterReplace, ['flux']);
    console.log(`# verify after the replacement: ${afterReplace.passed} checks passed`);
  } finally {
    // No assertion here: one would replace the error of a failed run. The leftovers are checked below.
    left = await downAndLeftovers(repo, 'lt');
    scratch.remove();
  }
  assert.ok(left.removed.length >= 7, `down removed ${left.removed.length} namespaces`);
  assert.deepEqual(left.namespaces, []);
  assert.deepEqual(left.mounts, []);
  // With no lab left, not even the private mount holding the machines' mount namespaces remains.
  if (!existsSync(MOUNT_NS_DIR) || readdirSync(MOUNT_NS_DIR).length === 0) {
    assert.equal((await runner.run('mountpoint', ['-q', MOUNT_NS_DIR], { allowFail: true })).code === 0, false, `${MOUNT_NS_DIR} is still mounted`);
  }
});

test('a lab of one machine: verify runs what applies, and says why the rest cannot', { timeout: 600_000 }, async () => {
  needLab();
  const scratch = scratchCluster('lo', { controlPlanes: 1, workers: 0, block: '2001:db8:4500::/56' });
  let left: Awaited<ReturnType<typeof downAndLeftovers>> | undefined;
  try {
    const ctx = createLabContext(scratch.repo, scratch.cluster, { binDir: BIN });
    const up: PhaseReport[] = [];
    await runLabPhases(ctx, UP_PHASES, (p) => up.push(p));
    console.log(`# one machine up: ${(up.reduce((s, p) => s + p.ms, 0) / 1000).toFixed(1)} s`);
    const { report } = await labVerify(ctx);
    assertFamilies(report, [...ONE_MACHINE, 'flux']);
    assert.deepEqual(report.shape, { controlPlanes: 1, machines: 1, flux: false, nat64: true });
    assert.equal(report.notApplicable.find((n) => n.family === 'cluster-service-ecmp-spread')?.reason, '1 machine: every flow enters through it, there is nothing to spread over');
    console.log(`# one machine: ${report.passed} checks passed; not applicable: ${report.notApplicable.map((n) => `${n.family} (${n.reason})`).join('; ')}`);
  } finally {
    left = await downAndLeftovers(scratch.repo, 'lo');
    scratch.remove();
  }
  assert.deepEqual(left.namespaces, []);
  assert.deepEqual(left.mounts, []);
});

test('lab down leaves no process behind', async () => {
  needRoot();
  const runner = createRunner();
  // Not in any namespace of the lab any more, and no program of it anywhere (pods run in their own network namespaces).
  const left = (await runner.run('pgrep', ['-af', '(kubelet|echo|bgp-agent)\\.ts .*(--machine|--node) (lt|lo)-'], { allowFail: true })).stdout.trim();
  assert.equal(left, '', `processes left behind: ${left}`);
  for (const prefix of ['n6-lt', 'n6-lo']) {
    for (const ns of await listNamespaces(runner, prefix)) assert.deepEqual(await namespacePids(runner, ns), [], ns);
    assert.deepEqual(await listNamespaces(runner, prefix), []);
    assert.deepEqual(existsSync(MOUNT_NS_DIR) ? readdirSync(MOUNT_NS_DIR).filter((f) => f.startsWith(prefix)) : [], []);
  }
  // With no lab left, not even the private mount holding the machines' mount namespaces remains.
  if (!existsSync(MOUNT_NS_DIR) || readdirSync(MOUNT_NS_DIR).length === 0) {
    assert.equal((await runner.run('mountpoint', ['-q', MOUNT_NS_DIR], { allowFail: true })).code === 0, false, `${MOUNT_NS_DIR} is still mounted`);
  }
});
