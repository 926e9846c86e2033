/**
 * The plan of a spec that gives only its block's size, as people read it
 * before apply records the provider's block (lib/plan/relativeText.ts): the
 * ranges relative to the block, its bits written x, in `npm run plan`'s
 * rows and in the pull request's comment with a note that says why; and
 * the real ranges once the facts record the block.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatAddress, parseAddress } from '../../lib/net/ipv6.js';
import { planRows } from '../../lib/plan/addressPlan.js';
import { decodeFacts } from '../../lib/plan/facts.js';
import { relativeAddress } from '../../lib/plan/relativeText.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { renderPlanComment } from '../../lib/workflows/comment.js';
import { specView } from '../../lib/workflows/plan.js';

const dfwText = readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8');
const sized = loadCluster('infra/dfw.yaml', dfwText.replace(/^ {4}block: .*$/m, '    blockSize: 56'));
if (!sized.ok) throw new Error(JSON.stringify(sized.problems));
const facts = decodeFacts('clusters/dfw/provider-facts.json', readFileSync(join(REPO_DIR, 'test/fixtures/facts/dfw.json'), 'utf8'));
if (!facts.ok) throw new Error(JSON.stringify(facts.problems));

describe('an address relative to a block not known yet', () => {
  it('writes the block\'s bits as x and the rest as RFC 5952 does', () => {
    const at = (text: string) => parseAddress(text);
    assert.equal(relativeAddress(at('0:0:0:1::1'), 56), 'xxxx:xxxx:xxxx:xx01::1');
    assert.equal(relativeAddress(0n, 56), 'xxxx:xxxx:xxxx:xx00::');
    assert.equal(relativeAddress(at('0:0:0:8::'), 48), 'xxxx:xxxx:xxxx:8::');
    assert.equal(relativeAddress(at('0:0:0:0:1:0:0:1'), 32), 'xxxx:xxxx::1:0:0:1');
    assert.equal(relativeAddress(at('0:0:0:0:0:1:0:0'), 48), 'xxxx:xxxx:xxxx::1:0:0', 'the first of two equal runs');
    assert.equal(relativeAddress(at('0:0:0:0:1:0:1:1'), 64), 'xxxx:xxxx:xxxx:xxxx:1:0:1:1', 'one zero group is not "::"');
    assert.equal(relativeAddress(at('0:0:0:4::c000:20a'), 56), 'xxxx:xxxx:xxxx:xx04::c000:20a');
    // A block whose length is no multiple of 4 shares a digit with the offset: written as a sum.
    assert.equal(relativeAddress(at('0:0:0:1::1'), 58), '<block>+::1:0:0:0:1');
  });

  it('reads, with the x replaced by a block\'s digits, as that block\'s address', () => {
    for (const [block, length] of [['2604:1380:4641:c500::', 56], ['2001:0:0:ff00::', 56], ['2001:db8:a::', 48], ['2a01:4f8::', 32]] as const) {
      const digits = parseAddress(block).toString(16).padStart(32, '0');
      for (const offset of ['0:0:0:1::1', '0:0:0:8::', '0:0:0:4::934b:cfcf', '0:0:0:3::2', '0:0:0:0:1:0:0:1']) {
        const rel = relativeAddress(parseAddress(offset), length);
        // Each x is the block's digit at that place: count hex digits from the left of the full form.
        const groups = rel.includes('::')
          ? (() => {
              const [h, t] = rel.split('::') as [string, string];
              const hs = h === '' ? [] : h.split(':');
              const ts = t === '' ? [] : t.split(':');
              return [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
            })()
          : rel.split(':');
        let i = 0;
        const filled = groups.map((g) => {
          const full = g.padStart(4, '0');
          const out = full.split('').map((c, k) => (c === 'x' ? digits[i + k]! : c)).join('');
          i += 4;
          return out;
        });
        assert.equal(formatAddress(parseAddress(filled.join(':'))), formatAddress(parseAddress(block) | parseAddress(offset)), `${offset} in ${block}/${length}: ${rel}`);
      }
    }
  });
});

describe('the plan as people read it', () => {
  it('npm run plan: every range of the block relative to it, the block row saying so', () => {
    assert.deepEqual(
      planRows(sized.plan).map((r) => `${r.range} ${r.prefix}`),
      [
        'block xxxx:xxxx:xxxx:xx00::/56',
        'nodes xxxx:xxxx:xxxx:xx00::/64',
        'services xxxx:xxxx:xxxx:xx01::/112',
        'apiserver xxxx:xxxx:xxxx:xx01::1/128',
        'load-balancers xxxx:xxxx:xxxx:xx02::/120',
        'external-ips xxxx:xxxx:xxxx:xx03::/120',
        'nat64 xxxx:xxxx:xxxx:xx04::/96',
        'pods xxxx:xxxx:xxxx:xx08::/64',
      ],
    );
    assert.equal(planRows(sized.plan)[0]!.purpose, 'reserved block: the /56 the provider assigns, recorded at apply (x: its bits, not known yet)');
  });

  it('a NAT64 prefix the spec gives is its own, not relative', () => {
    const given = loadCluster('infra/dfw.yaml', `${dfwText.replace(/^ {4}block: .*$/m, '    blockSize: 56')}  egress:\n    nat64Prefix: 64:ff9b::/96\n`);
    assert.ok(given.ok);
    if (!given.ok) return;
    assert.equal(planRows(given.plan).find((r) => r.range === 'nat64')!.prefix, '64:ff9b::/96');
  });

  it('the comment: the note, then the ranges relative to the block; once the facts record it, the real ranges and no note', () => {
    const view = specView(sized.spec, undefined);
    const body = renderPlanComment({ stack: 'dfw', specFile: 'infra/dfw.yaml', commitSha: '0123456789abcdef0123456789abcdef01234567', changes: [], after: view, rawOutput: '' });
    const section = body.slice(body.indexOf('### Address plan'), body.indexOf('\n\nMachines:'));
    assert.equal(
      section,
      [
        '### Address plan',
        '',
        '_A new cluster: there is no plan on the base branch._',
        '',
        "_The block is not known yet: the provider (equinix-metal, metro da) assigns the /56 with the project's first device, and apply records it in clusters/dfw/provider-facts.json. Until then the ranges are relative to it, x standing for its bits (xxxx:xxxx:xxxx:xx01::/112: the Service range, in the block's second /64); the machines compute theirs from it when they boot._",
        '',
        'Ranges: 8 added, 0 removed, 0 changed, 0 unchanged.',
        '',
        '| | Range | Before | After | Purpose |',
        '| --- | --- | --- | --- | --- |',
        '| `+` added | `block` | — | `xxxx:xxxx:xxxx:xx00::/56` | reserved block: the /56 the provider assigns, recorded at apply (x: its bits, not known yet) |',
        "| `+` added | `nodes` | — | `xxxx:xxxx:xxxx:xx00::/64` | node addresses: the provider's /127 per device |",
        '| `+` added | `services` | — | `xxxx:xxxx:xxxx:xx01::/112` | Service ClusterIPs, announced from every node (ECMP) |',
        '| `+` added | `apiserver` | — | `xxxx:xxxx:xxxx:xx01::1/128` | the kubernetes Service ClusterIP: the API endpoint, reachable from outside |',
        '| `+` added | `load-balancers` | — | `xxxx:xxxx:xxxx:xx02::/120` | LoadBalancer IPs, /128 per Service from nodes with endpoints when Local |',
        '| `+` added | `external-ips` | — | `xxxx:xxxx:xxxx:xx03::/120` | Service externalIPs, /128 per Service from nodes with endpoints when Local |',
        '| `+` added | `nat64` | — | `xxxx:xxxx:xxxx:xx04::/96` | NAT64: pods reach IPv4-only hosts through it (DNS64 answers), translated on each node with its own IPv4; never announced |',
        '| `+` added | `pods` | — | `xxxx:xxxx:xxxx:xx08::/64` | pod pool: Calico IPAM blocks of /122 (2^58 blocks), announced by the node that holds each |',
      ].join('\n'),
    );
    assert.ok(body.includes('services<br/>xxxx:xxxx:xxxx:xx01::/112'), 'the picture shows the same ranges');

    const recorded = specView(sized.spec, facts.facts);
    assert.equal(recorded.note, undefined);
    assert.deepEqual(
      recorded.ranges.map((r) => `${r.name} ${r.prefix}`),
      ['block 2001:db8:2a00::/56', 'nodes 2001:db8:2a00::/64', 'services 2001:db8:2a00:1::/112', 'apiserver 2001:db8:2a00:1::1/128', 'load-balancers 2001:db8:2a00:2::/120', 'external-ips 2001:db8:2a00:3::/120', 'nat64 2001:db8:2a00:4::/96', 'pods 2001:db8:2a00:8::/64'],
    );
    assert.equal(recorded.ranges[0]!.purpose, "reserved block: the provider's, recorded at apply (spec.network.blockSize)");
    // Before and after with the same recorded block: a pull request that changes nothing else changes no range.
    const same = renderPlanComment({ stack: 'dfw', specFile: 'infra/dfw.yaml', commitSha: '0123456789abcdef0123456789abcdef01234567', changes: [], before: recorded, after: recorded, rawOutput: '' });
    assert.ok(same.includes('Ranges: 0 added, 0 removed, 0 changed, 8 unchanged.'));
  });
});
