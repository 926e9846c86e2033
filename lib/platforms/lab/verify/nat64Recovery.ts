/**
 * Verify's proof that losing a translator does not cut IPv4 egress for
 * long (issue #14). Each node translates its own pods' packets
 * (lib/render/nat64.ts), so a node's translator serves only that node's
 * pods: a dead node takes its pods and its translator together (their
 * replacements elsewhere use their new node's), and what is left to prove
 * is the translator dying on a live node. Verify kills TAYGA (SIGKILL) on
 * the node of the permitted demo pod and measures, from that pod, how long
 * until a request to the IPv4-only host through NAT64 succeeds again: the
 * unit's Restart=always (RestartSec=2) brings it back with its address
 * mappings (kept in its data folder), and the node's conntrack keeps the
 * masquerade. Another node's pod is asked meanwhile too: its egress never
 * stops.
 */
import type { KubeClient } from '../../../kube/client.js';
import { synthesize } from '../../../net/ipv6.js';
import { EGRESS_NAMESPACE } from '../../../render/apps.js';
import type { LabContext } from '../lab.js';
import { LAB_INTERNET_HOSTS } from '../provider/provider.js';
import type { CheckFn, Families } from './check.js';
import { inPod, type PodItem } from './probes.js';

/** What verify waits for at most: the unit's RestartSec (2 s), TAYGA's start, with room for a loaded machine. */
export const TRANSLATOR_BACK_WITHIN_S = 10;

/** The PIDs of TAYGA in a machine's network namespace. */
async function taygaPids(ctx: LabContext, ns: string): Promise<number[]> {
  const res = await ctx.runner.run('ip', ['netns', 'pids', ns], { allowFail: true });
  const out: number[] = [];
  for (const pid of res.stdout.split('\n').map(Number).filter((n) => n > 0)) {
    const comm = await ctx.runner.run('cat', [`/proc/${pid}/comm`], { allowFail: true });
    if (comm.stdout.trim() === 'tayga') out.push(pid);
  }
  return out;
}

export async function verifyTranslatorRestart(ctx: LabContext, admin: KubeClient, check: CheckFn, families: Families): Promise<void> {
  const prefix = ctx.cluster.plan.nat64;
  if (!prefix) return;
  const pods = (await admin.get<{ items: PodItem[] }>(`/api/v1/namespaces/${EGRESS_NAMESPACE}/pods?labelSelector=app%3Dipv4-allowed`)).items.filter((p) => p.status.podIP && p.spec.nodeName);
  const pod = pods[0];
  const node = ctx.topology.machines.find((m) => m.machine.name === pod?.spec.nodeName);
  if (!pod || !node) {
    families.cannot('nat64-translator-restart', `no running pod labelled app=ipv4-allowed in ${EGRESS_NAMESPACE} to ask from`);
    return;
  }
  const other = pods.find((p) => p.spec.nodeName !== node.machine.name);
  const url = `http://[${synthesize(prefix, LAB_INTERNET_HOSTS.gitV4.ipv4)}]/whoami`;
  const reaches = async (p: PodItem) => (await inPod(ctx, p, ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-m', '1', url])) === '200';
  if (!(await reaches(pod))) {
    check(`nat64/${node.machine.name}/translator-killed`, `back within ${TRANSLATOR_BACK_WITHIN_S} s`, 'the pod did not reach the IPv4-only host before the kill');
    return;
  }
  const pids = await taygaPids(ctx, node.ns);
  if (pids.length === 0) {
    check(`nat64/${node.machine.name}/translator-killed`, `back within ${TRANSLATOR_BACK_WITHIN_S} s`, 'no TAYGA process on the node');
    return;
  }
  for (const pid of pids) await ctx.runner.run('kill', ['-KILL', String(pid)], { allowFail: true });
  const t0 = Date.now();
  let back: number | undefined;
  let otherFailed = 0;
  let otherAsked = 0;
  while (Date.now() - t0 < (TRANSLATOR_BACK_WITHIN_S + 5) * 1000) {
    if (other) {
      otherAsked++;
      if (!(await reaches(other))) otherFailed++;
    }
    if (await reaches(pod)) {
      back = (Date.now() - t0) / 1000;
      break;
    }
  }
  const newPids = await taygaPids(ctx, node.ns);
  const observed = back === undefined ? `not back after ${TRANSLATOR_BACK_WITHIN_S + 5} s` : `back in ${back.toFixed(1)} s${newPids.length ? '' : ' (but no TAYGA runs?)'}`;
  check(
    `nat64/${node.machine.name}/translator-killed`,
    `back within ${TRANSLATOR_BACK_WITHIN_S} s`,
    observed,
    back !== undefined && back <= TRANSLATOR_BACK_WITHIN_S && newPids.length > 0 && !newPids.some((p) => pids.includes(p)),
  );
  ctx.log(`verify: TAYGA killed on ${node.machine.name} (pid ${pids.join(', ')}); ${pod.metadata.name} reached ${LAB_INTERNET_HOSTS.gitV4.name} again after ${back === undefined ? 'never' : `${back.toFixed(1)} s`} (new pid ${newPids.join(', ') || 'none'})`);
  if (other) check(`nat64/${other.spec.nodeName}/egress-while-${node.machine.name}-translator-down`, 'every request answered', otherFailed === 0 ? 'every request answered' : `${otherFailed} of ${otherAsked} requests failed`);
}
