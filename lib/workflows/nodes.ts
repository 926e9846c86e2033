/**
 * Apply's last word: every machine of the spec is a Ready Node, or the ones
 * that are not are named, each with why (no Node yet: it has not joined; its
 * Ready condition False or Unknown: the kubelet's own reason). Nodes the spec
 * no longer names are said too: a removed machine leaves its Node behind
 * (nothing deletes a bare-metal Node: no cloud controller), which apply
 * deletes once it is no longer Ready (goneNodes); one still Ready (a machine
 * joined by hand, or removed a moment ago) is only named.
 */
import type { KubeClient } from '../kube/client.js';
import { waitFor, WaitTimeout } from '../phases/wait.js';

interface NodeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface NodeList {
  readonly items: ReadonlyArray<{ readonly metadata: { readonly name: string }; readonly status?: { readonly conditions?: readonly NodeCondition[] } }>;
}

export interface Readiness {
  /** The spec's machines whose Node is Ready, in the spec's order. */
  readonly ready: readonly string[];
  /** The spec's machines that are not, each with why. */
  readonly waiting: ReadonlyArray<{ readonly machine: string; readonly why: string }>;
  /** Nodes that no machine of the spec names. */
  readonly unknown: readonly string[];
}

/** Where to look on a machine that has not joined (the bootstrap's status and journal). */
export const NOT_JOINED =
  'no Node: it has not joined (on the machine: /var/lib/native6/boot-status and `journalctl -u native6-boot`; it tries again until it succeeds)';

export function readiness(machines: readonly string[], nodes: NodeList): Readiness {
  const byName = new Map(nodes.items.map((n) => [n.metadata.name, n]));
  const ready: string[] = [];
  const waiting: Array<{ machine: string; why: string }> = [];
  for (const machine of machines) {
    const node = byName.get(machine);
    const cond = node?.status?.conditions?.find((c) => c.type === 'Ready');
    if (!node) waiting.push({ machine, why: NOT_JOINED });
    else if (cond?.status === 'True') ready.push(machine);
    else if (!cond) waiting.push({ machine, why: 'its Node has no Ready condition yet (the kubelet has not posted its status)' });
    else waiting.push({ machine, why: `Ready=${cond.status}${cond.reason ? ` (${cond.reason}${cond.message ? `: ${cond.message}` : ''})` : ''}` });
  }
  const names = new Set(machines);
  return { ready, waiting, unknown: nodes.items.map((n) => n.metadata.name).filter((n) => !names.has(n)).sort() };
}

/** The Nodes no machine of the spec names whose Ready condition is not True: machines removed from the spec, gone. */
export function goneNodes(machines: readonly string[], nodes: NodeList): string[] {
  const names = new Set(machines);
  return nodes.items
    .filter((n) => !names.has(n.metadata.name) && n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True')
    .map((n) => n.metadata.name)
    .sort();
}

/** Deletes the Nodes of machines removed from the spec (goneNodes); returns their names. */
export async function deleteGoneNodes(client: KubeClient, machines: readonly string[], log: (line: string) => void): Promise<string[]> {
  const gone = goneNodes(machines, await client.get<NodeList>('/api/v1/nodes'));
  for (const name of gone) {
    await client.delete(`/api/v1/nodes/${encodeURIComponent(name)}`, { missingOk: true });
    log(`deleted Node ${name}: no machine of the spec names it and it is not Ready (its machine was removed); its pods are rescheduled`);
  }
  return gone;
}

export class NodesNotReady extends Error {
  override name = 'NodesNotReady';
}

/** Waits until every machine is a Ready Node; throws NodesNotReady naming each that is not, and why, at the timeout. */
export async function waitForNodes(
  client: KubeClient,
  machines: readonly string[],
  o: { readonly timeoutMs: number; readonly intervalMs?: number; readonly log: (line: string) => void; readonly sleep?: (ms: number) => Promise<void>; readonly now?: () => number },
): Promise<Readiness> {
  let last: Readiness | undefined;
  try {
    return await waitFor(
      `every machine a Ready Node (${machines.length})`,
      async (look) => {
        last = readiness(machines, await client.get<NodeList>('/api/v1/nodes'));
        look.seen(`${last.ready.length} of ${machines.length} Ready; waiting for ${last.waiting.map((w) => w.machine).join(', ')}`);
        return last.waiting.length === 0 && last;
      },
      { timeoutMs: o.timeoutMs, intervalMs: o.intervalMs ?? 5000, log: o.log, ...(o.sleep ? { sleep: o.sleep } : {}), ...(o.now ? { now: o.now } : {}) },
    );
  } catch (e) {
    if (!(e instanceof WaitTimeout) || !last) throw e;
    throw new NodesNotReady(
      `${last.waiting.length} of ${machines.length} machine(s) not Ready after ${o.timeoutMs / 1000} s:\n${last.waiting.map((w) => `- ${w.machine}: ${w.why}`).join('\n')}`,
    );
  }
}
