/** The CrossGuard policies (lib/pulumi/policies.ts), called as the policy runner calls them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs } from '@pulumi/policy';
import { BGP_SESSION, bgpSessionPerDevice, DEVICE, ipv6Sessions, LAB, labDocumentationSpace, localBgp, noIPv4Exposure, POLICIES, PROJECT } from '../../lib/pulumi/policies.js';

function resource(type: string, name: string, props: Record<string, unknown>, deps: Record<string, PolicyResource[]> = {}): PolicyResource {
  return { type, name, urn: `urn:pulumi:dfw::native6::${type}::${name}`, props, opts: {}, dependencies: [], propertyDependencies: deps } as unknown as PolicyResource;
}

function validate(policy: ResourceValidationPolicy, r: PolicyResource): string[] {
  const out: string[] = [];
  const args = { type: r.type, name: r.name, urn: r.urn, props: r.props } as unknown as ResourceValidationArgs;
  const fn = policy.validateResource as (a: ResourceValidationArgs, report: (m: string) => void) => void;
  fn(args, (m) => out.push(m));
  return out;
}

function validateStack(resources: PolicyResource[]): Array<{ message: string; urn?: string }> {
  const out: Array<{ message: string; urn?: string }> = [];
  const fn = bgpSessionPerDevice.validateStack as (a: StackValidationArgs, report: (m: string, urn?: string) => void) => void;
  fn({ resources } as unknown as StackValidationArgs, (message, urn) => out.push({ message, ...(urn ? { urn } : {}) }));
  return out;
}

test('every policy is mandatory and named', () => {
  assert.deepEqual(POLICIES.map((p) => p.name), ['bgp-session-per-device', 'ipv6-bgp-sessions', 'no-ipv4-exposure', 'local-bgp-with-password', 'lab-documentation-space']);
  for (const p of POLICIES) assert.equal(p.enforcementLevel, 'mandatory');
});

test('bgp-session-per-device: one session per device, found through the deviceId dependency', () => {
  const d1 = resource(DEVICE, 'dfw-cp-1', {});
  const d2 = resource(DEVICE, 'dfw-cp-2', {});
  const s1 = resource(BGP_SESSION, 'dfw-cp-1-bgp', { addressFamily: 'ipv6' }, { deviceId: [d1] });
  assert.deepEqual(validateStack([d1, d2, s1]), [{ message: 'device dfw-cp-2 has 0 BGP sessions, it needs exactly one', urn: d2.urn }]);
  const s2 = resource(BGP_SESSION, 'dfw-cp-2-bgp', { addressFamily: 'ipv6' }, { deviceId: [d2] });
  assert.deepEqual(validateStack([d1, d2, s1, s2]), []);
  const twice = resource(BGP_SESSION, 'dfw-cp-2-bgp-again', { addressFamily: 'ipv6' }, { deviceId: [d2] });
  assert.deepEqual(validateStack([d1, d2, s1, s2, twice]).map((v) => v.message), ['device dfw-cp-2 has 2 BGP sessions, it needs exactly one']);
});

test('ipv6-bgp-sessions: an IPv4 session is refused; an unknown family (preview) is not judged', () => {
  assert.deepEqual(validate(ipv6Sessions, resource(BGP_SESSION, 's', { addressFamily: 'ipv4' })), ['BGP session s is ipv4: only ipv6 sessions are allowed']);
  assert.deepEqual(validate(ipv6Sessions, resource(BGP_SESSION, 's', { addressFamily: 'ipv6' })), []);
  assert.deepEqual(validate(ipv6Sessions, resource(BGP_SESSION, 's', {})), []);
  assert.deepEqual(validate(ipv6Sessions, resource(DEVICE, 'd', { addressFamily: 'ipv4' })), [], 'other types are not its business');
});

test('no-ipv4-exposure: a public IPv6 address, a public IPv4 only tagged for NAT64 egress, and no provider defaults', () => {
  assert.deepEqual(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'public_ipv6', cidr: 127 }, { type: 'private_ipv4', cidr: 31 }] })), []);
  assert.deepEqual(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'public_ipv6' }, { type: 'public_ipv4' }] })), [
    'device d has a public IPv4 address but is tagged neither ipv4:egress-only nor, as a control plane (role:control-plane), ipv4:api-door: the cluster is IPv6-only, and a public IPv4 is for NAT64 egress (spec.egress.ipv4: nat64) and a control plane\'s API door only',
  ]);
  assert.deepEqual(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'public_ipv6' }, { type: 'public_ipv4' }], tags: ['native6', 'role:worker'] })).length, 1, 'another tag is not enough');
  assert.deepEqual(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'public_ipv6' }, { type: 'public_ipv4' }], tags: ['native6', 'ipv4:egress-only'] })), [], 'for NAT64 egress');
  assert.deepEqual(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'public_ipv6' }, { type: 'public_ipv4' }], tags: ['native6', 'role:control-plane', 'ipv4:api-door'] })), [], "a control plane's API door");
  assert.equal(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'public_ipv6' }, { type: 'public_ipv4' }], tags: ['native6', 'role:worker', 'ipv4:api-door'] })).length, 1, 'a worker has no API door');
  assert.deepEqual(validate(noIPv4Exposure, resource(DEVICE, 'd', { ipAddresses: [{ type: 'private_ipv4' }] })), ['device d has no public IPv6 address']);
  assert.match(validate(noIPv4Exposure, resource(DEVICE, 'd', {}))[0]!, /takes the provider's default addresses, which include a public IPv4/);
});

test('local-bgp-with-password: local deployment with an MD5 password', () => {
  assert.deepEqual(validate(localBgp, resource(PROJECT, 'p', { bgpConfig: { asn: 65000, deploymentType: 'local', md5: 'x' } })), []);
  assert.deepEqual(validate(localBgp, resource(PROJECT, 'p', {})), ['project p has no BGP configuration']);
  assert.deepEqual(validate(localBgp, resource(PROJECT, 'p', { bgpConfig: { deploymentType: 'global', md5: '' } })), ['project p has global BGP; the cluster uses local BGP', 'project p has BGP without an MD5 password']);
});

test('lab-documentation-space: every range of a lab inside 2001:db8::/32', () => {
  assert.deepEqual(validate(labDocumentationSpace, resource(LAB, 'lab', { ranges: ['block=2001:db8:100::/56', 'pods=2001:db8:100:8000::/64'] })), []);
  assert.deepEqual(validate(labDocumentationSpace, resource(LAB, 'lab', { ranges: ['block=2001:db8:100::/56', 'services=2a00:1::/112', 'x=10.0.0.0/8'] })), [
    'lab range services is 2a00:1::/112: the lab uses 2001:db8::/32 only',
    'lab range x is 10.0.0.0/8: the lab uses 2001:db8::/32 only',
  ]);
});
