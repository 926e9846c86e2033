import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AddressError, contains, formatAddress, formatPrefix, isIPv4, overlaps, parseAddress, parsePrefix, subnet, synthesize } from '../../lib/net/ipv6.js';

test('RFC 5952 canonical text', () => {
  const cases: Array<[string, string]> = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['2001:db8::ffff:192.0.2.1', '2001:db8::ffff:c000:201'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longer run wins
  ];
  for (const [input, want] of cases) assert.equal(formatAddress(parseAddress(input)), want, input);
});

test('bad addresses are refused with the reason', () => {
  const bad: Array<[string, RegExp]> = [
    ['2001:db8::1::2', /more than once/],
    ['2001:db8:1:2:3:4:5:6:7', /9 groups/],
    ['2001:db8::g', /is not an IPv6 address/],
    ['2001:db8::12345', /invalid group "12345"/],
    ['10.0.0.1', /IPv4 address; native6 is IPv6-only/],
    ['fe80::1%eth0', /zone index/],
    ['', /empty/],
    ['1:2:3:4:5:6:7::8', /too many groups/],
  ];
  for (const [input, re] of bad) assert.throws(() => parseAddress(input), (e: unknown) => e instanceof AddressError && re.test(e.message), input);
  assert.throws(() => parsePrefix('2001:db8::'), /no prefix length/);
  assert.throws(() => parsePrefix('2001:db8::/129'), /invalid prefix length/);
  assert.throws(() => parsePrefix('2001:db8::1/64'), /host bits set; the network is 2001:db8::\/64/);
});

test('subnets and containment', () => {
  const block = parsePrefix('2001:db8:100::/56');
  assert.equal(formatPrefix(subnet(block, 64, 8n)), '2001:db8:100:8::/64');
  assert.equal(formatPrefix(subnet(block, 64, 255n)), '2001:db8:100:ff::/64');
  assert.throws(() => subnet(block, 64, 256n), /has 256 \/64s; index 256 is outside it/);
  assert.ok(contains(block, parsePrefix('2001:db8:100:ff::/64')));
  assert.ok(!contains(block, parsePrefix('2001:db8:101::/64')));
  assert.ok(overlaps(parsePrefix('2001:db8::/32'), block));
});

test('format and parse are inverse on every address (property)', () => {
  const addr = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
  // Bias towards zero runs, where compression rules matter.
  const sparse = fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8), { minLength: 8, maxLength: 8 }).map((g) => g.reduce((v, x) => (v << 16n) | BigInt(x), 0n));
  fc.assert(
    fc.property(fc.oneof(addr, sparse), (a) => {
      const text = formatAddress(a);
      assert.equal(parseAddress(text), a);
      assert.equal(text, text.toLowerCase());
      assert.ok(!/(^|:)0[0-9a-f]/.test(text), `leading zero in ${text}`);
      assert.ok((text.match(/::/g) ?? []).length <= 1);
    }),
    { numRuns: 2000 },
  );
});

test('IPv4 under a NAT64 /96: dotted-decimal only, the address in the last 32 bits, parsed back by the embedded form', () => {
  for (const ok of ['0.0.0.0', '192.0.2.53', '147.75.207.207', '255.255.255.255']) assert.ok(isIPv4(ok), ok);
  for (const bad of ['', '192.0.2', '192.0.2.53.1', '192.0.2.256', '192.0.02.53', '192.0.2.-1', ' 192.0.2.53', '2001:db8::1', '0x7f.0.0.1']) assert.ok(!isIPv4(bad), bad);
  const prefix = parsePrefix('2001:db8:100:4::/96');
  assert.equal(synthesize(prefix, '147.75.207.207'), '2001:db8:100:4::934b:cfcf');
  // RFC 4291's embedded-IPv4 text form of the same address parses to it.
  assert.equal(parseAddress(synthesize(prefix, '192.0.2.53')), parseAddress('2001:db8:100:4::192.0.2.53'));
  assert.throws(() => synthesize(prefix, '192.0.2.256'), (e: unknown) => e instanceof AddressError && /"192\.0\.2\.256" is not an IPv4 address/.test(e.message));
  assert.throws(() => synthesize(parsePrefix('2001:db8:100::/64'), '192.0.2.53'), /must be a \/96, not a \/64/);
});
