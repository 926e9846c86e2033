/**
 * The front door for a cluster spec's text: decoded with the platforms'
 * rules, then the address plan's own checks, then planned. Pure; the
 * repository's loader (lib/repo/workspace.ts) reads the files and the facts.
 */
import { basename } from 'node:path';
import { formatPrefix, type Prefix } from '../net/ipv6.js';
import { linkOverlaps, nat64Default, nat64Overlaps, planAddresses, slotCollisions, type AddressPlan } from '../plan/addressPlan.js';
import { podPoolPlacement } from '../plan/layout.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { decodeCluster, type DecodeOptions, type Locate } from '../cluster/decode.js';
import type { Problem } from '../cluster/problems.js';
import { platformRules } from './index.js';

export type LoadResult = { ok: true; spec: ClusterSpec; plan: AddressPlan } | { ok: false; problems: Problem[] };

/** The address plan's checks of a decoded spec: what would make planAddresses fail, then what would collide with its ranges (a NAT64 prefix, metal's links). */
export function planProblems(spec: ClusterSpec, locate: Locate = () => ({})): Problem[] {
  const { network: n, file } = spec;
  const placement = podPoolPlacement(n.block.length, n.podPoolSize);
  if (!placement.fits) {
    return [
      {
        file,
        ...locate(['spec', 'network', 'podPoolSize'], ['spec', 'network', 'block'], ['spec', 'network', 'blockSize']),
        field: 'spec.network.podPoolSize',
        message: `a /${n.podPoolSize} pod pool does not fit in a /${n.block.length} block after its fixed ranges (${placement.reason})`,
        fix: `use a smaller pod pool (podPoolSize ${placement.largestFitting} or more) or a larger block`,
      },
    ];
  }
  const collisions = slotCollisions(spec).map(([a, b]) => ({
    file,
    field: 'spec.workers',
    message: `pools "${a}" and "${b}" hash to the same node address slot`,
    fix: `rename pool "${b}"`,
  }));
  if (collisions.length > 0) return collisions;
  // The block is known here (a block assigned at apply is checked with the provider facts); metal always names it.
  const block = n.block.prefix;
  if (!block) return [];
  const plan = planAddresses(spec);
  return [...nat64Problems(spec, plan, block, locate), ...uplinkProblems(spec, plan, block, locate)];
}

/** A NAT64 prefix the spec gives, against the plan's ranges. */
function nat64Problems(spec: ClusterSpec, plan: AddressPlan, block: Prefix, locate: Locate): Problem[] {
  const { nat64Prefix } = spec.egress;
  if (!nat64Prefix) return [];
  const hit = nat64Overlaps(plan);
  if (hit.length === 0) return [];
  return [
    {
      file: spec.file,
      ...locate(['spec', 'egress', 'nat64Prefix']),
      field: 'spec.egress.nat64Prefix',
      message: `${formatPrefix(nat64Prefix)} overlaps the plan's ${hit.map((r) => `${r.name} range ${formatPrefix(r.prefix)}`).join(' and ')}`,
      fix: `pick a /96 outside the plan's ranges (npm run plan shows them), or remove nat64Prefix: the plan then takes ${formatPrefix(nat64Default(block))}`,
    },
  ];
}

/**
 * Each link prefix of a metal spec against the cluster's own addresses: the
 * block, whose ranges the nodes announce and the routers accept (pods,
 * Services, load balancers, external IPs), and the NAT64 prefix every node
 * translates. A link inside them would number its machines, gateway and
 * routers with addresses the cluster routes elsewhere; and the block may be
 * carved further as the spec grows, so all of it is kept off the links. The
 * machines, gateways and routers lie inside their uplink's prefix (the
 * decoder checks), so this covers their addresses too.
 */
function uplinkProblems(spec: ClusterSpec, plan: AddressPlan, block: Prefix, locate: Locate): Problem[] {
  return (spec.inventory?.uplinks ?? []).flatMap((u, i) => {
    const hit = linkOverlaps(plan, u.prefix);
    if (hit.length === 0) return [];
    const inBlock = hit.some((r) => r.name === 'block');
    const what = hit.map((r) => (r.name === 'block' ? `the block ${formatPrefix(r.prefix)} (spec.network.block)` : `its ${r.name} range ${formatPrefix(r.prefix)}`));
    const nat64Given = spec.egress.nat64Prefix !== undefined && hit.some((r) => r.name === 'nat64');
    return [
      {
        file: spec.file,
        ...locate(['spec', 'uplinks', i, 'prefix']),
        field: `spec.uplinks[${i}].prefix`,
        message: `${formatPrefix(u.prefix)} (uplink ${u.name}) overlaps the cluster's own addresses: ${what.join(', ')}; ${
          hit.some((r) => r.name !== 'block') ? 'the machines, gateway and routers on the link would be numbered inside ranges the cluster routes to pods, Services or its NAT64 translators' : 'the plan carves pods, Services and NAT64 from the block, more of it as the spec grows'
        }`,
        fix: inBlock
          ? `write the link's real prefix, outside the block ${formatPrefix(block)}, or give spec.network.block a prefix routed to the cluster that does not contain the links (npm run plan shows its ranges)`
          : nat64Given
            ? `pick spec.egress.nat64Prefix outside the uplinks' prefixes, or remove it: the plan then takes ${formatPrefix(nat64Default(block))}`
            : `write the link's real prefix, outside the cluster's ranges (npm run plan shows them)`,
      },
    ];
  });
}

/** The cluster a spec file must describe: infra/<name>.yaml. */
export function clusterNameOf(file: string): string {
  return basename(file).replace(/\.ya?ml$/, '');
}

export function loadCluster(file: string, text: string, options: DecodeOptions = {}): LoadResult {
  const decoded = decodeCluster(file, text, platformRules, options);
  if (!decoded.ok) return decoded;
  const problems = planProblems(decoded.spec, decoded.locate);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, spec: decoded.spec, plan: planAddresses(decoded.spec) };
}
