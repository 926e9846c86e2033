/**
 * A reflector's copy under watch events (lib/kube/reflector.ts, applyEvent):
 * added and modified objects replace theirs by namespace and name, a delete
 * removes, a bookmark only moves the version on, an ERROR (410 Gone) asks for
 * a new LIST. The LIST/WATCH loop runs against a real API server in
 * test/integration/kubeClient.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEvent, keyOf, type Meta, type Store } from '../../lib/kube/reflector.js';

type O = Meta & { v?: number };
const o = (name: string, rv: string, v?: number, namespace?: string): O => ({ metadata: { name, resourceVersion: rv, ...(namespace ? { namespace } : {}) }, ...(v !== undefined ? { v } : {}) });

test('objects are keyed by namespace and name; cluster-scoped ones by name alone', () => {
  assert.equal(keyOf(o('a', '1', undefined, 'ns')), 'ns/a');
  assert.equal(keyOf(o('a', '1')), '/a');
});

test('ADDED and MODIFIED replace, DELETED removes, BOOKMARK moves the version only, ERROR relists', () => {
  const store: Store<O> = new Map();
  assert.deepEqual(applyEvent(store, { type: 'ADDED', object: o('a', '10', 1, 'x') }), { resourceVersion: '10', changed: true, relist: false });
  assert.deepEqual(applyEvent(store, { type: 'ADDED', object: o('a', '11', 1, 'y') }), { resourceVersion: '11', changed: true, relist: false });
  assert.equal(store.size, 2, 'the same name in two namespaces is two objects');
  assert.deepEqual(applyEvent(store, { type: 'MODIFIED', object: o('a', '12', 2, 'x') }), { resourceVersion: '12', changed: true, relist: false });
  assert.equal(store.get('x/a')!.v, 2);
  assert.deepEqual(applyEvent(store, { type: 'DELETED', object: o('a', '13', undefined, 'y') }), { resourceVersion: '13', changed: true, relist: false });
  assert.deepEqual([...store.keys()], ['x/a']);
  assert.deepEqual(applyEvent(store, { type: 'DELETED', object: o('gone', '14', undefined, 'y') }), { resourceVersion: '14', changed: false, relist: false }, 'deleting what the copy lacks changes nothing');
  assert.deepEqual(applyEvent(store, { type: 'BOOKMARK', object: o('', '20') }), { resourceVersion: '20', changed: false, relist: false });
  assert.deepEqual([...store.keys()], ['x/a'], 'a bookmark holds no object');
  const gone = { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } as unknown as O } as const;
  assert.deepEqual(applyEvent(store, gone), { changed: false, relist: true });
  assert.deepEqual([...store.keys()], ['x/a'], 'the copy stays until the new LIST replaces it');
});
