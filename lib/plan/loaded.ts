/** A cluster as loaded from the repository, what every later step takes. */
import type { ClusterSpec } from '../cluster/cluster.js';
import type { Device } from '../cluster/devices.js';
import type { AddressPlan } from './addressPlan.js';

export interface LoadedCluster {
  readonly spec: ClusterSpec;
  readonly plan: AddressPlan;
  /** The devices: planned by the platform, or the provider facts apply recorded; undefined before the first apply where the provider assigns them. */
  readonly devices?: readonly Device[];
  /** The files it was read from (the spec, then the facts), named in every rendered file's header. */
  readonly sources: readonly string[];
}
