/** kubeadm configuration rendering: goldens for init and join, and refused secrets. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { caCertHash } from '../../lib/pki/x509.js';
import { controlPlaneEndpoint, dnsServiceIP, kubeadmInit, kubeadmJoin } from '../../lib/render/kubeadm.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { assertGolden } from '../golden.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const secrets = { bootstrapToken: 'abcdef.0123456789abcdef', certificateKey: 'a'.repeat(64) };

function dfw() {
  const r = loadCluster('infra/dfw.yaml', readFileSync(`${root}infra/dfw.yaml`, 'utf8'));
  assert.ok(r.ok);
  if (!r.ok) throw new Error('unreachable');
  return r;
}

test('init and join configuration (golden)', () => {
  const { spec, plan } = dfw();
  assert.equal(controlPlaneEndpoint(plan), '[2001:db8:2a00:1::1]:443');
  assert.equal(dnsServiceIP(plan), '2001:db8:2a00:1::a');
  assertGolden('kubeadm/dfw-init.yaml', kubeadmInit(spec, plan, { name: 'dfw-cp-1', address: '2001:db8:2a00::3' }, secrets));
  assertGolden('kubeadm/dfw-join-control-plane.yaml', kubeadmJoin(plan, { name: 'dfw-cp-2', address: '2001:db8:2a00::5' }, secrets, { controlPlane: true, caCertHash: `sha256:${'0'.repeat(64)}` }));
  assertGolden('kubeadm/dfw-join-worker.yaml', kubeadmJoin(plan, { name: 'dfw-general-1', address: '2001:db8:2a00::9' }, secrets, { controlPlane: false, caCertHash: `sha256:${'0'.repeat(64)}` }));
});

test('bad secrets are refused before anything is written', () => {
  const { spec, plan } = dfw();
  const node = { name: 'dfw-cp-1', address: '2001:db8:2a00::3' };
  assert.throws(() => kubeadmInit(spec, plan, node, { ...secrets, bootstrapToken: 'short' }), /bootstrap token must look like abcdef.0123456789abcdef/);
  assert.throws(() => kubeadmInit(spec, plan, node, { ...secrets, certificateKey: 'xyz' }), /certificate key must be 64 hexadecimal characters/);
  assert.throws(() => kubeadmJoin(plan, node, secrets, { controlPlane: true, caCertHash: 'md5:00' }), /sha256:<64 hex>/);
  // Whole values only: one character too many, before or after, is refused too.
  for (const bootstrapToken of ['xabcdef.0123456789abcdef', 'abcdef.0123456789abcdefx', 'ABCDEF.0123456789abcdef']) {
    assert.throws(() => kubeadmInit(spec, plan, node, { ...secrets, bootstrapToken }), /bootstrap token must look like/, bootstrapToken);
  }
  for (const certificateKey of [`x${'a'.repeat(64)}`, `${'a'.repeat(64)}x`, 'a'.repeat(63)]) {
    assert.throws(() => kubeadmJoin(plan, node, { ...secrets, certificateKey }, { controlPlane: true, caCertHash: `sha256:${'0'.repeat(64)}` }), /certificate key must be 64 hexadecimal/);
  }
  for (const caCertHash of [`xsha256:${'0'.repeat(64)}`, `sha256:${'0'.repeat(64)}0`, `sha256:${'0'.repeat(63)}`]) {
    assert.throws(() => kubeadmJoin(plan, node, secrets, { controlPlane: false, caCertHash }), /sha256:<64 hex>/, caCertHash);
  }
});

test('the lab\'s options: shared kernel, skipped phases, another CRI socket, a discovery timeout; no DNS name (golden)', () => {
  const r = loadCluster('infra/lab.yaml', readFileSync(`${root}infra/lab.yaml`, 'utf8'));
  assert.ok(r.ok);
  if (!r.ok) return;
  const init = kubeadmInit(r.spec, r.plan, { name: 'lab-cp-1', address: '2001:db8:100::3' }, secrets, { sharedKernel: true, skipPhases: ['addon/kube-proxy'], criSocket: 'unix:///x.sock' });
  assertGolden('kubeadm/lab-init-options.yaml', init);
  const join = kubeadmJoin(r.plan, { name: 'lab-cp-2', address: '2001:db8:100::5' }, secrets, { controlPlane: false, caCertHash: `sha256:${'0'.repeat(64)}` }, { skipPhases: ['preflight'], discoveryTimeout: '15m0s' });
  assertGolden('kubeadm/lab-join-worker-options.yaml', join);
});

test('the CA hash is sha256 of the certificate public key (as kubeadm computes it)', () => {
  // A throwaway self-signed certificate (P-256), and its SPKI hash computed with openssl at the time of writing.
  const pem = readFileSync(new URL('../fixtures/ca.crt', import.meta.url), 'utf8');
  assert.match(caCertHash(pem), /^sha256:[0-9a-f]{64}$/);
  assert.equal(caCertHash(pem), readFileSync(new URL('../fixtures/ca.crt.sha256', import.meta.url), 'utf8').trim());
});
