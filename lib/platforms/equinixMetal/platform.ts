/**
 * Equinix Metal as a Platform: devices booted by cloud-init into kubeadm,
 * an IPv6 BGP session each with the provider's routers, the project's /56;
 * the devices' addresses are the provider's, recorded at apply. Its first
 * bootstrap goes through the first control plane (only it is up: the others
 * join once the Service range is announced): lib/platforms/kubeadmCluster.ts,
 * shared with the metal platform.
 */
import * as pulumi from '@pulumi/pulumi';
import { formatAddress, parsePrefix } from '../../net/ipv6.js';
import { planInBlock } from '../../plan/addressPlan.js';
import { providerFacts, redactFacts } from '../../cluster/devices.js';
import { apiEndpointRecord } from '../dns/digitalocean.js';
import type { LoadedCluster } from '../../plan/loaded.js';
import type { ClusterOutputs, Platform } from '../platform.js';
import { bootstrapCalicoAndFlux, kubeadmSecrets } from '../kubeadmCluster.js';
import { MetalCluster } from './pulumi.js';
import { equinixMetalRules } from './rules.js';

export { FIELD_MANAGER } from '../kubeadmCluster.js';

function resources({ spec, plan }: LoadedCluster, _specFile: string, config: pulumi.Config): ClusterOutputs {
  const k = kubeadmSecrets(spec);
  const organizationId = config.get('organizationId');
  const { values } = k;
  const metal = new MetalCluster(spec.name, {
    spec,
    plan,
    secrets: { bootstrapToken: values.bootstrapToken, certificateKey: values.certificateKey, bgpPassword: values.bgpPassword, caCertPem: values.caCertPem, caKeyPem: values.caKeyPem, caCertHash: values.caCertHash, sshPublicKey: values.sshPublicKey, secretsKey: values.secretsKey },
    sharedKeys: k.shared,
    ...(organizationId ? { organizationId } : {}),
  });
  // The block as the provider assigned it, not the spec's: render checks the spec against it (checkFacts).
  const facts = pulumi.all([metal.devices, metal.block]).apply(([devices, block]) => redactFacts(providerFacts(spec.name, block, devices)));
  // Where the spec gives only the block's size, the API ClusterIP is known once the provider's block is.
  const apiServer = plan.resolved ? pulumi.output(formatAddress(plan.apiServer)) : metal.block.apply((block) => formatAddress(planInBlock(spec, parsePrefix(block)).apiServer));
  // The API endpoint's name, when the spec names a zone (the API servers' certificates carry it too);
  // the kubeconfigs keep the address, so that apply depends on no DNS.
  const dns = spec.dns ? apiEndpointRecord(spec.name, spec.dns, apiServer) : undefined;
  return { facts, ...(dns ? { apiEndpointName: dns.fqdn } : {}), ...k.outputs(apiServer, metal.firstControlPlaneAddress) };
}

export const equinixMetalPlatform: Platform = {
  rules: equinixMetalRules,
  describe: (spec) => `${spec.platform}, metro ${spec.metro}`,
  resources,
  bootstrap: bootstrapCalicoAndFlux,
};
