/**
 * The Pulumi program, for both platforms: the cluster of one spec file
 * (infra/<stack>.yaml; the stack is named after the cluster). The Automation
 * API runs it inline (the actions, the tests); infra/index.ts runs it for
 * the Pulumi CLI. Outputs are what apply needs: the provider facts
 * (clusters/<name>/provider-facts.json), the admin kubeconfig (secret), and
 * on Equinix Metal the bootstrap endpoint and the BGP password (secret).
 */
import * as pulumi from '@pulumi/pulumi';
import { formatAddress, formatPrefix } from '../net/ipv6.js';
import { MetalCluster } from '../platforms/equinixMetal/pulumi.js';
import type { ProviderFacts } from '../spec/devices.js';
import { redactFacts } from '../spec/devices.js';
import { LabCluster } from '../platforms/lab/pulumi.js';
import { apiEndpointRecord } from '../platforms/dns/digitalocean.js';
import { kubeconfig } from '../kube/kubeconfig.js';
import { API_SERVER_PORT } from '../render/kubeadm.js';
import { loadSpecFile } from '../repo/workspace.js';
import { formatProblem } from '../spec/problems.js';
import { ADMIN_USER, AdminCredential, ClusterSecrets } from './secrets.js';

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

    if (spec.platform === 'lab') {
      const lab = new LabCluster(spec.name, {
        cluster: spec.name,
        specFile: opts.specFile,
        machines,
        ranges: plan.ranges.map((r) => `${r.name}=${formatPrefix(r.prefix)}`),
      });
      const facts = lab.devices.apply((devices): ProviderFacts => ({ apiVersion: 'native6.dev/v1alpha1', kind: 'ProviderFacts', cluster: spec.name, reservedBlock: formatPrefix(plan.block), devices }));
      return { cluster: spec.name, platform: spec.platform, specFile: opts.specFile, machines, facts, kubeconfig: lab.kubeconfig };
    }

    const config = new pulumi.Config(PROJECT);
    const secrets = new ClusterSecrets(`${spec.name}-secrets`, { cluster: spec.name });
    const organizationId = config.get('organizationId');
    // Secret whatever the engine does with additionalSecretOutputs (mocks ignore it).
    const secret = pulumi.secret;
    const values = {
      bootstrapToken: secret(secrets.bootstrapToken),
      certificateKey: secret(secrets.certificateKey),
      bgpPassword: secret(secrets.bgpPassword),
      caCertPem: secrets.caCertPem,
      caKeyPem: secret(secrets.caKeyPem),
      caCertHash: secrets.caCertHash,
      sshPublicKey: secrets.sshPublicKey,
    };
    const metal = new MetalCluster(spec.name, { spec, plan, secrets: values, ...(organizationId ? { organizationId } : {}) });
    const facts = metal.devices.apply((devices): ProviderFacts => redactFacts({ apiVersion: 'native6.dev/v1alpha1', kind: 'ProviderFacts', cluster: spec.name, reservedBlock: formatPrefix(plan.block), devices }));
    const admin = new AdminCredential(`${spec.name}-admin`, { cluster: spec.name, caCertPem: secrets.caCertPem, caKeyPem: values.caKeyPem });
    const kubeconfigFor = (server: pulumi.Input<string>) =>
      pulumi.secret(
        pulumi.all([server, secrets.caCertPem, admin.certPem, secret(admin.keyPem)]).apply(([host, caCertPem, clientCertPem, clientKeyPem]) =>
          kubeconfig({ clusterName: spec.name, server: `https://[${host}]:${API_SERVER_PORT}`, caCertPem, user: ADMIN_USER, clientCertPem, clientKeyPem }),
        ),
      );
    // The API endpoint's name, when the spec names a zone (the API servers' certificates carry it too);
    // the kubeconfigs keep the address, so that apply depends on no DNS.
    const dns = spec.dns ? apiEndpointRecord(spec.name, spec.dns, plan) : undefined;
    return {
      cluster: spec.name,
      platform: spec.platform,
      specFile: opts.specFile,
      machines,
      facts,
      ...(dns ? { apiEndpointName: dns.fqdn } : {}),
      kubeconfig: kubeconfigFor(formatAddress(plan.apiServer)),
      bootstrapKubeconfig: kubeconfigFor(metal.firstControlPlaneAddress),
      bgpPassword: values.bgpPassword,
    };
  };
}
