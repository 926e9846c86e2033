/**
 * What the lab's kubelet derives from a pod before it runs it
 * (lib/platforms/lab/machine/kubelet/podSpec.ts and images.ts): the
 * program an image stands for (and the images it refuses), the
 * container's environment as the kubelet builds it, the pod's
 * resolv.conf for each DNS policy, its hosts file, and the sandbox script
 * (what it mounts, as which user it runs the program). The sandbox itself
 * runs in test/lab (it needs root and namespaces).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveImage, splitImage } from '../../lib/platforms/lab/machine/kubelet/images.js';
import { containerEnv, expand, podHosts, podResolvConf, quantity, sandboxScript, serviceEnv, type Service } from '../../lib/platforms/lab/machine/kubelet/podSpec.js';
import { linkedOutside, restartDelay } from '../../lib/platforms/lab/machine/kubelet/pods.js';
import { podBack, untranslated } from '../../lib/platforms/lab/machine/power.js';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COREDNS, FLUX_CONTROLLERS, KUBERNETES_VERSION } from '../../lib/toolchain/pins.js';

const L = { binDir: '/c/bin', codeRoot: '/code', node: '/usr/bin/node' };

test('image references split into name and tag, with registry ports and digests', () => {
  assert.deepEqual(splitImage('registry.k8s.io/coredns/coredns:v1.13.1'), { name: 'registry.k8s.io/coredns/coredns', tag: 'v1.13.1' });
  assert.deepEqual(splitImage('localhost:5000/x/y'), { name: 'localhost:5000/x/y' });
  assert.deepEqual(splitImage('localhost:5000/x/y:v2@sha256:abcd'), { name: 'localhost:5000/x/y', tag: 'v2' });
  assert.deepEqual(splitImage('fluxcd/source-controller'), { name: 'fluxcd/source-controller' });
});

test('CoreDNS at the pinned version runs the built CoreDNS as /coredns, nonroot, with kubeadm\'s arguments', () => {
  const r = resolveImage(L, { image: `${COREDNS.image}:${COREDNS.version}`, args: ['-conf', '/etc/coredns/Corefile'] });
  assert.ok(r.ok);
  assert.equal(r.program.binary, '/c/bin/coredns');
  assert.deepEqual(r.argv, ['/coredns', '-conf', '/etc/coredns/Corefile']);
  assert.deepEqual(r.program.user, { uid: 65532, gid: 65532 });
});

test('an image at another version than the built one is refused, naming both', () => {
  const r = resolveImage(L, { image: `${COREDNS.image}:v1.11.3` });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /at v1\.13\.1 only .* not v1\.11\.3/);
  const untagged = resolveImage(L, { image: COREDNS.image });
  assert.match(!untagged.ok ? untagged.reason : '', /not an untagged image/);
});

test('Flux\'s controllers from docker.io (short or long form) and ghcr.io are the built controllers, as 65534', () => {
  for (const f of FLUX_CONTROLLERS) {
    for (const image of [`${f.image}:${f.version}`, `fluxcd/${f.name}:${f.version}`, `ghcr.io/fluxcd/${f.name}:${f.version}`]) {
      const r = resolveImage(L, { image, args: ['--log-level=info'] });
      assert.ok(r.ok, image);
      assert.deepEqual(r.argv, [`/usr/local/bin/${f.name}`, '--log-level=info'], image);
      assert.equal(r.program.user.uid, 65534);
    }
  }
});

test('kube-proxy takes the container\'s command (kubeadm gives one), at the cluster\'s version', () => {
  const r = resolveImage(L, { image: `registry.k8s.io/kube-proxy:${KUBERNETES_VERSION}`, command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf'] });
  assert.ok(r.ok);
  assert.deepEqual(r.argv, ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf']);
  assert.equal(r.program.binary, '/c/bin/kube-proxy');
});

test('agnhost runs netexec only, as the lab\'s echo program with its port; anything else is refused', () => {
  const r = resolveImage(L, { image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', '--http-port=8081'] }, { pod: 'p', node: 'n' });
  assert.ok(r.ok);
  assert.deepEqual(r.argv, ['/usr/bin/node', '--import', 'tsx', '/code/lib/platforms/lab/programs/echo.ts', '--port', '8081', '--pod', 'p', '--node', 'n']);
  assert.equal(r.program.workdir, '/code');
  const other = resolveImage(L, { image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['pause'] });
  assert.match(!other.ok ? other.reason : '', /netexec only, not "pause"/);
  const unknown = resolveImage(L, { image: 'docker.io/library/nginx:1.27' });
  assert.match(!unknown.ok ? unknown.reason : '', /no program for this image in the lab/);
});

const api: Service = { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '2001:db8:100:3::1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] } };
const source: Service = { metadata: { name: 'source-controller', namespace: 'flux-system' }, spec: { clusterIP: '2001:db8:100:3::20', ports: [{ name: 'http', port: 80 }] } };

test('every pod gets the API server\'s variables, bracketed where a URL needs it', () => {
  const e = serviceEnv([api]);
  assert.equal(e.KUBERNETES_SERVICE_HOST, '2001:db8:100:3::1');
  assert.equal(e.KUBERNETES_SERVICE_PORT, '443');
  assert.equal(e.KUBERNETES_SERVICE_PORT_HTTPS, '443');
  assert.equal(e.KUBERNETES_PORT, 'tcp://[2001:db8:100:3::1]:443');
  assert.equal(e.KUBERNETES_PORT_443_TCP_ADDR, '2001:db8:100:3::1');
  assert.deepEqual(serviceEnv([{ metadata: { name: 'h', namespace: 'x' }, spec: { clusterIP: 'None', ports: [{ port: 1 }] } }]), {});
});

test('a container\'s environment: fieldRef, resourceFieldRef (the API server\'s divisor "0" meaning 1), $(VAR) of earlier variables, the namespace\'s Services', () => {
  const c = {
    name: 'manager',
    image: 'x',
    resources: { limits: { memory: '1Gi', cpu: '500m' } },
    env: [
      { name: 'RUNTIME_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'ADV', value: 'source-controller.$(RUNTIME_NAMESPACE).svc' },
      { name: 'LATER', value: '$(NOT_YET) $$(ESCAPED)' },
      { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { containerName: 'manager', resource: 'limits.memory', divisor: '0' } } },
      { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
      { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ],
  };
  const env = containerEnv(c, [c], { pod: { name: 'sc-1', namespace: 'flux-system', uid: 'u' }, nodeName: 'lab-cp-1', hostIP: '2001:db8::1', podIP: '2001:db8:100:1::5', services: [api, source] });
  assert.equal(env.ADV, 'source-controller.flux-system.svc');
  assert.equal(env.LATER, '$(NOT_YET) $(ESCAPED)');
  assert.equal(env.GOMEMLIMIT, String(1024 ** 3));
  assert.equal(env.CPU, '500');
  assert.equal(env.NODE, 'lab-cp-1');
  assert.equal(env.IP, '2001:db8:100:1::5');
  assert.equal(env.SOURCE_CONTROLLER_SERVICE_HOST, '2001:db8:100:3::20');
  assert.equal(env.KUBERNETES_SERVICE_HOST, '2001:db8:100:3::1');
  assert.equal(env.HOSTNAME, 'sc-1');
  const noLinks = containerEnv(c, [c], { pod: { name: 'p', namespace: 'flux-system', uid: 'u' }, nodeName: 'n', hostIP: 'h', services: [api, source], enableServiceLinks: false });
  assert.equal(noLinks.SOURCE_CONTROLLER_SERVICE_HOST, undefined);
  assert.equal(noLinks.KUBERNETES_SERVICE_HOST, '2001:db8:100:3::1');
  assert.throws(() => containerEnv({ ...c, env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }, [c], { pod: { name: 'p', namespace: 'n', uid: 'u' }, nodeName: 'n', hostIP: 'h', services: [] }), /fieldRef spec\.bogus/);
  assert.equal(expand('$(A)-$(B)', { A: '1' }), '1-$(B)');
  assert.equal(quantity('64Mi'), 64 * 1024 ** 2);
  assert.throws(() => quantity('12Q'), /unknown unit/);
});

const host = 'nameserver 192.0.2.53\nsearch example.net\noptions edns0\n';
const dns = { namespace: 'egress', clusterDNS: ['2001:db8:100:3:0:0:0:a'], clusterDomain: 'cluster.local', hostResolvConf: host };

test('resolv.conf for ClusterFirst: the cluster DNS, the namespace\'s search path then the node\'s, ndots 5', () => {
  assert.equal(podResolvConf(dns), 'search egress.svc.cluster.local svc.cluster.local cluster.local example.net\nnameserver 2001:db8:100:3::a\noptions ndots:5\n');
});

test('resolv.conf for Default and for a host-network pod under ClusterFirst: the node\'s own', () => {
  const nodeOwn = 'search example.net\nnameserver 192.0.2.53\noptions edns0\n';
  assert.equal(podResolvConf({ ...dns, dnsPolicy: 'Default' }), nodeOwn);
  assert.equal(podResolvConf({ ...dns, hostNetwork: true }), nodeOwn);
  assert.match(podResolvConf({ ...dns, hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), /nameserver 2001:db8:100:3::a/);
});

test('resolv.conf with dnsConfig: merged, options by name; None takes dnsConfig only', () => {
  const merged = podResolvConf({ ...dns, dnsConfig: { searches: ['extra.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } });
  assert.match(merged, /^search egress\.svc\.cluster\.local .* example\.net extra\.example$/m);
  assert.match(merged, /^options ndots:2 edns0$/m);
  assert.equal(podResolvConf({ ...dns, dnsPolicy: 'None', dnsConfig: { nameservers: ['2001:db8::53'] } }), 'nameserver 2001:db8::53\n');
});

test('hosts names the pod\'s address with its name', () => {
  assert.match(podHosts('2001:db8:100:1::5', 'coredns-1'), /^2001:db8:100:1::5\tcoredns-1$/m);
  assert.doesNotMatch(podHosts(undefined, 'p'), /\tp$/m);
});

test('the sandbox: a tmpfs root, read-only system folders and mounts, the image\'s user with only the capability asked', () => {
  const s = sandboxScript({
    root: '/run/pods/u/root',
    system: ['/etc/ssl'],
    mounts: [
      { source: "/v/it's", target: '/etc/coredns', readOnly: true, file: false },
      { source: '/v/resolv', target: '/etc/resolv.conf', readOnly: false, file: true },
    ],
    hostname: 'coredns-1',
    workingDir: '/',
    user: { uid: 65532, gid: 65532 },
    capabilities: ['net_bind_service'],
    argv: ['/coredns', '-conf', '/etc/coredns/Corefile'],
  });
  assert.match(s, /^mount -t tmpfs -o mode=0755 pod-root '\/run\/pods\/u\/root'$/m);
  assert.match(s, /^mount --rbind \/usr usr && mount -o remount,bind,ro usr$/m);
  assert.match(s, /^mount --bind '\/v\/it'\\''s' '.\/etc\/coredns' && mount -o remount,bind,ro '.\/etc\/coredns'$/m);
  assert.match(s, /^mount --bind '\/v\/resolv' '.\/etc\/resolv.conf'$/m);
  assert.match(s, /^hostname 'coredns-1'$/m);
  assert.match(s, /exec chroot \. '\/usr\/bin\/setpriv' '--reuid=65532' '--regid=65532' '--clear-groups' '--inh-caps=\+net_bind_service' '--ambient-caps=\+net_bind_service' '--' '\/usr\/bin\/env' '--chdir=\/' '--' '\/coredns'/);
  const root = sandboxScript({ root: '/r', system: [], mounts: [], hostname: null, workingDir: '/code', user: { uid: 0, gid: 0 }, capabilities: [], argv: ['node'] });
  assert.doesNotMatch(root, /setpriv|hostname/);
  assert.match(root, /exec chroot \. '\/usr\/bin\/env' '--chdir=\/code' '--' 'node'$/m);
});

test('the back-off doubles from 10 s and stops at 5 min', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10].map(restartDelay), [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

test('a checkout\'s links to folders outside it are bound into the pod too (node_modules of another checkout); files, inner and dangling links are not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-linked-'));
  try {
    const code = join(dir, 'checkout');
    const other = join(dir, 'main', 'node_modules');
    mkdirSync(other, { recursive: true });
    mkdirSync(join(code, 'lib'), { recursive: true });
    writeFileSync(join(dir, 'file'), 'x');
    symlinkSync(other, join(code, 'node_modules'));
    symlinkSync(join(code, 'lib'), join(code, 'inner'));
    symlinkSync(join(dir, 'file'), join(code, 'a-file'));
    symlinkSync(join(dir, 'gone'), join(code, 'dangling'));
    assert.deepEqual(linkedOutside(code), [other]);
    assert.deepEqual(linkedOutside(join(dir, 'absent')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pod is back after a restart once its program started since and it is Ready; one the lab does not run is not waited for', () => {
  const since = Date.parse('2026-12-07T03:00:00.500Z');
  const pod = (startedAt: string | undefined, ready: boolean, waiting?: string) => ({
    metadata: { name: 'p', namespace: 'echo' },
    spec: { nodeName: 'n' },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ state: waiting ? { waiting: { reason: waiting } } : { running: { startedAt } } }] },
  });
  assert.equal(podBack(pod('2026-12-07T03:00:02Z', true), since), true);
  // startedAt has whole seconds: the second the power came back counts.
  assert.equal(podBack(pod('2026-12-07T03:00:00Z', true), since), true);
  assert.equal(podBack(pod('2026-12-07T02:59:59Z', true), since), false, 'still the program of before the restart (its status not yet reported again)');
  assert.equal(podBack(pod('2026-12-07T03:00:02Z', false), since), false, 'running, not yet Ready');
  assert.equal(podBack(pod(undefined, false, 'ContainerCreating'), since), false);
  assert.equal(podBack(pod(undefined, false, 'NotRunnableInLab'), since), true);
});

test('after a restart, each kube-proxy must translate to every ready endpoint of every Service', () => {
  const slice = (name: string, addresses: string[], ready: boolean | undefined, port = 8080, addressType = 'IPv6') => ({
    metadata: { namespace: 'echo', labels: { 'kubernetes.io/service-name': name } },
    addressType,
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: ready === undefined ? {} : { ready } })),
    ports: [{ port, protocol: 'TCP' }],
  });
  // As `nft list table ip6 kube-proxy` prints an endpoint chain.
  const table = ['\tchain endpoint-ABC-echo/internal/tcp/__2001:db8:100:8::41/8080 {', '\t\tip6 saddr 2001:db8:100:8::41 jump mark-for-masquerade', '\t\tmeta l4proto tcp dnat to [2001:db8:100:8::41]:8080', '\t}'].join('\n');
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::41'], true)], table), []);
  // A condition left out means ready; the API may spell an address uncompressed.
  assert.deepEqual(untranslated([slice('internal', ['2001:0db8:0100:0008:0000:0000:0000:0041'], undefined)], table), []);
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::42'], true)], table), ['echo/internal [2001:db8:100:8::42]:8080']);
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::41'], true, 9090)], table), ['echo/internal [2001:db8:100:8::41]:9090'], 'the port counts');
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::41'], true, 80)], table), ['echo/internal [2001:db8:100:8::41]:80'], 'a port is not a prefix of another');
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::4'], true)], table), ['echo/internal [2001:db8:100:8::4]:8080'], 'nor an address');
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::41'], true)], table.replace('dnat to', 'dnat ip6 to')), [], 'nft spells the family in an inet table');
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::42'], false)], table), [], 'a not-ready endpoint is not served');
  assert.deepEqual(untranslated([slice('internal', ['192.0.2.1'], true, 80, 'IPv4')], table), [], 'IPv4 slices are not the ip6 table\'s');
  assert.deepEqual(untranslated([slice('internal', ['2001:db8:100:8::41'], true)], ''), ['echo/internal [2001:db8:100:8::41]:8080'], 'no table at all');
});
