/**
 * The lab's internet as today's (lib/platforms/lab/provider): the machines'
 * IPv4 numbering, the resolver's zone, the git hosts a URL names, and the
 * address DNS64 gives an IPv4 address under the NAT64 prefix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePrefix, synthesize } from '../../lib/net/ipv6.js';
import { internetHostOf, labGitServer } from '../../lib/platforms/lab/provider/gitServer.js';
import { LAB_INTERNET_HOSTS, LAB_NAT64_POOL, labMachineIPv4 } from '../../lib/platforms/lab/provider/provider.js';
import { labResolverCorefile, labRootZone } from '../../lib/platforms/lab/provider/resolver.js';
import { LAB_MACHINES_MAX } from '../../lib/platforms/lab/rules.js';

test("each machine's IPv4 /31: gateway even, machine odd, 198.51.100.0/24 then 203.0.113.0/24, clear of the NAT64 pool", () => {
  assert.deepEqual(labMachineIPv4(0), { gateway: '198.51.100.0', address: '198.51.100.1', cidr: 31 });
  assert.deepEqual(labMachineIPv4(127), { gateway: '198.51.100.254', address: '198.51.100.255', cidr: 31 });
  assert.deepEqual(labMachineIPv4(128), { gateway: '203.0.113.0', address: '203.0.113.1', cidr: 31 });
  const last = labMachineIPv4(LAB_MACHINES_MAX - 1);
  assert.equal(last.address, '203.0.113.43');
  // The translators' pool starts above the last machine the lab allows.
  assert.equal(LAB_NAT64_POOL, '203.0.113.128/25');
  assert.ok(Number(last.address.split('.')[3]) < 128);
  assert.throws(() => labMachineIPv4(256), /the lab numbers IPv4 for 256 machines; machine 257 has none/);
  const all = new Set(Array.from({ length: 256 }, (_, i) => labMachineIPv4(i).address));
  assert.equal(all.size, 256, 'no address twice');
});

test("the resolver's zone: SOA and NS, github.example with an A record only, gitlab.example with both; its Corefile on both addresses", () => {
  assert.equal(
    labRootZone(),
    [
      '$ORIGIN .',
      '$TTL 300',
      '@ IN SOA ns.example. hostmaster.ns.example. 1 3600 600 86400 60',
      '@ IN NS ns.example.',
      'github.example. IN A 192.0.2.10',
      'gitlab.example. IN A 192.0.2.11',
      'gitlab.example. IN AAAA 2001:db8:ffff:1::2',
      'ns.example. IN A 192.0.2.53',
      'ns.example. IN AAAA 2001:db8:ffff:1::53',
      '',
    ].join('\n'),
  );
  assert.ok(!/github\.example\. IN AAAA/.test(labRootZone()), 'no AAAA for the IPv4-only host');
  assert.equal(labResolverCorefile('/z/db.root'), '. {\n    bind 2001:db8:ffff:1::53 192.0.2.53\n    file /z/db.root .\n    log\n    errors\n}\n');
  // Every address of the lab's internet is documentation space.
  for (const h of Object.values(LAB_INTERNET_HOSTS) as Array<{ ipv4?: string; ipv6?: string }>) {
    if (h.ipv4) assert.match(h.ipv4, /^192\.0\.2\.\d+$/);
    if (h.ipv6) assert.match(h.ipv6, /^2001:db8:/);
  }
});

test('a git URL names a host of the lab by name or address; the server listens on all of its addresses; the lab itself uses an address', () => {
  assert.equal(internetHostOf('github.example'), LAB_INTERNET_HOSTS.gitV4);
  assert.equal(internetHostOf('[2001:db8:ffff:1::2]'), LAB_INTERNET_HOSTS.gitDual);
  assert.equal(internetHostOf('192.0.2.11'), LAB_INTERNET_HOSTS.gitDual);
  assert.equal(internetHostOf('github.com'), undefined);
  const ctx = { paths: { root: '/lab', logs: '/lab/logs' }, topology: { internet: { ns: 'n6-x_inet' } } } as unknown as Parameters<typeof labGitServer>[0];
  const v4 = labGitServer(ctx, 'http://github.example/native6.git');
  assert.deepEqual([v4.listen, v4.directUrl, v4.pidFile], [['192.0.2.10'], 'http://192.0.2.10/native6.git', '/lab/git-server-github.example.pid']);
  const dual = labGitServer(ctx, 'http://[2001:db8:ffff:1::2]/native6.git');
  assert.deepEqual([dual.listen, dual.directUrl, dual.pidFile], [['2001:db8:ffff:1::2', '192.0.2.11'], 'http://[2001:db8:ffff:1::2]/native6.git', '/lab/git-server-gitlab.example.pid']);
  assert.throws(() => labGitServer(ctx, 'http://github.com/x.git'), /github\.com is no host of the lab's internet .* use one of ns\.example, github\.example, gitlab\.example or an address/);
});

test('DNS64: the IPv4 address in the last 32 bits of the /96 prefix (RFC 6052 2.2); any other length refused', () => {
  assert.equal(synthesize(parsePrefix('2001:db8:100:4::/96'), '192.0.2.10'), '2001:db8:100:4::c000:20a');
  assert.equal(synthesize(parsePrefix('64:ff9b::/96'), '203.0.113.255'), '64:ff9b::cb00:71ff');
  assert.throws(() => synthesize(parsePrefix('2001:db8:100::/64'), '192.0.2.10'), /must be a \/96, not a \/64/);
});
