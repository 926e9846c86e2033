/**
 * The front door for a cluster spec's text: decoded with the platforms'
 * rules, then the address plan's own checks, then planned. Pure; the
 * repository's loader (lib/repo/workspace.ts) reads the files and the facts.
 */
import { basename } from 'node:path';
import { formatPrefix } from '../net/ipv6.js';
import { nat64Default, nat64Overlaps, planAddresses, slotCollisions, type AddressPlan } from '../plan/addressPlan.js';
import { podPoolPlacement } from '../plan/layout.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { decodeCluster, type DecodeOptions, type Locate } from '../cluster/decode.js';
import type { Problem } from '../cluster/problems.js';
import { platformRules } from './index.js';

export type LoadResult = { ok: true; spec: ClusterSpec; plan: AddressPlan } | { ok: false; problems: Problem[] };

/** The address plan's checks of a decoded spec: what would make planAddresses fail. */
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
  // A NAT64 prefix the spec gives, against the ranges of a block it names (a block assigned at apply is checked with the provider facts).
  const { nat64Prefix } = spec.egress;
  const block = n.block.prefix;
  if (!nat64Prefix || !block) return [];
  const hit = nat64Overlaps(planAddresses(spec));
  if (hit.length === 0) return [];
  return [
    {
      file,
      ...locate(['spec', 'egress', 'nat64Prefix']),
      field: 'spec.egress.nat64Prefix',
      message: `${formatPrefix(nat64Prefix)} overlaps the plan's ${hit.map((r) => `${r.name} range ${formatPrefix(r.prefix)}`).join(' and ')}`,
      fix: `pick a /96 outside the plan's ranges (npm run plan shows them), or remove nat64Prefix: the plan then takes ${formatPrefix(nat64Default(block))}`,
    },
  ];
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
