/**
 * What the platforms whose machines boot the product's own bootstrap
 * (lib/render/bootstrap.ts) share, whatever carries it there (cloud-init on
 * Equinix Metal, SSH on metal): the cluster's secrets (ClusterSecrets: the
 * CA, the join token, the certificate key, the keys every control plane
 * shares, the BGP password), the admin kubeconfigs, and apply's first
 * bring-up through the first control plane (the BGP password Secret, Calico
 * itself, the rendered fabric, then Flux from the committed flux-system
 * folder). The lab builds its machines through its own phases instead.
 */
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { installFluxFromRepository } from '../flux/fromRepository.js';
import { kubeconfig } from '../kube/kubeconfig.js';
import { applyObjects, crdsEstablished } from '../kube/objects.js';
import { retry } from '../phases/retry.js';
import { ADMIN_USER, AdminCredential, ClusterSecrets } from '../pki/clusterSecrets.js';
import { bgpPasswordSecret } from '../render/calico.js';
import { API_SERVER_PORT } from '../render/kubeadm.js';
import { readFabric } from '../render/read.js';
import type { BootSecrets } from '../render/bootstrap.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import type { BootstrapContext, ClusterOutputs } from './platform.js';
import { calicoInstallObjects, readCalicoManifest } from './calicoInstall.js';

/** The field manager of apply's server-side applies. */
export const FIELD_MANAGER = 'native6-apply';

export interface KubeadmSecrets {
  /** The stack's secrets as Pulumi outputs, marked secret. */
  readonly values: {
    readonly bootstrapToken: pulumi.Output<string>;
    readonly certificateKey: pulumi.Output<string>;
    readonly bgpPassword: pulumi.Output<string>;
    readonly caCertPem: pulumi.Output<string>;
    readonly caKeyPem: pulumi.Output<string>;
    readonly caCertHash: pulumi.Output<string>;
    readonly sshPublicKey: pulumi.Output<string>;
    /** The Secrets encryption key (undefined in a stack made before it was). */
    readonly secretsKey: pulumi.Output<string | undefined>;
  };
  /** The keys every control plane shares (undefined in a stack made before they were). */
  readonly shared: pulumi.Output<BootSecrets['shared']>;
  /** Everything a machine's bootstrap needs, in one output (secret). */
  readonly boot: pulumi.Output<BootSecrets>;
  /** The outputs every such platform exports, given the API's ClusterIP and the first control plane's own address. */
  outputs(apiServer: pulumi.Input<string>, firstControlPlane: pulumi.Input<string>): Omit<ClusterOutputs, 'facts'>;
}

export function kubeadmSecrets(spec: ClusterSpec): KubeadmSecrets {
  const secrets = new ClusterSecrets(`${spec.name}-secrets`, { cluster: spec.name });
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
    secretsKey: secret(secrets.secretsKey),
  };
  const shared = secret(
    pulumi
      .all([secrets.frontProxyCaCertPem, secrets.frontProxyCaKeyPem, secrets.etcdCaCertPem, secrets.etcdCaKeyPem, secrets.saKeyPem, secrets.saPubPem])
      .apply(([frontProxyCaCertPem, frontProxyCaKeyPem, etcdCaCertPem, etcdCaKeyPem, saKeyPem, saPubPem]) =>
        frontProxyCaCertPem && frontProxyCaKeyPem && etcdCaCertPem && etcdCaKeyPem && saKeyPem && saPubPem ? { frontProxyCaCertPem, frontProxyCaKeyPem, etcdCaCertPem, etcdCaKeyPem, saKeyPem, saPubPem } : undefined,
      ),
  );
  const boot = secret(
    pulumi
      .all([values.bootstrapToken, values.certificateKey, values.caCertPem, values.caKeyPem, values.caCertHash, shared, values.secretsKey])
      .apply(([bootstrapToken, certificateKey, caCertPem, caKeyPem, caCertHash, sh, secretsKey]): BootSecrets => ({ bootstrapToken, certificateKey, caCertPem, caKeyPem, caCertHash, ...(sh ? { shared: sh } : {}), ...(secretsKey ? { secretsKey } : {}) })),
  );
  const admin = new AdminCredential(`${spec.name}-admin`, { cluster: spec.name, caCertPem: secrets.caCertPem, caKeyPem: values.caKeyPem });
  const kubeconfigFor = (server: pulumi.Input<string>) =>
    pulumi.secret(
      pulumi.all([server, secrets.caCertPem, admin.certPem, secret(admin.keyPem)]).apply(([host, caCertPem, clientCertPem, clientKeyPem]) =>
        kubeconfig({ clusterName: spec.name, server: `https://[${host}]:${API_SERVER_PORT}`, caCertPem, user: ADMIN_USER, clientCertPem, clientKeyPem }),
      ),
    );
  return {
    values,
    shared,
    boot,
    outputs: (apiServer, firstControlPlane) => ({
      kubeconfig: kubeconfigFor(apiServer),
      bootstrapKubeconfig: kubeconfigFor(firstControlPlane),
      bgpPassword: values.bgpPassword,
      joinToken: values.bootstrapToken,
      controlPlaneKeys: secret(
        pulumi.all([values.certificateKey, secrets.caCertPem, values.caKeyPem, shared]).apply(([certificateKey, caCertPem, caKeyPem, rest]) => (rest ? { certificateKey, keys: { caCertPem, caKeyPem, ...rest } } : undefined)),
      ),
    }),
  };
}

/**
 * Apply's first bring-up, through the first control plane (only it is up:
 * the others join once the Service range is announced): the BGP password
 * Secret, Calico itself (calico.yaml of the pinned release adjusted for IPv6
 * only, CRDs first and waited for), the rendered fabric (with the BIRD
 * templates ConfigMap calico-node's pods wait for: calicoInstall.ts), so
 * that the first node announces the Service range and the joins go
 * through; then Flux's own objects with upstream's Deployments and the
 * tree's sync. Flux takes the fabric over from there (same objects, same
 * content).
 */
export async function bootstrapCalicoAndFlux(ctx: BootstrapContext): Promise<void> {
  const { spec, plan } = ctx.cluster;
  if (!ctx.bgpPassword) throw new Error(`the stack of ${spec.name} has no bgpPassword output: run apply again after up succeeds`);
  await applyObjects(ctx.client, [bgpPasswordSecret(new Map(ctx.machines.map((n) => [n, ctx.bgpPassword!])))], FIELD_MANAGER);
  const cacheDir = join(ctx.repoRoot, '.cache');
  const calico = calicoInstallObjects(readCalicoManifest(cacheDir), spec, plan);
  const calicoCrds = calico.filter((o) => o.kind === 'CustomResourceDefinition');
  await applyObjects(ctx.client, calicoCrds, FIELD_MANAGER);
  await retry(
    async () => {
      if (!(await crdsEstablished(ctx.client, calicoCrds))) throw new Error('not Established yet');
    },
    { what: `Calico's ${calicoCrds.length} CRDs`, attempts: 12, initialMs: 1000, maxMs: 10_000, log: (l) => ctx.log.info(l) },
  );
  await applyObjects(ctx.client, calico.filter((o) => o.kind !== 'CustomResourceDefinition'), FIELD_MANAGER);
  const fabric = readFabric(ctx.repoRoot, ctx.cluster);
  await applyObjects(ctx.client, fabric, FIELD_MANAGER);
  ctx.log.info(`Calico installed: ${calico.length} objects, and the fabric's ${fabric.length}`);
  // Flux as the repository holds it (clusters/<name>/flux-system/, refused unless render wrote it from the pin):
  // CRDs first and Established, then the controllers, then the sync; from then on Flux manages itself from git.
  const flux = await installFluxFromRepository(ctx.client, ctx.repoRoot, ctx.cluster, cacheDir, FIELD_MANAGER);
  ctx.log.info(`Flux installed from clusters/${spec.name}/flux-system: ${flux.components} objects and the sync's ${flux.sync}`);
}
