/**
 * The machines' own firewall (lib/render/hostFirewall.ts) in the unit tier:
 * the rendered ruleset read by a small model of the part of nft it uses
 * (named sets of addresses and prefixes, one input chain, its policy, and
 * rules of `ct state`, `iif`, `meta l4proto`, `meta nfproto`, `ip6 saddr`,
 * `tcp`/`udp dport` and a verdict), which refuses any other syntax; then
 * packets from the internet, the cluster's block, a BGP peer and a trusted
 * source, as test/lab/hostFirewall.test.ts sends them for real (lab tier,
 * root): what is let in, and from whom.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containsAddress, formatAddress, parseAddress, parsePrefix, type Prefix } from '../../lib/net/ipv6.js';
import { BFD_PORTS, CLUSTER_PORTS, HOST_FIREWALL_TABLE, hostFirewall, peerElements, PEER_ELEMENTS_PLACEHOLDER } from '../../lib/render/hostFirewall.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

interface Packet {
  readonly family?: 'ip6' | 'ip';
  readonly saddr: string;
  readonly proto: 'tcp' | 'udp' | 'ipv6-icmp' | 'icmp';
  readonly dport?: number;
  readonly iif?: string;
  readonly ct?: 'new' | 'established' | 'related' | 'invalid';
}

interface Ruleset {
  readonly preamble: readonly string[];
  readonly sets: ReadonlyMap<string, { readonly type: string; readonly interval: boolean; readonly elements: readonly Prefix[] }>;
  readonly hook: string;
  readonly policy: 'accept' | 'drop';
  readonly rules: readonly string[];
}

/** The ruleset's text as nft would read it, for the syntax the firewall uses; anything else throws. */
function parseRuleset(text: string): Ruleset {
  const lines = text.split('\n');
  const open = lines.findIndex((l) => /^table inet \S+ \{$/.test(l));
  assert.ok(open >= 0, 'no table block');
  const sets = new Map<string, { type: string; interval: boolean; elements: Prefix[] }>();
  const rules: string[] = [];
  let hook = '';
  let policy: 'accept' | 'drop' | undefined;
  let set: { type: string; interval: boolean; elements: Prefix[] } | undefined;
  let inChain = false;
  let closed = false;
  for (const raw of lines.slice(open + 1)) {
    const line = raw.trim();
    assert.ok(!closed || line === '', `text after the table: ${raw}`);
    let m: RegExpExecArray | null;
    if (line === '') continue;
    if (set) {
      if (line === '}') set = undefined;
      else if ((m = /^type (ipv6_addr)(; flags interval)?$/.exec(line))) {
        set.type = m[1]!;
        set.interval = m[2] !== undefined;
      } else if ((m = /^elements = \{ (.+) \}$/.exec(line))) {
        for (const e of m[1]!.split(', ')) set.elements.push(e.includes('/') ? parsePrefix(e) : { address: parseAddress(e), length: 128 });
      } else throw new Error(`not set syntax: ${raw}`);
    } else if (inChain) {
      if (line === '}') inChain = false;
      else if ((m = /^type filter hook (\w+) priority filter; policy (accept|drop);$/.exec(line))) {
        hook = m[1]!;
        policy = m[2] as 'accept' | 'drop';
      } else rules.push(line);
    } else if ((m = /^set ([\w-]+) \{$/.exec(line))) {
      assert.ok(!sets.has(m[1]!), `set ${m[1]} twice`);
      set = { type: '', interval: false, elements: [] };
      sets.set(m[1]!, set);
    } else if (line === 'chain input {') inChain = true;
    else if (line === '}') closed = true;
    else throw new Error(`not table syntax: ${raw}`);
  }
  assert.ok(closed && !inChain && !set, 'an unclosed block');
  assert.ok(policy, 'the chain has no policy');
  return { preamble: lines.slice(0, open), sets, hook, policy, rules };
}

/** The first rule's verdict that matches the packet, else the chain's policy. */
function verdict(rs: Ruleset, p: Packet): 'accept' | 'drop' {
  const family = p.family ?? 'ip6';
  const address = family === 'ip6' ? parseAddress(p.saddr) : undefined;
  const inSet = (name: string) => {
    const s = rs.sets.get(name);
    if (!s) throw new Error(`no set ${name}`);
    if (s.type !== 'ipv6_addr') throw new Error(`set ${name} has no type`);
    for (const e of s.elements) if (e.length < 128 && !s.interval) throw new Error(`set ${name}: a prefix without flags interval`);
    return address !== undefined && s.elements.some((e) => containsAddress(e, address));
  };
  for (const rule of rs.rules) {
    const t = rule.replace(/ comment "[^"]*"$/, '').split(' ');
    let match = true;
    let result: 'accept' | 'drop' | undefined;
    for (let i = 0; i < t.length; ) {
      const [a, b, c] = [t[i], t[i + 1], t[i + 2]];
      if (a === 'counter') i += 1;
      else if (a === 'accept' || a === 'drop') {
        assert.equal(i, t.length - 1, `the verdict ends the rule: ${rule}`);
        result = a;
        i += 1;
      } else if (a === 'ct' && b === 'state') {
        match &&= c!.split(',').includes(p.ct ?? 'new');
        i += 3;
      } else if (a === 'iif') {
        match &&= (p.iif ?? 'eth0') === b;
        i += 2;
      } else if (a === 'meta' && b === 'l4proto' && (c === 'ipv6-icmp' || c === 'icmp')) {
        match &&= p.proto === c;
        i += 3;
      } else if (a === 'meta' && b === 'nfproto' && c === 'ipv6') {
        match &&= family === 'ip6';
        i += 3;
      } else if (a === 'ip6' && b === 'saddr') {
        match &&= address !== undefined && (c!.startsWith('@') ? inSet(c!.slice(1)) : containsAddress(parsePrefix(c!), address));
        i += 3;
      } else if ((a === 'tcp' || a === 'udp') && b === 'dport') {
        let ports: number[];
        if (c === '{') {
          const end = t.indexOf('}', i);
          ports = t.slice(i + 3, end).map((x) => Number(x.replace(/,$/, '')));
          i = end + 1;
        } else {
          ports = [Number(c)];
          i += 3;
        }
        assert.ok(ports.length > 0 && ports.every((x) => Number.isInteger(x) && x > 0 && x < 65536), `ports: ${rule}`);
        match &&= p.proto === a && ports.includes(p.dport!);
      } else throw new Error(`not rule syntax at "${t.slice(i).join(' ')}": ${rule}`);
    }
    if (match && result) return result;
  }
  return rs.policy;
}

const lab = loadSpecFile(REPO_DIR, 'infra/lab.yaml').cluster!;
const dfw = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const PEER = '2001:db8:ffff::e';
const withPeers = (text: string, peers: readonly string[]) => text.replace(PEER_ELEMENTS_PLACEHOLDER, peerElements(peers));
/** An address of the cluster's block, past the node range's first machines. */
const inBlock = (plan: typeof lab.plan) => formatAddress(plan.block.address + 9n);

describe("the machines' own firewall", () => {
  it('peerElements: the peers as an elements line, or nothing when there are none', () => {
    assert.equal(peerElements([]), '');
    assert.equal(peerElements(['2001:db8::1']), 'elements = { 2001:db8::1 }');
    assert.equal(peerElements(['2001:db8::1', '2001:db8::2']), 'elements = { 2001:db8::1, 2001:db8::2 }');
  });

  it('loads as a whole: the table made, deleted and made again (a reload replaces, never adds)', () => {
    const text = hostFirewall(lab.spec, lab.plan);
    const rs = parseRuleset(withPeers(text, [PEER]));
    assert.deepEqual(rs.preamble, [`table inet ${HOST_FIREWALL_TABLE}`, `delete table inet ${HOST_FIREWALL_TABLE}`]);
    assert.ok(text.split('\n').includes(`table inet ${HOST_FIREWALL_TABLE} {`));
    assert.ok(text.endsWith('}\n'));
    assert.equal(rs.hook, 'input');
    assert.equal(rs.policy, 'drop');
    // The placeholder is the bgp-peers set's whole line, so the bootstrap's sed replaces or deletes just that line.
    const line = text.split('\n').find((l) => l.includes(PEER_ELEMENTS_PLACEHOLDER));
    assert.equal(line?.trim(), PEER_ELEMENTS_PLACEHOLDER);
    // With the line deleted (peers on the link), the set is empty and BGP comes from no one.
    const none = parseRuleset(text.split('\n').filter((l) => !l.includes(PEER_ELEMENTS_PLACEHOLDER)).join('\n'));
    assert.deepEqual(none.sets.get('bgp-peers')?.elements, []);
    assert.equal(verdict(none, { saddr: PEER, proto: 'tcp', dport: 179 }), 'drop');
  });

  it("lets in only what it names, from whom it names (the lab's spec: no trusted sources)", () => {
    const rs = parseRuleset(withPeers(hostFirewall(lab.spec, lab.plan), [PEER]));
    assert.deepEqual([...rs.sets.keys()], ['bgp-peers', 'cluster'], 'no trusted set without trusted sources');
    const from = { internet: '2001:db8:ffff:1::1', cluster: inBlock(lab.plan), peer: PEER };
    const ports = { ssh: 22, bgp: 179, api: 443, etcd: 2379, etcdPeers: 2380, kubelet: 10250, proxyHealth: 10256, nodePort: 30080 };
    const matrix = Object.fromEntries(
      Object.entries(from).map(([who, saddr]) => [who, Object.fromEntries(Object.entries(ports).map(([what, dport]) => [what, verdict(rs, { saddr, proto: 'tcp', dport })]))]),
    );
    const cluster = { ssh: 'accept', bgp: 'drop', api: 'accept', etcd: 'accept', etcdPeers: 'accept', kubelet: 'accept', proxyHealth: 'accept', nodePort: 'drop' };
    const outside = { ssh: 'drop', bgp: 'drop', api: 'accept', etcd: 'drop', etcdPeers: 'drop', kubelet: 'drop', proxyHealth: 'drop', nodePort: 'drop' };
    assert.deepEqual(matrix, { internet: outside, cluster, peer: { ...outside, bgp: 'accept' } });
    assert.deepEqual(CLUSTER_PORTS, [2379, 2380, 10250, 10256]);
    // BFD from the peers only, over UDP; BGP's port over UDP is not BGP.
    for (const dport of BFD_PORTS) {
      assert.equal(verdict(rs, { saddr: PEER, proto: 'udp', dport }), 'accept', `BFD ${dport} from a peer`);
      assert.equal(verdict(rs, { saddr: from.cluster, proto: 'udp', dport }), 'drop', `BFD ${dport} from the block`);
      assert.equal(verdict(rs, { saddr: PEER, proto: 'tcp', dport }), 'drop', `TCP ${dport} from a peer`);
    }
    assert.deepEqual(BFD_PORTS, [3784, 4784]);
    assert.equal(verdict(rs, { saddr: PEER, proto: 'udp', dport: 179 }), 'drop');
    // The cluster's ports over UDP are not open either.
    assert.equal(verdict(rs, { saddr: from.cluster, proto: 'udp', dport: 2379 }), 'drop');
  });

  it('replies, the loopback, ICMP and DHCPv6 from the link pass; invalid packets do not; IPv4 only for replies, ICMP and the API', () => {
    const rs = parseRuleset(withPeers(hostFirewall(lab.spec, lab.plan), []));
    const internet = '2001:db8:ffff:1::1';
    assert.equal(verdict(rs, { saddr: internet, proto: 'tcp', dport: 30080, ct: 'established' }), 'accept');
    assert.equal(verdict(rs, { saddr: internet, proto: 'udp', dport: 33000, ct: 'related' }), 'accept');
    assert.equal(verdict(rs, { saddr: internet, proto: 'tcp', dport: 443, ct: 'invalid' }), 'drop', 'invalid dropped before the API rule');
    assert.equal(verdict(rs, { saddr: '::1', proto: 'tcp', dport: 30080, iif: 'lo' }), 'accept');
    assert.equal(verdict(rs, { saddr: internet, proto: 'ipv6-icmp' }), 'accept');
    assert.equal(verdict(rs, { saddr: 'fe80::1', proto: 'udp', dport: 546 }), 'accept', 'DHCPv6 from the link');
    assert.equal(verdict(rs, { saddr: internet, proto: 'udp', dport: 546 }), 'drop', 'DHCPv6 from off the link');
    assert.equal(verdict(rs, { saddr: 'fe80::1', proto: 'udp', dport: 547 }), 'drop');
    assert.equal(verdict(rs, { family: 'ip', saddr: '192.0.2.1', proto: 'icmp' }), 'accept');
    assert.equal(verdict(rs, { family: 'ip', saddr: '192.0.2.1', proto: 'tcp', dport: 22, ct: 'established' }), 'accept');
    // The API's IPv4 door (an IPv4-only runner's apply): 443 over TCP, and nothing else new over IPv4.
    assert.equal(verdict(rs, { family: 'ip', saddr: '192.0.2.1', proto: 'tcp', dport: 443 }), 'accept', 'the API over IPv4');
    for (const dport of [22, 179, 2379, 2380, 10250, 10256, 30080]) assert.equal(verdict(rs, { family: 'ip', saddr: '192.0.2.1', proto: 'tcp', dport }), 'drop', `TCP ${dport} over IPv4`);
    assert.equal(verdict(rs, { family: 'ip', saddr: '192.0.2.1', proto: 'udp', dport: 443 }), 'drop', 'UDP 443 over IPv4');
  });

  it("SSH from the spec's trusted sources too (dfw), each of them", () => {
    const rs = parseRuleset(withPeers(hostFirewall(dfw.spec, dfw.plan), [PEER]));
    const trusted = '2001:db8:ab00::7';
    assert.equal(verdict(rs, { saddr: trusted, proto: 'tcp', dport: 22 }), 'accept');
    assert.equal(verdict(rs, { saddr: trusted, proto: 'tcp', dport: 2379 }), 'drop', 'trusted for SSH only');
    assert.equal(verdict(rs, { saddr: inBlock(dfw.plan), proto: 'tcp', dport: 22 }), 'accept');
    assert.equal(verdict(rs, { saddr: '2001:db8:ffff:1::1', proto: 'tcp', dport: 22 }), 'drop');
    const two = { ...dfw.spec, policy: { ...dfw.spec.policy, trustedSources: [parsePrefix('2001:db8:ab00::/40'), parsePrefix('2001:db8:cd00::/48')] } };
    const rs2 = parseRuleset(withPeers(hostFirewall(two, dfw.plan), [PEER]));
    for (const saddr of ['2001:db8:ab00::7', '2001:db8:cd00::7']) assert.equal(verdict(rs2, { saddr, proto: 'tcp', dport: 22 }), 'accept', saddr);
    assert.equal(verdict(rs2, { saddr: '2001:db8:ce00::7', proto: 'tcp', dport: 22 }), 'drop');
  });
});
