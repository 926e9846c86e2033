/**
 * The stacks' guard rails as CrossGuard policies (@pulumi/policy), every one
 * mandatory: a preview or up that breaks one fails. Plain objects here, so
 * tests call them directly; infra/policy/index.ts makes them a policy pack
 * that the actions pass to every preview and up.
 *
 * - every Equinix Metal device has exactly one BGP session, and it is IPv6;
 * - no device is exposed on IPv4: each has a public IPv6 address and no
 *   public IPv4 (Equinix Metal's mandatory private IPv4 is allowed);
 * - the project's BGP is local, with an MD5 password;
 * - the lab stays in documentation space: every range of a lab cluster is
 *   IPv6 inside 2001:db8::/32.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import { contains, DOCUMENTATION, parsePrefix } from '../net/ipv6.js';
import { IPV4_API_TAG, IPV4_EGRESS_TAG } from '../cluster/devices.js';

export const DEVICE = 'equinix-metal:index/device:Device';
export const BGP_SESSION = 'equinix-metal:index/bgpSession:BgpSession';
export const PROJECT = 'equinix-metal:index/project:Project';
export const LAB = 'pulumi-nodejs:dynamic/native6-lab:Resource';

export const bgpSessionPerDevice: StackValidationPolicy = {
  name: 'bgp-session-per-device',
  description: 'Every device has exactly one BGP session (its routes are announced over it).',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    const sessions = args.resources.filter((r) => r.type === BGP_SESSION);
    for (const device of args.resources.filter((r) => r.type === DEVICE)) {
      const mine = sessions.filter((s) => (s.propertyDependencies.deviceId ?? []).some((d: PolicyResource) => d.urn === device.urn));
      if (mine.length !== 1) report(`device ${device.name} has ${mine.length} BGP sessions, it needs exactly one`, device.urn);
    }
  },
};

export const ipv6Sessions: ResourceValidationPolicy = {
  name: 'ipv6-bgp-sessions',
  description: 'BGP sessions carry IPv6: the cluster announces no IPv4.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== BGP_SESSION) return;
    const family = args.props.addressFamily as string | undefined;
    if (family !== undefined && family !== 'ipv6') report(`BGP session ${args.name} is ${family}: only ipv6 sessions are allowed`);
  },
};

export const noIPv4Exposure: ResourceValidationPolicy = {
  name: 'no-ipv4-exposure',
  description: `Devices have a public IPv6 address, and a public IPv4 address only for NAT64 egress (tagged ${IPV4_EGRESS_TAG}) or as a control plane's API door (tagged ${IPV4_API_TAG}).`,
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== DEVICE) return;
    const ips = args.props.ipAddresses as Array<{ type?: string }> | undefined;
    if (ips === undefined) {
      report(`device ${args.name} takes the provider's default addresses, which include a public IPv4: list ipAddresses (public_ipv6, private_ipv4)`);
      return;
    }
    if (!ips.some((i) => i.type === 'public_ipv6')) report(`device ${args.name} has no public IPv6 address`);
    const tags = (args.props.tags as string[] | undefined) ?? [];
    if (ips.some((i) => i.type === 'public_ipv4') && !tags.includes(IPV4_EGRESS_TAG) && !(tags.includes(IPV4_API_TAG) && tags.includes('role:control-plane'))) {
      report(
        `device ${args.name} has a public IPv4 address but is tagged neither ${IPV4_EGRESS_TAG} nor, as a control plane (role:control-plane), ${IPV4_API_TAG}: the cluster is IPv6-only, and a public IPv4 is for NAT64 egress (spec.egress.ipv4: nat64) and a control plane's API door only`,
      );
    }
  },
};

export const localBgp: ResourceValidationPolicy = {
  name: 'local-bgp-with-password',
  description: "The project's BGP is local and its sessions are protected by an MD5 password.",
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== PROJECT) return;
    const bgp = args.props.bgpConfig as { deploymentType?: string; md5?: string } | undefined;
    if (!bgp) report(`project ${args.name} has no BGP configuration`);
    else {
      if (bgp.deploymentType !== undefined && bgp.deploymentType !== 'local') report(`project ${args.name} has ${bgp.deploymentType} BGP; the cluster uses local BGP`);
      if (bgp.md5 !== undefined && bgp.md5 === '') report(`project ${args.name} has BGP without an MD5 password`);
    }
  },
};

export const labDocumentationSpace: ResourceValidationPolicy = {
  name: 'lab-documentation-space',
  description: 'A lab cluster uses IPv6 documentation addresses (2001:db8::/32) only.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== LAB) return;
    const ranges = args.props.ranges as string[] | undefined;
    for (const r of ranges ?? []) {
      const [name, text] = r.split('=');
      let ok = false;
      try {
        ok = contains(DOCUMENTATION, parsePrefix(text ?? ''));
      } catch {
        ok = false;
      }
      if (!ok) report(`lab range ${name} is ${text}: the lab uses 2001:db8::/32 only`);
    }
  },
};

export const POLICIES: ReadonlyArray<ResourceValidationPolicy | StackValidationPolicy> = [bgpSessionPerDevice, ipv6Sessions, noIPv4Exposure, localBgp, labDocumentationSpace];

