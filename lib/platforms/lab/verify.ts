/**
 * `npm run lab -- verify`: what the lab claims, checked on the running
 * system. Each check has a name, what was expected, what was observed, and
 * whether they agree; the report is written as JSON.
 */
import { formatAddress, formatPrefix, parseAddress, parsePrefix } from '../../net/ipv6.js';
import type { Runner } from './exec.js';
import type { LabContext } from './lab.js';
import { establishedSessions } from './lab.js';
import { standinPodBlock } from './standin.js';

export interface Check {
  readonly name: string;
  readonly expected: string;
  readonly observed: string;
  readonly ok: boolean;
}

export interface VerifyReport {
  readonly cluster: string;
  readonly at: string;
  readonly ok: boolean;
  readonly passed: number;
  readonly failed: number;
  readonly checks: readonly Check[];
}

interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  type?: string;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

export async function kernelRoutes(r: Runner, ns: string): Promise<KernelRoute[]> {
  const { stdout } = await r.run('ip', ['-j', '-6', 'route', 'show'], { ns });
  return JSON.parse(stdout) as KernelRoute[];
}

/** Next hops of a route in canonical text, sorted. */
export function nextHops(route: KernelRoute | undefined): string[] {
  if (!route) return [];
  const hops = route.nexthops ? route.nexthops.map((h) => h.gateway) : [route.gateway];
  return hops
    .filter((h): h is string => typeof h === 'string')
    .map((h) => formatAddress(parseAddress(h)))
    .sort();
}

function findRoute(routes: readonly KernelRoute[], prefix: string): KernelRoute | undefined {
  const want = formatPrefix(parsePrefix(prefix));
  return routes.find((x) => {
    const dst = x.dst === 'default' ? '::/0' : x.dst.includes('/') ? x.dst : `${x.dst}/128`;
    try {
      return formatPrefix(parsePrefix(dst)) === want;
    } catch {
      return false;
    }
  });
}

async function ping(r: Runner, ns: string, from: string, to: string): Promise<boolean> {
  const res = await r.run('ping', ['-6', '-c', '1', '-W', '2', '-I', from, to], { ns, allowFail: true, timeoutMs: 5000 });
  return res.code === 0;
}

export async function runVerify(ctx: LabContext): Promise<VerifyReport> {
  const { topology: t, runner: r } = ctx;
  const checks: Check[] = [];
  const check = (name: string, expected: string, observed: string, ok = expected === observed) => checks.push({ name, expected, observed, ok });
  const machines = t.machines;
  const plan = ctx.cluster.plan;
  const services = formatPrefix(plan.services);
  const allMachines = machines.map((m) => m.address).sort();

  for (const router of t.routers) {
    const established = await establishedSessions(r, router.ns);
    check(`bgp/${router.ns}/sessions-established`, `${machines.length}`, `${established}`);
    const routes = await kernelRoutes(r, router.ns);
    for (const m of machines) {
      const block = formatPrefix(standinPodBlock(plan.pods.pool, plan.pods.blockSize, m.machine));
      check(`routes/${router.ns}/pod-block/${m.machine.name}`, `${block} via ${m.address}`, `${block} via ${nextHops(findRoute(routes, block)).join(',') || 'none'}`);
    }
    check(`routes/${router.ns}/services-ecmp`, `${services} via ${allMachines.join(',')}`, `${services} via ${nextHops(findRoute(routes, services)).join(',') || 'none'}`);
  }
  for (const m of machines) {
    const routes = await kernelRoutes(r, m.ns);
    const dflt = findRoute(routes, '::/0');
    check(`routes/${m.machine.name}/downward-default`, 'default route from BGP', dflt && dflt.protocol === 'bird' ? 'default route from BGP' : dflt ? `default route (${dflt.protocol ?? 'static'})` : 'none');
    check(`ping/internet->${m.machine.name}`, 'reply', (await ping(r, t.internet.ns, t.internet.client, m.address)) ? 'reply' : 'no reply');
  }
  const failed = checks.filter((c) => !c.ok).length;
  return { cluster: t.cluster, at: new Date().toISOString(), ok: failed === 0, passed: checks.length - failed, failed, checks };
}
