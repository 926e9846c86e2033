/**
 * Reading a cluster spec into a validated spec and its address plan: the one
 * entry every script, action and the Pulumi program use.
 */
import { planAddresses, slotCollisions, type AddressPlan } from '../plan/addressPlan.js';
import type { ClusterSpec } from './cluster.js';
import { decodeCluster, type DecodeOptions } from './decode.js';
import type { Problem } from './problems.js';

export type LoadResult = { ok: true; spec: ClusterSpec; plan: AddressPlan } | { ok: false; problems: Problem[] };

export function loadCluster(file: string, text: string, options: DecodeOptions = {}): LoadResult {
  const decoded = decodeCluster(file, text, options);
  if (!decoded.ok) return decoded;
  const collisions = slotCollisions(decoded.spec);
  if (collisions.length > 0) {
    return {
      ok: false,
      problems: collisions.map(([a, b]) => ({
        file,
        field: 'spec.workers',
        message: `pools "${a}" and "${b}" hash to the same node address slot`,
        fix: `rename pool "${b}"`,
      })),
    };
  }
  return { ok: true, spec: decoded.spec, plan: planAddresses(decoded.spec) };
}
