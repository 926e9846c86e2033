/** The BGP password Secret (lib/render/calico.ts bgpPasswordSecret): what apply and the lab put in the cluster, never in git. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bgpPasswordSecret } from '../../lib/render/calico.js';

test('the BGP password Secret: one key per node, in name order, each password base64 of its UTF-8', () => {
  const secret = bgpPasswordSecret(new Map([['dfw-w-1', 'pässwörd'], ['dfw-cp-1', 's3cret']]));
  assert.deepEqual(secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: 'bgp-md5', namespace: 'kube-system' },
    data: { 'dfw-cp-1': 'czNjcmV0', 'dfw-w-1': 'cMOkc3N3w7ZyZA==' },
  });
  assert.deepEqual(Object.keys(secret.data as Record<string, string>), ['dfw-cp-1', 'dfw-w-1']);
  assert.deepEqual(bgpPasswordSecret(new Map()).data, {});
});
