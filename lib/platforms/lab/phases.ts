/** Everything `npm run lab` does, in order: the network, then Kubernetes. */
import { CONTROL_PLANE_PHASES } from './controlPlane.js';
import { NETWORK_PHASES, type Phase } from './lab.js';

export const UP_PHASES: readonly Phase[] = [...NETWORK_PHASES, ...CONTROL_PLANE_PHASES];
