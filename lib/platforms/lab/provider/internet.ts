/** The lab internet's own services as a bring-up phase (after the provider's network and metadata). */
import type { Phase } from '../lab.js';
import { ensureLabGitServer } from './gitServer.js';
import { LAB_INTERNET_HOSTS } from './provider.js';
import { ensureLabResolver } from './resolver.js';

/**
 * The internet's own services, beside the metadata service: its DNS resolver
 * and its git hosts (github.example over IPv4 only, gitlab.example over
 * both), as today's internet has them.
 */
export const INTERNET_SERVICES_PHASE: Phase = {
  name: 'internet services',
  async run(ctx) {
    const resolver = await ensureLabResolver(ctx);
    const hosts: string[] = [];
    for (const h of [LAB_INTERNET_HOSTS.gitV4, LAB_INTERNET_HOSTS.gitDual]) {
      const s = await ensureLabGitServer(ctx, `http://${h.name}/native6.git`);
      hosts.push(`${h.name} (${s.listen.join(', ')}) ${s.started ? 'started' : 'running'}`);
    }
    return `resolver ${resolver}; git hosts ${hosts.join('; ')}`;
  },
};

/** The network half of `up`: provider, machines, routers, metadata (BGP starts with each node's agent). */
