/**
 * The platforms, and the one place that chooses among them. Another
 * platform is a folder beside lab/, metal/ and equinixMetal/ implementing Platform
 * (platform.ts), and one line in PLATFORMS.
 */
import type { ClusterSpec } from '../cluster/cluster.js';
import type { PlatformRules } from '../cluster/decode.js';
import { equinixMetalPlatform } from './equinixMetal/platform.js';
import { labPlatform } from './lab/platform.js';
import { metalPlatform } from './metal/platform.js';
import type { Platform } from './platform.js';

/** In the order the spec's error messages offer them. */
export const PLATFORMS: readonly Platform[] = [labPlatform, metalPlatform, equinixMetalPlatform];

/** Every platform's spec rules, by name: what the decoder is given. */
export const platformRules: PlatformRules = new Map(PLATFORMS.map((p) => [p.rules.name, p.rules]));

/** The platform of a decoded spec. */
export function platformOf(spec: Pick<ClusterSpec, 'platform'>): Platform {
  const p = PLATFORMS.find((x) => x.rules.name === spec.platform);
  if (!p) throw new Error(`no platform named "${spec.platform}" (a decoded spec names one of: ${PLATFORMS.map((x) => x.rules.name).join(', ')})`);
  return p;
}
