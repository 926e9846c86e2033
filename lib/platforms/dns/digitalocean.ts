/**
 * The API endpoint's name: an AAAA record in a DigitalOcean zone (the
 * original setup's DNS), when the spec names one (spec.dns). The only
 * module that imports @pulumi/digitalocean. The record points at the API
 * ClusterIP, the address every kubeconfig names.
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as pulumi from '@pulumi/pulumi';
import { formatAddress } from '../../net/ipv6.js';
import type { AddressPlan } from '../../plan/addressPlan.js';
import type { DnsSpec } from '../../cluster/cluster.js';

export const API_RECORD_TTL = 300;

export function apiEndpointRecord(cluster: string, dns: DnsSpec, plan: AddressPlan, opts?: pulumi.CustomResourceOptions): { record: digitalocean.DnsRecord; fqdn: string } {
  const record = new digitalocean.DnsRecord(
    `${cluster}-api`,
    { domain: dns.zone, type: 'AAAA', name: dns.name, value: formatAddress(plan.apiServer), ttl: API_RECORD_TTL },
    opts,
  );
  return { record, fqdn: `${dns.name}.${dns.zone}` };
}
