/**
 * Equinix Metal as a Platform: devices booted by cloud-init into kubeadm,
 * an IPv6 BGP session each with the provider's routers, the project's /56;
 * the devices' addresses are the provider's, recorded at apply. Its first
 * bootstrap goes through the first control plane (only it is up: the others
 * join once the Service range is announced): the BGP password Secret,
 * Calico itself (calico.yaml of the pinned release adjusted for IPv6 only,
 * CRDs first and waited for), the rendered fabric, so that the first node
 * announces the Service range and the joins go through; then Flux's own
 * objects with upstream's Deployments and the tree's sync. Flux takes the
 * fabric over from there (same objects, same content).
 */
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { installFluxFromRepository } from '../../flux/fromRepository.js';
import { kubeconfig } from '../../kube/kubeconfig.js';
import { applyObjects, crdsEstablished } from '../../kube/objects.js';
import { formatAddress, parsePrefix } from '../../net/ipv6.js';
import { planInBlock } from '../../plan/addressPlan.js';
import { retry } from '../../phases/retry.js';
import { ADMIN_USER, AdminCredential, ClusterSecrets } from '../../pki/clusterSecrets.js';
import { bgpPasswordSecret } from '../../render/calico.js';
import { API_SERVER_PORT } from '../../render/kubeadm.js';
import { readFabric } from '../../render/read.js';
import { providerFacts, redactFacts } from '../../cluster/devices.js';
import { apiEndpointRecord } from '../dns/digitalocean.js';
import type { LoadedCluster } from '../../plan/loaded.js';
import type { BootstrapContext, ClusterOutputs, Platform } from '../platform.js';
import { calicoInstallObjects, readCalicoManifest } from './calico.js';
import { MetalCluster } from './pulumi.js';
import { equinixMetalRules } from './rules.js';

/** The field manager of apply's server-side applies. */
export const FIELD_MANAGER = 'native6-apply';

function resources({ spec, plan }: LoadedCluster, _specFile: string, config: pulumi.Config): ClusterOutputs {
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
  // The keys every control plane shares: made with the stack's other secrets (undefined in a stack made before).
  const shared = secret(
    pulumi
      .all([secrets.frontProxyCaCertPem, secrets.frontProxyCaKeyPem, secrets.etcdCaCertPem, secrets.etcdCaKeyPem, secrets.saKeyPem, secrets.saPubPem])
      .apply(([frontProxyCaCertPem, frontProxyCaKeyPem, etcdCaCertPem, etcdCaKeyPem, saKeyPem, saPubPem]) =>
        frontProxyCaCertPem && frontProxyCaKeyPem && etcdCaCertPem && etcdCaKeyPem && saKeyPem && saPubPem ? { frontProxyCaCertPem, frontProxyCaKeyPem, etcdCaCertPem, etcdCaKeyPem, saKeyPem, saPubPem } : undefined,
      ),
  );
  const metal = new MetalCluster(spec.name, { spec, plan, secrets: values, sharedKeys: shared, ...(organizationId ? { organizationId } : {}) });
  // The block as the provider assigned it, not the spec's: render checks the spec against it (checkFacts).
  const facts = pulumi.all([metal.devices, metal.block]).apply(([devices, block]) => redactFacts(providerFacts(spec.name, block, devices)));
  // Where the spec gives only the block's size, the API ClusterIP is known once the provider's block is.
  const apiServer = plan.resolved ? pulumi.output(formatAddress(plan.apiServer)) : metal.block.apply((block) => formatAddress(planInBlock(spec, parsePrefix(block)).apiServer));
  const admin = new AdminCredential(`${spec.name}-admin`, { cluster: spec.name, caCertPem: secrets.caCertPem, caKeyPem: values.caKeyPem });
  const kubeconfigFor = (server: pulumi.Input<string>) =>
    pulumi.secret(
      pulumi.all([server, secrets.caCertPem, admin.certPem, secret(admin.keyPem)]).apply(([host, caCertPem, clientCertPem, clientKeyPem]) =>
        kubeconfig({ clusterName: spec.name, server: `https://[${host}]:${API_SERVER_PORT}`, caCertPem, user: ADMIN_USER, clientCertPem, clientKeyPem }),
      ),
    );
  // The API endpoint's name, when the spec names a zone (the API servers' certificates carry it too);
  // the kubeconfigs keep the address, so that apply depends on no DNS.
  const dns = spec.dns ? apiEndpointRecord(spec.name, spec.dns, apiServer) : undefined;
  return {
    facts,
    ...(dns ? { apiEndpointName: dns.fqdn } : {}),
    kubeconfig: kubeconfigFor(apiServer),
    bootstrapKubeconfig: kubeconfigFor(metal.firstControlPlaneAddress),
    bgpPassword: values.bgpPassword,
    joinToken: values.bootstrapToken,
    controlPlaneKeys: secret(
      pulumi.all([values.certificateKey, secrets.caCertPem, values.caKeyPem, shared]).apply(([certificateKey, caCertPem, caKeyPem, rest]) => (rest ? { certificateKey, keys: { caCertPem, caKeyPem, ...rest } } : undefined)),
    ),
  };
}

async function bootstrap(ctx: BootstrapContext): Promise<void> {
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

export const equinixMetalPlatform: Platform = {
  rules: equinixMetalRules,
  describe: (spec) => `${spec.platform}, metro ${spec.metro}`,
  resources,
  bootstrap,
};
