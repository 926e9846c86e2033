/**
 * The lab supervisor's logic (what the kubelet does for static pods), with a
 * fake clock and fake processes: image mapping, manifests to processes,
 * start, restart with backoff, restart on change, stop on removal.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, imageBinary, processesOfManifest, Supervisor, type Child, type ProcessSpec } from '../../lib/platforms/lab/machine/supervisor.js';

const MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.35.4
    command:
    - kube-apiserver
    - --secure-port=443
    env:
    - name: GOMAXPROCS
      value: "2"
`;

test('images map to the built binaries; others are refused', () => {
  assert.equal(imageBinary('registry.k8s.io/kube-apiserver:v1.35.4'), 'kube-apiserver');
  assert.equal(imageBinary('registry.k8s.io/etcd:3.6.6-0'), 'etcd');
  assert.equal(imageBinary('registry.k8s.io/kube-proxy@sha256:abc'), 'kube-proxy');
  assert.equal(imageBinary('docker.io/library/nginx:1'), undefined);
  assert.throws(() => processesOfManifest(MANIFEST.replace('kube-apiserver:v1.35.4', 'nginx:1'), '/bin'), /image registry.k8s.io\/nginx:1 has no lab binary/);
});

test('a static pod manifest becomes its processes', () => {
  const [p] = processesOfManifest(MANIFEST, '/opt/bin');
  assert.equal(p!.id, 'kube-apiserver/kube-apiserver');
  assert.deepEqual(p!.argv, ['/opt/bin/kube-apiserver', '--secure-port=443']);
  assert.deepEqual(p!.env, { GOMAXPROCS: '2' });
});

class FakeChild implements Child {
  private listener?: (code: number | null, signal: NodeJS.Signals | null) => void;
  readonly signals: NodeJS.Signals[] = [];
  constructor(readonly pid: number) {}
  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
  }
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.listener = listener;
  }
  exit(code: number): void {
    this.listener?.(code, null);
  }
}

function harness() {
  let now = 0;
  let pid = 100;
  const children: FakeChild[] = [];
  const sup = new Supervisor({
    now: () => now,
    log: () => undefined,
    spawn: () => {
      const c = new FakeChild(pid++);
      children.push(c);
      return c;
    },
  });
  return { sup, children, advance: (ms: number) => (now += ms) };
}

const spec = (hash: string): ProcessSpec => ({ id: 'p/c', argv: ['/bin/x'], env: {}, hash });

test('starts, restarts with backoff after an exit, and resets the backoff after a minute up', () => {
  const { sup, children, advance } = harness();
  sup.reconcile([spec('a')]);
  assert.equal(children.length, 1);
  children[0]!.exit(1);
  sup.reconcile([spec('a')]);
  assert.equal(children.length, 1, 'not before the backoff');
  advance(backoffMs(1));
  sup.reconcile([spec('a')]);
  assert.equal(children.length, 2);
  assert.equal(sup.status()[0]!.restarts, 1);
  advance(61_000);
  children[1]!.exit(1);
  assert.equal(sup.status()[0]!.restarts, 1, 'counted from zero again after a minute up');
  assert.deepEqual([1, 2, 3, 4, 5, 10].map(backoffMs), [1000, 2000, 4000, 8000, 10000, 10000]);
});

test('a changed definition restarts the process; a removed one stops it', () => {
  const { sup, children } = harness();
  sup.reconcile([spec('a')]);
  sup.reconcile([spec('b')]);
  assert.deepEqual(children[0]!.signals, ['SIGTERM']);
  assert.equal(children.length, 2);
  sup.reconcile([]);
  assert.deepEqual(children[1]!.signals, ['SIGTERM']);
  assert.deepEqual(sup.status(), []);
});
