/**
 * The lab as a Platform: machines in network namespaces on this machine,
 * numbered by the address plan, peering with the lab provider's FRR routers.
 * Its Pulumi resource brings the lab up with the same phases as `npm run
 * lab`; its first bootstrap starts the lab's git server (which Flux reads,
 * as it would read GitHub) and Flux's controllers on the first control
 * plane; before each reconcile the pushed branch is mirrored there.
 */
import type * as pulumi from '@pulumi/pulumi';
import { formatPrefix } from '../../net/ipv6.js';
import { providerFacts } from '../../cluster/devices.js';
import type { LoadedCluster } from '../../plan/loaded.js';
import type { BootstrapContext, ClusterOutputs, Platform } from '../platform.js';
import { installLabFlux } from './kubernetes/flux.js';
import { ensureLabGitServer, pushToLabGitServer } from './provider/gitServer.js';
import { createLabContext } from './lab.js';
import { labDevices } from './provider/metadata.js';
import { LabCluster } from './pulumi.js';
import { labRules } from './rules.js';

function resources({ spec, plan }: LoadedCluster, specFile: string, _config: pulumi.Config): ClusterOutputs {
  const lab = new LabCluster(spec.name, {
    cluster: spec.name,
    specFile,
    machines: plan.machines.map((m) => m.name),
    ranges: plan.ranges.map((r) => `${r.name}=${formatPrefix(r.prefix)}`),
  });
  const facts = lab.devices.apply((devices) => providerFacts(spec.name, formatPrefix(plan.block), devices));
  return { facts, kubeconfig: lab.kubeconfig };
}

async function bootstrap(ctx: BootstrapContext): Promise<void> {
  const lab = createLabContext(ctx.repoRoot, ctx.cluster);
  const server = await ensureLabGitServer(lab, ctx.cluster.spec.gitops.url);
  ctx.log.info(`the lab's git server ${server.started ? 'started' : 'runs'}: ${server.url}`);
  const r = await installLabFlux(lab, ctx.client);
  ctx.log.info(`Flux installed in the lab: ${r.crds} CRDs, ${r.objects} objects, pods ${r.pods.join(', ')}`);
}

/** The lab's Flux reads the lab's git server: it mirrors the branch apply pushed. */
async function publish(ctx: Omit<BootstrapContext, 'client' | 'machines' | 'bgpPassword'>): Promise<void> {
  const { spec } = ctx.cluster;
  const lab = createLabContext(ctx.repoRoot, ctx.cluster);
  await ensureLabGitServer(lab, spec.gitops.url);
  const pushed = await pushToLabGitServer(lab, { from: ctx.repoRoot, branch: spec.gitops.branch, url: spec.gitops.url });
  ctx.log.info(`mirrored ${pushed.commit.slice(0, 12)} to the lab's git server ${pushed.url} ${pushed.branch}`);
}

export const labPlatform: Platform = {
  rules: labRules,
  plannedDevices: labDevices,
  describe: (spec) => spec.platform,
  resources,
  bootstrap,
  publish,
};
