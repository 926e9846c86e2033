/**
 * The platform seam. A platform is where a cluster's machines come from and
 * how they are first brought up: the lab on this machine, Equinix Metal.
 * Everything else (the spec's shape, the address plan, the renderers, the
 * workflows) is the same for every platform and asks these questions
 * instead of naming one. lib/platforms/index.ts is the one place that lists
 * the platforms; adding one is a folder and a line there.
 */
import type * as pulumi from '@pulumi/pulumi';
import type { SharedControlPlaneKeys } from '../kube/kubeadmCerts.js';
import type { KubeClient } from '../kube/client.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import type { LoadedCluster } from '../plan/loaded.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import type { Device, ProviderFacts } from '../cluster/devices.js';
import type { SpecRules } from '../cluster/rules.js';

/** What the Pulumi program exports for every platform (stack outputs). */
export interface ClusterOutputs {
  /** The devices as the provider sees them (passwords removed): clusters/<name>/provider-facts.json. */
  readonly facts: pulumi.Output<ProviderFacts>;
  /** The admin kubeconfig, naming the API server's ClusterIP (secret). */
  readonly kubeconfig: pulumi.Output<string>;
  /** A kubeconfig for the first control plane's own address, before the ClusterIP is announced (secret). */
  readonly bootstrapKubeconfig?: pulumi.Output<string>;
  /** The nodes' BGP password (secret). */
  readonly bgpPassword?: pulumi.Output<string>;
  /** The kubeadm bootstrap token every machine's bootstrap joins with (secret): apply keeps it valid (lib/kube/bootstrapToken.ts). */
  readonly joinToken?: pulumi.Output<string>;
  /** The keys every control plane shares and the certificate key that encrypts them (secret): apply hands them to joining control planes (lib/kube/kubeadmCerts.ts). */
  readonly controlPlaneKeys?: pulumi.Output<{ readonly certificateKey: string; readonly keys: SharedControlPlaneKeys } | undefined>;
  /** The API endpoint's DNS name, when spec.dns names a zone. */
  readonly apiEndpointName?: string;
}

/** What apply's bootstrap is given (lib/workflows/apply.ts). */
export interface BootstrapContext {
  readonly repoRoot: string;
  readonly cluster: LoadedCluster;
  /** The machines' names. */
  readonly machines: readonly string[];
  readonly client: KubeClient;
  readonly bgpPassword?: string;
  readonly log: { info(line: string): void };
}

export interface Platform {
  /** What the platform decides about a spec (its metros, plans, blocks, defaults). */
  readonly rules: SpecRules;
  /**
   * The devices, when the spec and the plan decide them (the lab numbers its
   * machines); undefined when the provider assigns them, recorded at apply
   * as clusters/<name>/provider-facts.json.
   */
  plannedDevices?(spec: ClusterSpec, plan: AddressPlan): Device[];
  /** One line naming where the cluster runs, e.g. "equinix-metal, metro da". */
  describe(spec: ClusterSpec): string;
  /** The cluster's Pulumi resources (the Pulumi program, lib/pulumi/program.ts). */
  resources(cluster: LoadedCluster, specFile: string, config: pulumi.Config): ClusterOutputs;
  /** Apply's first bring-up of Flux and of what must run before it; apply calls it once, when Flux is absent. */
  bootstrap(ctx: BootstrapContext): Promise<void>;
  /** Before Flux is asked to reconcile: make the pushed branch reachable where Flux reads it (the lab mirrors it to its git server). */
  publish?(ctx: Omit<BootstrapContext, 'client' | 'machines' | 'bgpPassword'>): Promise<void>;
}
