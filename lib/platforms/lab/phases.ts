/**
 * Everything `npm run lab` does, in order: the network, then Kubernetes,
 * then Flux. The groups name the parts for `--only` and `--skip`
 * (`npm run lab -- up --skip flux` builds the lab without Flux;
 * `npm run lab -- phase flux` runs Flux's phases on a running lab).
 */
import { CONTROL_PLANE_PHASES } from './kubernetes/controlPlane.js';
import { FLUX_PHASES } from './kubernetes/flux.js';
import { NETWORK_PHASES, type Phase } from './lab.js';
import { INTERNET_SERVICES_PHASE } from './provider/internet.js';

/** The lab without Flux: what the lab's Pulumi resource brings up (apply installs Flux itself). */
export const UP_PHASES: readonly Phase[] = [...NETWORK_PHASES, INTERNET_SERVICES_PHASE, ...CONTROL_PLANE_PHASES];

export const LAB_PHASES: readonly Phase[] = [...UP_PHASES, ...FLUX_PHASES];

export const LAB_PHASE_GROUPS: Readonly<Record<string, readonly Phase[]>> = {
  network: [...NETWORK_PHASES, INTERNET_SERVICES_PHASE],
  kubernetes: CONTROL_PLANE_PHASES,
  flux: FLUX_PHASES,
};
