/**
 * The lab's Calico substitutes, pure parts: confd's keys computed from the
 * datastore (lib/calico/confd.ts, checked against confd v3.28's formats),
 * the IPAM block claim model and Felix's service loop prevention.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confdKv, ConfdInputError } from '../../lib/platforms/lab/calicoNode/confd.js';
import { affinityName, blockAllocations, cidrToName, confirmedAffinity, emptyBlock, freeBlocks } from '../../lib/platforms/lab/calicoNode/ipam.js';
import { advertisedServiceRanges, loopPreventionMode, loopPreventionScript } from '../../lib/platforms/lab/calicoNode/loopPrevention.js';
import { formatPrefix, parsePrefix } from '../../lib/net/ipv6.js';
import { labFabric, labSnapshot } from '../calico-fixture.js';

test('confd keys: globals, every node, this node\'s peers, pool and blocks, in confd v3.28\'s formats', () => {
  const kv = confdKv(labSnapshot(), 'lab-cp-1');
  assert.equal(kv['/calico/bgp/v1/global/as_num'], '65000');
  assert.equal(kv['/calico/bgp/v1/global/node_mesh'], '{"enabled":false}');
  assert.equal(kv['/calico/bgp/v1/global/loglevel'], 'info');
  assert.equal(kv['/calico/bgp/v1/global/svc_cluster_ips'], '2001:db8:100:1::/112');
  // Every node, with the three keys confd always writes; the address canonical, without its length.
  assert.equal(kv['/calico/bgp/v1/host/lab-general-1/ip_addr_v6'], '2001:db8:100::24b9:216b:3');
  assert.equal(kv['/calico/bgp/v1/host/lab-general-1/network_v6'], '2001:db8:100::24b9:216b:2/127');
  assert.equal(kv['/calico/bgp/v1/host/lab-joining/ip_addr_v6'], '');
  assert.equal(kv['/calico/bgp/v1/host/lab-joining/ip_addr_v4'], '');
  assert.equal(kv['/calico/bgp/v1/host/lab-joining/rr_cluster_id'], '');
  assert.equal(
    kv['/calico/bgp/v1/host/lab-cp-1/peer_v6/2001:db8:ffff::e'],
    '{"ip":"2001:db8:ffff::e","as_num":"65530","rr_cluster_id":"","password":"pw-cp-1","source_addr":"UseNodeIP","port":0,"keep_next_hop":false,"restart_time":"","calico_node":false,"num_allow_local_as":0,"ttl_security":0,"reachable_by":"2001:db8:100::2","filters":null}',
  );
  assert.equal(kv['/calico/v1/ipam/v6/pool/2001:db8:100:8::-64'], '{"cidr":"2001:db8:100:8::/64","ipip":"","ipip_mode":"","vxlan_mode":"","masquerade":false,"ipam":true,"disabled":false,"disableBGPExport":false}');
  // This node's confirmed block only: not the pending one, not another node's.
  const blocks = Object.keys(kv).filter((k) => k.includes('/ipam/v2/host/'));
  assert.deepEqual(blocks, ['/calico/ipam/v2/host/lab-cp-1/ipv6/block/2001:db8:100:8::40-122']);
  assert.equal(kv[blocks[0]!], '{"state":"confirmed","deleted":false}');
});

test('confd keys: Service ranges from every node, a Local Service\'s /128s only where an endpoint runs', () => {
  const ranges = ['2001:db8:100:1::/112', '2001:db8:100:2::/120', '2001:db8:100:3::/120'];
  for (const node of ['lab-cp-1', 'lab-general-1']) {
    const kv = confdKv(labSnapshot(), node);
    for (const r of ranges) {
      assert.equal(kv[`/calico/staticroutesv6/${r.replace('/', '-')}`], r);
      assert.equal(kv[`/calico/rejectcidrsv6/${r.replace('/', '-')}`], r);
    }
    const singles = Object.keys(kv).filter((k) => k.endsWith('-128')).sort();
    // The external IP outside serviceExternalIPs is not announced; a Cluster Service gets no /128.
    assert.deepEqual(singles, node === 'lab-general-1' ? ['/calico/staticroutesv6/2001:db8:100:1::20-128', '/calico/staticroutesv6/2001:db8:100:3::2-128'] : []);
  }
  // A node labelled out of external load balancers announces nothing but still keeps the ranges from its kernel.
  const excluded = labSnapshot();
  const nodes = excluded.nodes.map((n) => (n.metadata?.name === 'lab-general-1' ? { metadata: { ...n.metadata, labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } } } : n));
  const kv = confdKv({ ...excluded, nodes }, 'lab-general-1');
  assert.equal(Object.keys(kv).filter((k) => k.startsWith('/calico/staticroutesv6/')).length, 0);
  assert.equal(Object.keys(kv).filter((k) => k.startsWith('/calico/rejectcidrsv6/')).length, 3);
});

test('confd keys: what the substitute does not reproduce is refused, naming the object', () => {
  const s = labSnapshot();
  const mesh = s.bgpConfigurations.map((c) => ({ ...c, spec: { ...c.spec, nodeToNodeMeshEnabled: true } }));
  assert.throws(() => confdKv({ ...s, bgpConfigurations: mesh }, 'lab-cp-1'), (e: Error) => e instanceof ConfdInputError && /node-to-node mesh is on/.test(e.message));
  assert.throws(() => confdKv({ ...s, bgpConfigurations: [] }, 'lab-cp-1'), /node-to-node mesh is on/);
  const selector = [{ metadata: { name: 'rr' }, spec: { peerSelector: 'all()', asNumber: 65000 } }];
  assert.throws(() => confdKv({ ...s, bgpPeers: selector }, 'lab-cp-1'), /BGPPeer rr: peerSelector and nodeSelector are not supported/);
  assert.throws(() => confdKv({ ...s, bgpFilters: [{ metadata: { name: 'f' } }] }, 'lab-cp-1'), /BGPFilter f: BGPFilters are not supported/);
  const toNode = [{ metadata: { name: 'n2n' }, spec: { node: 'lab-cp-1', peerIP: '2001:db8:100::24b9:216b:3', asNumber: 65000 } }];
  assert.throws(() => confdKv({ ...s, bgpPeers: toNode }, 'lab-cp-1'), /reverse peerings/);
  // A missing password Secret key gives a peer without a password, as confd does.
  const noSecret = confdKv({ ...s, secrets: {} }, 'lab-cp-1');
  assert.match(noSecret['/calico/bgp/v1/host/lab-cp-1/peer_v6/2001:db8:ffff::e']!, /"password":null/);
});

test('IPAM: names, empty blocks and the search for a free block', () => {
  assert.equal(cidrToName('2001:db8:100:8::40/122'), '2001-db8-100-8--40-122');
  assert.equal(affinityName('lab-cp-1', '2001:db8:100:8::40/122'), 'lab-cp-1-2001-db8-100-8--40-122');
  const block = parsePrefix('2001:db8:100:8::40/122');
  const b = emptyBlock(block, 'lab-cp-1');
  assert.equal(b.spec.allocations.length, 64);
  assert.deepEqual(b.spec.unallocated.slice(0, 3), [0, 1, 2]);
  assert.equal(b.spec.affinity, 'host:lab-cp-1');
  assert.equal(confirmedAffinity(block, 'lab-cp-1').spec.deleted, 'false');
  assert.throws(() => emptyBlock(parsePrefix('2001:db8::/112'), 'n'), /at most 4096/);
  // A /120 pool of /122 blocks has 4; taking 3 leaves exactly the fourth, wherever the search starts.
  const pool = parsePrefix('2001:db8::/120');
  const all = [...freeBlocks(pool, 122, new Set(), 'x')].map(formatPrefix);
  assert.equal(new Set(all).size, 4);
  for (const node of ['a', 'b', 'lab-cp-1']) {
    assert.deepEqual([...freeBlocks(pool, 122, new Set(all.slice(0, 3)), node)].map(formatPrefix), [all[3]]);
  }
  assert.notEqual([...freeBlocks(parsePrefix('2001:db8::/64'), 122, new Set(), 'lab-cp-1')][0]!.address, [...freeBlocks(parsePrefix('2001:db8::/64'), 122, new Set(), 'lab-cp-2')][0]!.address);
});

test('service loop prevention: Felix\'s modes as nftables', () => {
  const s = labSnapshot();
  const ranges = advertisedServiceRanges(s.bgpConfigurations);
  assert.deepEqual(ranges, ['2001:db8:100:1::/112', '2001:db8:100:2::/120', '2001:db8:100:3::/120']);
  assert.equal(loopPreventionMode(labFabric().filter((o) => o.kind === 'FelixConfiguration')), 'Drop');
  assert.equal(loopPreventionMode([]), 'Drop');
  assert.throws(() => loopPreventionMode([{ metadata: { name: 'default' }, spec: { serviceLoopPrevention: 'Sometimes' } }]), /serviceLoopPrevention "Sometimes"/);
  const drop = loopPreventionScript('Drop', ranges);
  assert.match(drop, /hook forward priority filter; policy accept;\n    ip6 daddr \{ 2001:db8:100:1::\/112, 2001:db8:100:2::\/120, 2001:db8:100:3::\/120 \} drop/);
  // As Felix: forwarded traffic only; a node's own traffic to the range goes to the routers (a full restart needs it).
  assert.doesNotMatch(drop, /hook (output|input|prerouting)/);
  assert.match(loopPreventionScript('Reject', ranges), /reject with icmpv6 type admin-prohibited/);
  assert.equal(loopPreventionScript('Disabled', ranges), 'table ip6 n6-felix-loop-prevention\ndelete table ip6 n6-felix-loop-prevention\n');
});

test('IPAM: a block\'s allocations from host-local\'s leases', () => {
  const block = parsePrefix('2001:db8:100:8::40/122');
  const a = blockAllocations(block, new Map([['2001:db8:100:8::43', 'uid-b'], ['2001:db8:100:8::41', 'uid-a'], ['2001:db8:100:9::1', 'elsewhere']]));
  assert.equal(a.allocations.length, 64);
  assert.deepEqual(a.allocations.slice(0, 4), [2, 0, null, 1]);
  assert.deepEqual(a.attributes.map((x) => (x as { handle_id: string }).handle_id), ['k8s-pod-network.uid-a', 'k8s-pod-network.uid-b', 'native6-reserved-network-address']);
  assert.equal(a.unallocated.length, 61);
  assert.equal(a.unallocated[0], 2);
  assert.deepEqual(blockAllocations(block, new Map()).unallocated.length, 63);
});
