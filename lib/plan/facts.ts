/**
 * Reading and checking provider facts (clusters/<name>/provider-facts.json)
 * against the spec and the address plan. Every problem names the file, the
 * JSON field and the fix; nothing is rendered from facts that disagree with
 * the spec.
 */
import { AddressError, containsAddress, contains, formatPrefix, parseAddress, parsePrefix, type Prefix } from '../net/ipv6.js';
import { nat64Default, nat64Overlaps, planAddresses, planInBlock, type AddressPlan } from './addressPlan.js';
import { API_VERSION, type ClusterSpec } from '../cluster/cluster.js';
import { fieldPath, type Problem } from '../cluster/problems.js';
import { providerFacts, publicIPv6, type BgpNeighbor, type Device, type ProviderFacts } from '../cluster/devices.js';

type Path = Array<string | number>;

class FactsReader {
  readonly problems: Problem[] = [];
  constructor(readonly file: string) {}
  report(path: Path, message: string, fix: string): void {
    this.problems.push({ file: this.file, field: fieldPath(path), message, fix });
  }
  obj(v: unknown, path: Path): Record<string, unknown> | undefined {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    this.report(path, 'must be an object', 're-run apply to record the provider facts again');
    return undefined;
  }
  arr(v: unknown, path: Path): unknown[] | undefined {
    if (Array.isArray(v)) return v;
    this.report(path, 'must be a list', 're-run apply to record the provider facts again');
    return undefined;
  }
  typed<T>(v: unknown, path: Path, type: 'string' | 'number' | 'boolean'): T | undefined {
    if (typeof v === type) return v as T;
    this.report(path, `must be a ${type}, found ${v === undefined ? 'nothing' : JSON.stringify(v)}`, 're-run apply to record the provider facts again');
    return undefined;
  }
}

export type FactsResult = { ok: true; facts: ProviderFacts } | { ok: false; problems: Problem[] };

/** Structural decoding of the facts file; fields outside the shape are ignored (the provider adds fields). */
export function decodeFacts(file: string, text: string): FactsResult {
  const r = new FactsReader(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    r.report([], `is not valid JSON (${(e as Error).message})`, 're-run apply to record the provider facts again');
    return { ok: false, problems: r.problems };
  }
  const root = r.obj(json, []);
  if (!root) return { ok: false, problems: r.problems };
  if (root.apiVersion !== API_VERSION || root.kind !== 'ProviderFacts') {
    r.report(['kind'], `is not a ${API_VERSION} ProviderFacts file`, 're-run apply to record the provider facts again');
  }
  const cluster = r.typed<string>(root.cluster, ['cluster'], 'string');
  const reservedBlock = r.typed<string>(root.reservedBlock, ['reservedBlock'], 'string');
  const devices: Device[] = [];
  (r.arr(root.devices, ['devices']) ?? []).forEach((d, i) => {
    const dp: Path = ['devices', i];
    const dev = r.obj(d, dp);
    if (!dev) return;
    const hostname = r.typed<string>(dev.hostname, [...dp, 'hostname'], 'string');
    const network = r.obj(dev.network, [...dp, 'network']);
    const addresses = (network ? r.arr(network.addresses, [...dp, 'network', 'addresses']) : undefined) ?? [];
    const bgp = r.arr(dev.bgp_neighbors, [...dp, 'bgp_neighbors']) ?? [];
    const addrs = addresses.map((a, j) => {
      const ap: Path = [...dp, 'network', 'addresses', j];
      const o = r.obj(a, ap) ?? {};
      return {
        address_family: r.typed<number>(o.address_family, [...ap, 'address_family'], 'number') as 4 | 6,
        public: r.typed<boolean>(o.public, [...ap, 'public'], 'boolean') ?? false,
        address: r.typed<string>(o.address, [...ap, 'address'], 'string') ?? '',
        gateway: r.typed<string>(o.gateway, [...ap, 'gateway'], 'string') ?? '',
        cidr: r.typed<number>(o.cidr, [...ap, 'cidr'], 'number') ?? 0,
      };
    });
    const neighbors: BgpNeighbor[] = bgp.map((n, j) => {
      const np: Path = [...dp, 'bgp_neighbors', j];
      const o = r.obj(n, np) ?? {};
      if ('md5_password' in o && o.md5_password !== null && o.md5_password !== '') {
        r.report([...np, 'md5_password'], 'holds a password in clear text', 'remove it: passwords never go into git (apply stores them in the cluster as a Secret)');
      }
      const routes = (key: 'routes_in' | 'routes_out') =>
        (r.arr(o[key], [...np, key]) ?? []).map((x, k) => {
          const ro = r.obj(x, [...np, key, k]) ?? {};
          return { route: r.typed<string>(ro.route, [...np, key, k, 'route'], 'string') ?? '', exact: r.typed<boolean>(ro.exact, [...np, key, k, 'exact'], 'boolean') ?? false };
        });
      return {
        address_family: r.typed<number>(o.address_family, [...np, 'address_family'], 'number') as 4 | 6,
        customer_as: r.typed<number>(o.customer_as, [...np, 'customer_as'], 'number') ?? 0,
        customer_ip: r.typed<string>(o.customer_ip, [...np, 'customer_ip'], 'string') ?? '',
        md5_enabled: r.typed<boolean>(o.md5_enabled, [...np, 'md5_enabled'], 'boolean') ?? false,
        multihop: r.typed<boolean>(o.multihop, [...np, 'multihop'], 'boolean') ?? false,
        peer_as: r.typed<number>(o.peer_as, [...np, 'peer_as'], 'number') ?? 0,
        peer_ips: (r.arr(o.peer_ips, [...np, 'peer_ips']) ?? []).map((p, k) => r.typed<string>(p, [...np, 'peer_ips', k], 'string') ?? ''),
        routes_in: routes('routes_in'),
        routes_out: routes('routes_out'),
      };
    });
    devices.push({ hostname: hostname ?? '', network: { addresses: addrs }, bgp_neighbors: neighbors });
  });
  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  return { ok: true, facts: providerFacts(cluster!, reservedBlock!, devices) };
}

/** The plan with the provider's block filled in when the spec only gave its size. */
export function planWithFacts(spec: ClusterSpec, facts: ProviderFacts | undefined): AddressPlan {
  if (spec.network.block.prefix || !facts) return planAddresses(spec);
  let prefix: Prefix;
  try {
    prefix = parsePrefix(facts.reservedBlock);
  } catch (e) {
    if (e instanceof AddressError) return planAddresses(spec); // checkFacts says why
    throw e;
  }
  return prefix.length === spec.network.block.length ? planInBlock(spec, prefix) : planAddresses(spec);
}

/** Announced ranges that the provider must accept from the nodes. */
function announced(plan: AddressPlan): Array<[string, Prefix]> {
  const out: Array<[string, Prefix]> = [
    ['pod pool', plan.pods.pool],
    ['Service range', plan.services],
  ];
  if (plan.loadBalancers) out.push(['LoadBalancer range', plan.loadBalancers]);
  if (plan.externalIPs) out.push(['external IP range', plan.externalIPs]);
  return out;
}

/** Semantic checks of facts against the spec and plan. */
export function checkFacts(file: string, facts: ProviderFacts, spec: ClusterSpec, plan: AddressPlan): Problem[] {
  const problems: Problem[] = [];
  const report = (path: Path, message: string, fix: string) => problems.push({ file, field: fieldPath(path), message, fix });
  const refresh = 're-run apply so it records the provider facts again';
  if (facts.cluster !== spec.name) report(['cluster'], `is "${facts.cluster}", the spec is "${spec.name}"`, refresh);
  let block: Prefix | undefined;
  try {
    block = parsePrefix(facts.reservedBlock);
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
    report(['reservedBlock'], e.message, refresh);
  }
  if (block && spec.network.block.prefix && formatPrefix(block) !== formatPrefix(spec.network.block.prefix)) {
    report(['reservedBlock'], `the provider assigned ${formatPrefix(block)} but ${spec.file} says ${formatPrefix(spec.network.block.prefix)}`, `set spec.network.block in ${spec.file} to ${formatPrefix(block)}`);
  }
  if (block && !spec.network.block.prefix && block.length !== spec.network.block.length) {
    report(['reservedBlock'], `the provider assigned ${formatPrefix(block)}, a /${block.length}, but ${spec.file} asks for a /${spec.network.block.length} (spec.network.blockSize)`, `set spec.network.blockSize in ${spec.file} to ${block.length}, or name the block: block: ${formatPrefix(block)}`);
  }
  const blockAgrees = problems.length === 0;
  // A NAT64 prefix the spec gives beside a block it does not name: checked against the ranges once the block is known.
  const { nat64Prefix } = spec.egress;
  if (block && !spec.network.block.prefix && nat64Prefix && plan.resolved) {
    for (const r of nat64Overlaps(plan)) {
      report(
        ['reservedBlock'],
        `the provider assigned ${formatPrefix(block)}, whose ${r.name} range ${formatPrefix(r.prefix)} overlaps spec.egress.nat64Prefix ${formatPrefix(nat64Prefix)} of ${spec.file}`,
        `pick another /96 for spec.egress.nat64Prefix in ${spec.file}, or remove it: the plan then takes ${formatPrefix(nat64Default(block))}`,
      );
    }
  }
  const planned = new Set(plan.machines.map((m) => m.name));
  facts.devices.forEach((d, i) => {
    const dp: Path = ['devices', i];
    if (!planned.has(d.hostname)) {
      report([...dp, 'hostname'], `device "${d.hostname}" is not a machine of ${spec.file}`, refresh);
      return;
    }
    const v6 = publicIPv6(d);
    let address: bigint | undefined;
    if (!v6) report([...dp, 'network', 'addresses'], `device "${d.hostname}" has no public IPv6 address`, 'give the device a public IPv6 address (Equinix Metal: the default /127)');
    else {
      try {
        address = parseAddress(v6.address);
        parseAddress(v6.gateway);
      } catch (e) {
        if (!(e instanceof AddressError)) throw e;
        report([...dp, 'network', 'addresses'], e.message, refresh);
      }
    }
    // Facts that agree with themselves: the devices' addresses come out of the block (Equinix Metal: /127s of the project's /56).
    if (address !== undefined && block && blockAgrees && !containsAddress(block, address)) {
      report([...dp, 'network', 'addresses'], `device "${d.hostname}" got ${v6!.address}, outside the reserved block ${formatPrefix(block)}`, refresh);
    }
    if (address !== undefined) {
      // A plan still relative to a block of another size (reported above) has no ranges to check against.
      let elsewhere = false;
      for (const r of plan.resolved ? plan.ranges : []) {
        if (r.name === 'block' || r.name === 'nodes') continue;
        if (containsAddress(r.prefix, address)) {
          elsewhere = true;
          report([...dp, 'network', 'addresses'], `device "${d.hostname}" got ${v6!.address}, inside the ${r.name} range ${formatPrefix(r.prefix)}`, 'the provider numbered devices where the planner put another range: open an issue with this file');
        }
      }
      // Inside the block but outside the node range: the baseline's `cluster` set and the machines' firewall name the node range, not the device.
      const nodes = plan.resolved ? plan.ranges.find((r) => r.name === 'nodes') : undefined;
      if (!elsewhere && nodes && block && containsAddress(block, address) && !containsAddress(nodes.prefix, address)) {
        report([...dp, 'network', 'addresses'], `device "${d.hostname}" got ${v6!.address}, outside the node range ${formatPrefix(nodes.prefix)}, which the baseline and the machines' firewall count as the cluster's machines`, 'the provider numbered devices where the planner put no machine: open an issue with this file');
      }
    }
    const v6n = d.bgp_neighbors.filter((n) => n.address_family === 6);
    if (v6n.length === 0) report([...dp, 'bgp_neighbors'], `device "${d.hostname}" has no IPv6 BGP neighbor`, 'enable an IPv6 BGP session on the device (Pulumi: equinix-metal BgpSession, addressFamily ipv6)');
    v6n.forEach((n) => {
      const j = d.bgp_neighbors.indexOf(n);
      const np: Path = [...dp, 'bgp_neighbors', j];
      if (n.customer_as !== spec.network.localASN) report([...np, 'customer_as'], `is ${n.customer_as}, the spec's localASN is ${spec.network.localASN}`, `set spec.network.localASN in ${spec.file} to ${n.customer_as}, or change the project's BGP config`);
      if (n.peer_as !== spec.network.peerASN) report([...np, 'peer_as'], `is ${n.peer_as}, the spec's peerASN is ${spec.network.peerASN}`, `set spec.network.peerASN in ${spec.file} to ${n.peer_as}`);
      if (address !== undefined && n.customer_ip !== v6!.address) report([...np, 'customer_ip'], `is ${n.customer_ip}, not the device's address ${v6!.address}`, 'the session must be sourced from the device address; re-create the BGP session');
      n.peer_ips.forEach((p, k) => {
        try {
          parseAddress(p);
        } catch (e) {
          if (!(e instanceof AddressError)) throw e;
          report([...np, 'peer_ips', k], e.message, refresh);
        }
      });
      const allowed = n.routes_in.map((x) => {
        try {
          return parsePrefix(x.route);
        } catch {
          return undefined;
        }
      });
      for (const [what, prefix] of plan.resolved ? announced(plan) : []) {
        const ok = n.routes_in.some((x, k) => {
          const a = allowed[k];
          return a !== undefined && (x.exact ? formatPrefix(a) === formatPrefix(prefix) : contains(a, prefix));
        });
        if (!ok) report([...np, 'routes_in'], `the provider does not accept the ${what} ${formatPrefix(prefix)} from "${d.hostname}"`, 'announce only inside the project\'s reserved block (check spec.network.block)');
      }
    });
  });
  return problems;
}
