/**
 * The API endpoint's name: an AAAA record in a DigitalOcean zone (the
 * original setup's DNS), when the spec names one (spec.dns). The only
 * module that imports @pulumi/digitalocean. The record points at the API
 * ClusterIP, the address every kubeconfig names.
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as pulumi from '@pulumi/pulumi';
import type { DnsSpec } from '../../cluster/cluster.js';

export const API_RECORD_TTL = 300;

/** The record of the API ClusterIP (`apiServer`, the address: known at apply where the provider assigns the block). */
export function apiEndpointRecord(cluster: string, dns: DnsSpec, apiServer: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): { record: digitalocean.DnsRecord; fqdn: string } {
  const record = new digitalocean.DnsRecord(
    `${cluster}-api`,
    { domain: dns.zone, type: 'AAAA', name: dns.name, value: apiServer, ttl: API_RECORD_TTL },
    opts,
  );
  return { record, fqdn: `${dns.name}.${dns.zone}` };
}
