/**
 * The Pulumi program: the cluster of one spec file (infra/<stack>.yaml; the
 * stack is named after the cluster), its resources the platform's. The Automation
 * API runs it inline (the actions, the tests); infra/index.ts runs it for
 * the Pulumi CLI. Outputs are what apply needs: the provider facts
 * (clusters/<name>/provider-facts.json), the admin kubeconfig (secret), and
 * where the platform has them the bootstrap endpoint and the BGP password
 * (secret).
 */
import * as pulumi from '@pulumi/pulumi';
import { platformOf } from '../platforms/index.js';
import { loadSpecFile } from '../repo/workspace.js';
import type { ProviderFacts } from '../cluster/devices.js';
import type { SharedControlPlaneKeys } from '../kube/kubeadmCerts.js';
import { formatProblem } from '../cluster/problems.js';

export const PROJECT = 'native6';

export interface ProgramOptions {
  /** The repository root (the spec file and clusters/ are read from it). */
  readonly repoRoot: string;
  /** The spec file, relative to the repository root. */
  readonly specFile: string;
}

/** What the program exports (stack outputs), by name. */
export interface ProgramOutputs {
  readonly cluster: string;
  readonly platform: string;
  readonly specFile: string;
  readonly machines: string[];
  readonly facts: ProviderFacts;
  readonly kubeconfig: string;
  readonly bootstrapKubeconfig?: string;
  readonly bgpPassword?: string;
  /** The kubeadm bootstrap token of every machine's join (secret), which apply renews. */
  readonly joinToken?: string;
  /** The control planes' shared keys and their certificate key (secret), which apply uploads for joins. */
  readonly controlPlaneKeys?: { readonly certificateKey: string; readonly keys: SharedControlPlaneKeys };
  /** The API endpoint's DNS name, when spec.dns names a zone. */
  readonly apiEndpointName?: string;
}

export class SpecError extends Error {}

export function clusterProgram(opts: ProgramOptions): () => Promise<Record<string, unknown>> {
  return async () => {
    // The spec is read without provider facts: the program makes them.
    const { cluster, problems } = loadSpecFile(opts.repoRoot, opts.specFile, { ignoreFacts: true });
    if (!cluster) throw new SpecError(problems.map(formatProblem).join('\n'));
    const { spec, plan } = cluster;
    const stack = pulumi.getStack();
    if (stack !== spec.name) throw new SpecError(`${opts.specFile}: the stack is "${stack}" but metadata.name is "${spec.name}": the stack is named after the cluster`);
    const machines = plan.machines.map((m) => m.name);

    const outputs = platformOf(spec).resources(cluster, opts.specFile, new pulumi.Config(PROJECT));
    return { cluster: spec.name, platform: spec.platform, specFile: opts.specFile, machines, ...outputs };
  };
}
