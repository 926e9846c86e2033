/**
 * Suggesting the name a user meant (lib/text/suggest.ts): what "did you mean"
 * offers for an unknown field or kind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closestNames, editDistance } from '../../lib/text/suggest.js';

test('edit distance: insertions, deletions and substitutions count one each, an adjacent swap counts one', () => {
  const cases: Array<[string, string, number]> = [
    ['port', 'port', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['prt', 'port', 1],
    ['ports', 'port', 1],
    ['pert', 'port', 1],
    ['kitten', 'sitting', 3],
    ['prot', 'port', 1],
    ['ab', 'ba', 1],
    ['abcdef', 'badcfe', 3],
    ['targtPort', 'targetPort', 1],
    // Optimal string alignment: a swapped pair is not edited again (this is 2 in the unrestricted distance).
    ['ca', 'abc', 3],
  ];
  for (const [a, b, d] of cases) {
    assert.equal(editDistance(a, b), d, `${a} → ${b}`);
    assert.equal(editDistance(b, a), d, `${b} → ${a}`);
  }
});

test('the nearest names, ignoring case, all of those at the best distance in order, at most max', () => {
  const fields = ['block', 'blockSize', 'localASN', 'peerASN', 'serviceRangeSize', 'podPoolSize', 'podBlockSize', 'loadBalancerRangeSize', 'externalIPRangeSize'];
  assert.deepEqual(closestNames('serviceRangSize', fields, 3), ['serviceRangeSize']);
  assert.deepEqual(closestNames('LOCALASN', fields, 3), ['localASN']);
  // Two at distance 1 (and none nearer): both, sorted; max cuts the list.
  assert.deepEqual(closestNames('podXlockSize', ['podPoolSize', 'podBlockSize', 'podClockSize'], 3), ['podBlockSize', 'podClockSize']);
  assert.deepEqual(closestNames('podXlockSize', ['podPoolSize', 'podClockSize', 'podBlockSize'], 1), ['podBlockSize']);
  // The nearest only: a name at distance 1 hides one at distance 2.
  assert.deepEqual(closestNames('serviceRangSize', ['serviceRangeSizes', 'serviceRangeSize'], 3), ['serviceRangeSize']);
  assert.deepEqual(closestNames('port', ['port', 'sport', 'pot'], 3), ['port']);
});

test('how near is near enough grows with the length of the names: 1 up to 5 characters, 2 up to 8, then 3', () => {
  assert.deepEqual(closestNames('ab', ['xy'], 3), []);
  assert.deepEqual(closestNames('ab', ['xb'], 3), ['xb']);
  assert.deepEqual(closestNames('abcde', ['abcxy'], 3), []);
  assert.deepEqual(closestNames('abcdef', ['abcdxy'], 3), ['abcdxy']);
  assert.deepEqual(closestNames('abcdefgh', ['abcdexyz'], 3), []);
  assert.deepEqual(closestNames('abcdefghi', ['abcdefxyz'], 3), ['abcdefxyz']);
  assert.deepEqual(closestNames('abcdefghijkl', ['abcdefghwxyz'], 3), []);
  // The longer of the two names sets the limit, whichever of them is the one asked about.
  assert.deepEqual(closestNames('xbcde', ['abcdey'], 3), ['abcdey']);
  assert.deepEqual(closestNames('abcdey', ['xbcde'], 3), ['xbcde']);
});

test('with no name near enough, the names that contain it or that it contains, from 4 characters, in order, at most max', () => {
  const fields = ['serviceRangeSize', 'podBlockSize', 'loadBalancerRangeSize', 'externalIPRangeSize', 'block'];
  assert.deepEqual(closestNames('RangeSize', fields, 3), ['externalIPRangeSize', 'loadBalancerRangeSize', 'serviceRangeSize']);
  assert.deepEqual(closestNames('RangeSize', fields, 2), ['externalIPRangeSize', 'loadBalancerRangeSize']);
  assert.deepEqual(closestNames('theblockprefix', fields, 3), ['block']);
  // Three characters are too few to go by.
  assert.deepEqual(closestNames('siz', ['podBlockSize', 'serviceRangeSize'], 3), []);
  assert.deepEqual(closestNames('podBlockSizeAndMore', ['siz'], 3), []);
  assert.deepEqual(closestNames('size', ['podBlockSize'], 3), ['podBlockSize']);
  assert.deepEqual(closestNames('podblocksizes', ['size'], 3), ['size']);
  assert.deepEqual(closestNames('anything', [], 3), []);
});
