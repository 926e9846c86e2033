/**
 * The spec decoder against hostile sizes (review security-2026-12 L1): a
 * file over SPEC_MAX_BYTES is refused before it is parsed, with its size,
 * the limit and the fix; repeated keys are found by the reader
 * (Reader.duplicateKeys, one Set per mapping) instead of the parser's
 * quadratic check, and still reported at the repeat, with the field, the
 * line of the first and the fix, in every mapping of the file. Timings are
 * the benchmark's (npm run bench -- spec), never asserted here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { decodeCluster, SPEC_MAX_BYTES } from '../../lib/cluster/decode.js';
import { formatProblem } from '../../lib/cluster/problems.js';
import { Reader } from '../../lib/cluster/reader.js';
import { platformRules } from '../../lib/platforms/index.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;
const HEAD = ['apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: edge', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4'];

function problems(text: string, maxBytes?: number): string[] {
  const r = decodeCluster('infra/edge.yaml', text, platformRules, maxBytes === undefined ? {} : { maxBytes });
  assert.equal(r.ok, false, 'the spec should be refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('a repeated key is reported at the repeat, with its field, the line of the first and the fix, wherever it is', () => {
  const text = lines(
    ...HEAD,
    '  workers:',
    '    - name: general',
    '      count: 1',
    '    - name: big',
    '      count: 2',
    '      count: 3',
    '  network:',
    '    block: 2001:db8:100::/56',
    '    localASN: 65001',
    '    block: 2001:db8:200::/56',
    '    block: 2001:db8:300::/56',
  );
  assert.deepEqual(problems(text), [
    'infra/edge.yaml:13:7: spec.workers[1].count: is repeated (first at line 12). Fix: keep one of the repeated keys',
    'infra/edge.yaml:17:5: spec.network.block: is repeated (first at line 15). Fix: keep one of the repeated keys',
    'infra/edge.yaml:18:5: spec.network.block: is repeated (first at line 15). Fix: keep one of the repeated keys',
  ]);
  // Without the repeats the same file decodes: the repeats were the only problems.
  const fixed = text.split('\n').filter((_, i) => i !== 12 && i !== 16 && i !== 17).join('\n');
  assert.equal(decodeCluster('infra/edge.yaml', fixed, platformRules).ok, true);
});

test('a repeated key under a field the decoder never reads is still reported, as the parser\'s check did (the whole file is walked)', () => {
  const text = lines(...HEAD, '  network:', '    block: 2001:db8:100::/56', '  extras:', '    - {a: 1, b: 2, a: 3}', '  flowMap: {x: 1, "x": 2}');
  assert.deepEqual(problems(text), [
    'infra/edge.yaml:11:20: spec.extras[0].a: is repeated (first at line 11). Fix: keep one of the repeated keys',
    'infra/edge.yaml:12:19: spec.flowMap.x: is repeated (first at line 12). Fix: keep one of the repeated keys',
  ]);
});

test('keys repeat only within one mapping, and compare as the parser compares them: 1 and "1" differ', () => {
  const text = lines('a: {name: x}', 'b: {name: x}', '1: one', '"1": also one', 'c: [{k: 1}, {k: 2}]');
  const counter = new LineCounter();
  const reader = new Reader('f.yaml', counter);
  assert.equal(reader.duplicateKeys(parseDocument(text, { lineCounter: counter, uniqueKeys: false }).contents as Node), 0);
  assert.deepEqual(reader.problems, []);
});

test('a repeated key and a syntax error are both reported', () => {
  const text = lines(...HEAD, '  network:', '    block: 2001:db8:100::/56', '    block: 2001:db8:200::/56', '  policy: [unclosed');
  const found = problems(text);
  assert.equal(found.length, 2, found.join('\n'));
  assert.match(found[0]!, /^infra\/edge\.yaml:\d+:\d+: \(yaml\): .* Fix: correct the YAML syntax at that line$/);
  assert.equal(found[1], 'infra/edge.yaml:10:5: spec.network.block: is repeated (first at line 9). Fix: keep one of the repeated keys');
});

test('a spec over 256 KiB is refused before it is parsed: its size, the limit and the fix, and nothing else', () => {
  assert.equal(SPEC_MAX_BYTES, 262_144);
  // 40,000 keys: 12 s in the parser's check before (the review's figure). Broken YAML at the end: a parse would report it.
  const keys = Array.from({ length: 40_000 }, (_, i) => `  k${String(i).padStart(6, '0')}: 1`);
  const big = lines(...HEAD, ...keys, '  broken: [');
  const bytes = Buffer.byteLength(big);
  assert.ok(bytes > SPEC_MAX_BYTES);
  assert.deepEqual(problems(big), [
    `infra/edge.yaml: (document): is ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB), over the 262144-byte (256 KiB) limit of a cluster spec; it was not read. Fix: a cluster spec is a few KiB: keep only the fields of docs/spec.md, one cluster per file`,
  ]);
});

test('the limit counts bytes, not characters, and a file of exactly the limit is read', () => {
  const comment = (n: number) => `# ${'é'.repeat(n)}\n`;
  const base = lines(...HEAD, '  network:', '    block: 2001:db8:100::/56');
  // é is two bytes in UTF-8: a file under the limit in characters and over it in bytes is refused.
  const pad = Math.floor((SPEC_MAX_BYTES - Buffer.byteLength(base)) / 2);
  const over = comment(pad) + base;
  assert.ok(over.length < SPEC_MAX_BYTES && Buffer.byteLength(over) > SPEC_MAX_BYTES);
  assert.match(problems(over)[0]!, /over the 262144-byte \(256 KiB\) limit/);
  // Exactly at the limit (an ASCII comment fills it): decoded.
  const room = SPEC_MAX_BYTES - Buffer.byteLength(base) - 3;
  const exact = `# ${'x'.repeat(room)}\n${base}`;
  assert.equal(Buffer.byteLength(exact), SPEC_MAX_BYTES);
  const r = decodeCluster('infra/edge.yaml', exact, platformRules);
  assert.equal(r.ok, true, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  // One byte more: refused.
  assert.match(problems(`#${exact}`)[0]!, /is 262145 bytes \(256\.0 KiB\), over the 262144-byte/);
  // The limit is an option, for the benchmark: lifted, the same file is read.
  assert.equal(decodeCluster('infra/edge.yaml', `#${exact}`, platformRules, { maxBytes: SPEC_MAX_BYTES + 1 }).ok, true);
});
