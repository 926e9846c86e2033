/**
 * Verify's check families (lib/platforms/lab/checkFamilies.ts): every name
 * verify produces (as it spells them, for a lab of routers n6-lt_r1/r2 and
 * machines lt-cp-1…) belongs to exactly one family, a stray name throws, and
 * which families cannot apply to which shape, with their reasons.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHECK_FAMILIES, familyOf, NO_HOST_ROW, notApplicable } from '../../lib/platforms/lab/verify/checkFamilies.js';

const NAMES: Record<string, string[]> = {
  'machine-bootstrap': ['boot/lt-cp-1/done', 'boot/lt-w-1/units-enabled', 'boot/lt-cp-2/host-firewall', 'boot/lt-cp-3/api-handover'],
  'bgp-sessions': ['bgp/n6-lt_r1/sessions-established', 'bgp/n6-lt_r2/sessions-established'],
  'pod-block-routes': ['routes/n6-lt_r1/pod-block/lt-cp-1/2001:db8:4200:80::/122', 'routes/n6-lt_r2/pod-block/lt-w-1'],
  'service-range-ecmp': ['routes/n6-lt_r1/services-ecmp'],
  'metadata-bgp-peers': ['metadata/lt-cp-1/bgp-peers'],
  'downward-default': ['routes/lt-w-2/downward-default'],
  'internet-to-node': ['ping/internet->lt-cp-2'],
  'nodes-ready': ['nodes/lt-cp-3'],
  'api-clusterip': ['api/clusterip-from-host-kubeconfig', 'api/kubernetes-service-endpoints', 'etcd/members-running', 'api/clusterip-from-internet'],
  'api-ipv4-door': ['api/ipv4-door-from-internet/lt-cp-1', 'api/ipv4-door-from-internet/lt-cp-3'],
  'api-with-control-plane-hung': ['api/clusterip-from-internet-with-lt-cp-3-hung', 'recovery/lt-cp-3-after-hang'],
  'client-during-node-hang': ['client/echo-local/new-connections-with-lt-w-1-hung', 'client/echo-local/established-with-lt-w-1-hung', 'client/echo-cluster/new-connections-with-lt-w-1-hung', 'client/lt-w-1-back-after-hang'],
  'pod-to-pod-across-nodes': ['pods/echo/pod-to-pod-across-nodes-no-nat'],
  'pods-from-internet': ['pods/echo/echo-5d8c7b9f4-x2x7q/from-internet-no-nat'],
  'cluster-service': ['services/echo-cluster/cluster-ip-from-internet', 'services/echo-cluster/external-ip-from-internet'],
  'cluster-service-ecmp-spread': ['services/echo-cluster/cluster-ip-ecmp-spread', 'services/echo-cluster/external-ip-ecmp-spread'],
  'local-service-routes': ['routes/n6-lt_r1/local-service/2001:db8:4200:1::10', 'services/echo-local/external-ip-client-address'],
  'local-service-follows-endpoints': ['routes/local-service-follows-endpoints'],
  'policy-matrix': ['policy/internet->pod:internal', 'policy/pod:echo->service:internal', 'policy/pod:internal->api-server', 'policy/matrix'],
  'policy-attacks': ['policy/attack/pod-labelled-trusted->pod:internal', 'policy/attack/internet->dns:kube-dns/udp', 'policy/attack/internet->dns:kube-dns/tcp'],
  'policy-matrix-host-row': ['policy/host:lt-w-1->pod:echo', 'policy/host:lt-cp-2->api-server'],
  flux: ['flux/flux-system', 'flux/apps'],
  'internet-dns': ['dns/internet/github.example-a-over-IPv6', 'dns/internet/github.example-no-aaaa-over-IPv4', 'dns/internet/outside-the-lab-nxdomain'],
  'nat64-translators': ['nat64/lt-w-1/translator'],
  'ipv4-egress': ['egress/ipv4-allowed->github.example-through-nat64', 'egress/ipv4-allowed->gitlab.example-over-ipv6', 'egress/ipv6-only->gitlab.example-over-ipv6', 'egress/ipv6-only->github.example-denied'],
  'ipv4-egress-new-namespace': ['egress/new-namespace->github.example-denied'],
  'cluster-dns': ['dns/pod/resolv-conf', 'dns/pod/kubernetes.default', 'dns/pod/ipv4-allowed-fetches-github.example-by-name', 'dns/pod/github.example-synthesized', 'dns/pod/gitlab.example-not-synthesized', 'dns/pod/outside-the-lab-nxdomain'],
  'nat64-translator-restart': ['nat64/lt-w-1/translator-killed', 'nat64/lt-cp-1/egress-while-lt-w-1-translator-down'],
};

test('every check name verify produces belongs to exactly one family, and every family has names', () => {
  assert.deepEqual(Object.keys(NAMES).sort(), CHECK_FAMILIES.map((f) => f.id).sort());
  for (const [family, names] of Object.entries(NAMES)) {
    for (const name of names) assert.equal(familyOf(name), family, name);
  }
});

test('a check name of no family throws: verify cannot produce a check that no family gates', () => {
  assert.throws(() => familyOf('routes/somewhere-else'), /^Error: verify: check routes\/somewhere-else belongs to no family$/);
  assert.throws(() => familyOf('policy/host:x'), /belongs to no family/);
  assert.throws(() => familyOf('pods/echo/a/b/from-internet-no-nat'), /belongs to no family/);
  assert.throws(() => familyOf('egress/verify-new-1a2b3c->github.example-denied'), /belongs to no family/);
});

test('which families cannot apply to which shape, and why', () => {
  const full = { controlPlanes: 3, machines: 5, flux: true, nat64: true };
  assert.deepEqual([...notApplicable(full).keys()], []);

  assert.deepEqual([...notApplicable({ ...full, flux: false }).entries()], [['flux', 'Flux is not installed (no GitRepository flux-system): npm run lab installs it unless --skip flux']]);

  const one = notApplicable({ controlPlanes: 1, machines: 1, flux: false, nat64: true });
  assert.deepEqual([...one.keys()].sort(), ['api-with-control-plane-hung', 'client-during-node-hang', 'cluster-service-ecmp-spread', 'flux', 'local-service-follows-endpoints', 'pod-to-pod-across-nodes', 'policy-matrix-host-row']);
  assert.equal(one.get('api-with-control-plane-hung'), '1 control plane: with it hung no API server is left to answer (3 survive the loss of one)');
  assert.equal(one.get('pod-to-pod-across-nodes'), '1 machine: every pod runs on it, there is no other node to reach');
  assert.equal(one.get('cluster-service-ecmp-spread'), '1 machine: every flow enters through it, there is nothing to spread over');
  assert.equal(one.get('local-service-follows-endpoints'), '1 machine: there is no other node for the endpoints to move to');
  assert.equal(one.get('client-during-node-hang'), '1 machine: with it hung no node is left to answer');
  assert.equal(one.get('policy-matrix-host-row'), 'every machine runs a pod of the echo namespace: no node is left to test from as a host without local pods');

  // Two machines, one control plane: only the hung control plane cannot apply (whether a host is free
  // of the app's pods for the matrix's host row is decided when the matrix runs).
  assert.deepEqual([...notApplicable({ controlPlanes: 1, machines: 2, flux: true, nat64: true }).keys()], ['api-with-control-plane-hung']);
  // Two control planes: one can hang while the other answers.
  assert.deepEqual([...notApplicable({ controlPlanes: 2, machines: 2, flux: true, nat64: true }).keys()], []);
  // A cluster without IPv4 egress: no translator, no IPv4 client to prove; the internet's DNS still applies.
  assert.deepEqual([...notApplicable({ ...full, nat64: false }).entries()], [
    ['nat64-translators', 'the spec says spec.egress.ipv4: none: no node translates'],
    ['ipv4-egress', 'the spec says spec.egress.ipv4: none: no pod reaches IPv4'],
    ['ipv4-egress-new-namespace', 'the spec says spec.egress.ipv4: none: no pod reaches IPv4, there is no NAT64 prefix to be denied'],
    ['nat64-translator-restart', 'the spec says spec.egress.ipv4: none: no node translates'],
  ]);
  assert.equal(NO_HOST_ROW, 'every machine runs a pod of the echo namespace: no node is left to test from as a host without local pods');
});
