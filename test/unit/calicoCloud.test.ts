/**
 * Calico's install objects for the kubeadm platforms (lib/platforms/
 * calicoInstall.ts) on a small synthetic upstream written here in
 * calico.yaml's shape (a trimmed calico-node DaemonSet, calico-config, the
 * kube-controllers Deployment, the IPPool CRD): every adjustment, the API
 * endpoint on every container, the address autodetection of each platform
 * (Equinix Metal's router; the Node's InternalIP on metal), the
 * BIRD templates mounted once, determinism, and each refusal's message. The
 * reader on files made here (no setup needed).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubeObject } from '../../lib/kube/objects.js';
import {
  BIRD_TEMPLATES_VOLUME,
  CALICO_UPSTREAM,
  calicoInstallObjects,
  CalicoManifestError,
  IPV6_ONLY_IPAM,
  readCalicoManifest,
  type EnvVar,
} from '../../lib/platforms/calicoInstall.js';
import { formatCniTemplate, parseCniTemplate } from '../../lib/platforms/calicoUpstream.js';
import { BIRD_TEMPLATES_CONFIGMAP, CONFD_TEMPLATES_DIR } from '../../lib/render/birdTemplates.js';
import { formatAddress, formatPrefix } from '../../lib/net/ipv6.js';
import { ipPool } from '../../lib/render/calico.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { CALICO_MANIFEST, calicoManifestDir } from '../../lib/toolchain/calicoManifest.js';

const SPEC = `apiVersion: native6.dev/v1alpha1
kind: Cluster
metadata:
  name: ord
spec:
  platform: equinix-metal
  metro: ch
  kubernetesVersion: v1.35.4
  controlPlane:
    count: 3
    plan: c3.small.x86
  workers:
    - name: general
      count: 2
      plan: m3.small.x86
  network:
    block: 2001:db8:5100::/56
    podPoolSize: 64
    podBlockSize: 120
  gitops:
    url: https://github.com/example/clusters
`;

function cluster(text = SPEC, file = 'infra/ord.yaml') {
  const r = loadCluster(file, text);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.field}: ${p.message}`).join('\n'));
  return r;
}

const { spec, plan } = cluster();
const CLUSTER_IP = '2001:db8:5100:1::1';

// upstream's template, placeholders outside quotes included
const CNI_TEMPLATE = `{
  "name": "k8s-pod-network",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "calico",
      "log_level": "info",
      "datastore_type": "kubernetes",
      "nodename": "__KUBERNETES_NODE_NAME__",
      "mtu": __CNI_MTU__,
      "ipam": {
          "type": "calico-ipam"
      },
      "policy": {
          "type": "k8s"
      },
      "kubernetes": {
          "kubeconfig": "__KUBECONFIG_FILEPATH__"
      }
    },
    {
      "type": "portmap",
      "snat": true,
      "capabilities": {"portMappings": true}
    },
    {
      "type": "bandwidth",
      "capabilities": {"bandwidth": true}
    }
  ]
}`;

const fromConfig = (key: string) => ({ valueFrom: { configMapKeyRef: { name: 'calico-config', key } } });

function upstream(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'calico-node', namespace: 'kube-system' } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'calico-config', namespace: 'kube-system' },
      data: { typha_service_name: 'none', calico_backend: 'bird', veth_mtu: '0', cni_network_config: CNI_TEMPLATE },
    },
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      // controller-gen's null, as three of upstream's CRDs have it
      metadata: { name: 'ippools.crd.projectcalico.org', creationTimestamp: null } as KubeObject['metadata'],
      spec: { group: 'crd.projectcalico.org', names: { kind: 'IPPool', plural: 'ippools' }, scope: 'Cluster', versions: [] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'calico-node', namespace: 'kube-system', labels: { 'k8s-app': 'calico-node' } },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'calico-node' } },
        template: {
          metadata: { labels: { 'k8s-app': 'calico-node' } },
          spec: {
            hostNetwork: true,
            serviceAccountName: 'calico-node',
            initContainers: [
              {
                name: 'upgrade-ipam',
                image: 'docker.io/calico/cni:v3.28.5',
                command: ['/opt/cni/bin/calico-ipam', '-upgrade'],
                envFrom: [{ configMapRef: { name: 'kubernetes-services-endpoint', optional: true } }],
                env: [{ name: 'CALICO_NETWORKING_BACKEND', ...fromConfig('calico_backend') }],
              },
              {
                name: 'install-cni',
                image: 'docker.io/calico/cni:v3.28.5',
                command: ['/opt/cni/bin/install'],
                envFrom: [{ configMapRef: { name: 'kubernetes-services-endpoint', optional: true } }],
                env: [
                  { name: 'CNI_CONF_NAME', value: '10-calico.conflist' },
                  { name: 'CNI_NETWORK_CONFIG', ...fromConfig('cni_network_config') },
                  // A stale value a person might have left: ours must replace it, once.
                  { name: 'KUBERNETES_SERVICE_HOST', value: '10.96.0.1' },
                ],
              },
            ],
            containers: [
              {
                name: 'calico-node',
                image: 'docker.io/calico/node:v3.28.5',
                envFrom: [{ configMapRef: { name: 'kubernetes-services-endpoint', optional: true } }],
                env: [
                  { name: 'DATASTORE_TYPE', value: 'kubernetes' },
                  { name: 'NODENAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                  { name: 'CALICO_NETWORKING_BACKEND', ...fromConfig('calico_backend') },
                  { name: 'CLUSTER_TYPE', value: 'k8s,bgp' },
                  { name: 'IP', value: 'autodetect' },
                  { name: 'IP_AUTODETECTION_METHOD', value: 'first-found' },
                  { name: 'CALICO_IPV4POOL_IPIP', value: 'Always' },
                  { name: 'CALICO_IPV4POOL_VXLAN', value: 'Never' },
                  { name: 'CALICO_IPV4POOL_CIDR', value: '192.168.0.0/16' },
                  { name: 'CALICO_IPV6POOL_VXLAN', value: 'Always' },
                  { name: 'CALICO_IPV6POOL_CIDR', value: 'fd00::/48' },
                  { name: 'CALICO_IPV6POOL_IPIP', value: 'Always' },
                  { name: 'FELIX_IPINIPMTU', ...fromConfig('veth_mtu') },
                  { name: 'FELIX_VXLANMTU', ...fromConfig('veth_mtu') },
                  { name: 'FELIX_WIREGUARDMTU', ...fromConfig('veth_mtu') },
                  { name: 'FELIX_IPV6SUPPORT', value: 'false' },
                  { name: 'FELIX_HEALTHENABLED', value: 'true' },
                ],
                livenessProbe: { exec: { command: ['/bin/calico-node', '-felix-live', '-bird-live'] }, periodSeconds: 10 },
                readinessProbe: { exec: { command: ['/bin/calico-node', '-felix-ready', '-bird-ready'] }, periodSeconds: 10 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'calico-kube-controllers', namespace: 'kube-system' },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'calico-kube-controllers' } },
        template: {
          metadata: { labels: { 'k8s-app': 'calico-kube-controllers' } },
          spec: {
            serviceAccountName: 'calico-kube-controllers',
            containers: [
              {
                name: 'calico-kube-controllers',
                image: 'docker.io/calico/kube-controllers:v3.28.5',
                env: [
                  { name: 'ENABLED_CONTROLLERS', value: 'node' },
                  { name: 'DATASTORE_TYPE', value: 'kubernetes' },
                ],
              },
            ],
          },
        },
      },
    },
  ];
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const find = (objs: KubeObject[], kind: string, name: string): any => objs.find((o) => o.kind === kind && o.metadata.name === name);
const podOf = (o: any) => o.spec.template.spec;
const envMap = (env: EnvVar[]) => Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]));

function adjusted() {
  return calicoInstallObjects(upstream(), spec, plan);
}

test('calico-node: IPv6 only, router ID hash, bird, no IPv4 pool, no default pool, no tunnels', () => {
  const ds = find(adjusted(), 'DaemonSet', 'calico-node');
  const env: EnvVar[] = podOf(ds).containers[0].env;
  const m = envMap(env);
  assert.equal(m.IP, 'none');
  assert.equal(m.IP6, 'autodetect');
  assert.equal(m.IP6_AUTODETECTION_METHOD, 'can-reach=fc00::e');
  assert.equal(m.FELIX_IPV6SUPPORT, 'true');
  assert.equal(m.CALICO_ROUTER_ID, 'hash');
  assert.equal(m.CALICO_NETWORKING_BACKEND, 'bird', 'a value, no longer a ConfigMap reference');
  assert.equal(m.NO_DEFAULT_POOLS, 'true');
  assert.equal(m.CALICO_IPV6POOL_BLOCK_SIZE, '120', "the spec's podBlockSize");
  assert.equal(m.CALICO_IPV6POOL_NAT_OUTGOING, 'false');
  assert.equal(m.CALICO_IPV6POOL_VXLAN, 'Never');
  assert.equal(m.FELIX_IPINIPENABLED, 'false');
  assert.equal(m.FELIX_VXLANENABLED, 'false');
  // calico-node terminates when NO_DEFAULT_POOLS comes with a pool CIDR (startup.go configureIPPools).
  for (const gone of ['CALICO_IPV6POOL_CIDR', 'CALICO_IPV4POOL_CIDR', 'CALICO_IPV4POOL_IPIP', 'CALICO_IPV4POOL_VXLAN', 'CALICO_IPV6POOL_IPIP', 'IP_AUTODETECTION_METHOD', 'FELIX_IPINIPMTU', 'FELIX_VXLANMTU']) {
    assert.ok(!(gone in m), `${gone} is removed`);
  }
  assert.ok(!env.some((e) => e.name.startsWith('CALICO_IPV4POOL_')));
  // What needs no change is kept, with its position.
  assert.equal(m.DATASTORE_TYPE, 'kubernetes');
  assert.deepEqual(m.NODENAME, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.deepEqual(m.FELIX_WIREGUARDMTU, { configMapKeyRef: { name: 'calico-config', key: 'veth_mtu' } });
  assert.deepEqual(env.slice(0, 5).map((e) => e.name), ['DATASTORE_TYPE', 'NODENAME', 'CALICO_NETWORKING_BACKEND', 'CLUSTER_TYPE', 'IP']);
  assert.equal(new Set(env.map((e) => e.name)).size, env.length, 'no variable twice');
  for (const e of env) assert.ok(!(e.value !== undefined && e.valueFrom !== undefined), `${e.name} has one source`);
});

test('calico-node probes check BIRD6 (the IPv6 sessions), not BIRD for IPv4', () => {
  const c = podOf(find(adjusted(), 'DaemonSet', 'calico-node')).containers[0];
  assert.deepEqual(c.livenessProbe.exec.command, ['/bin/calico-node', '-felix-live', '-bird6-live']);
  assert.deepEqual(c.readinessProbe.exec.command, ['/bin/calico-node', '-felix-ready', '-bird6-ready']);
  assert.equal(c.livenessProbe.periodSeconds, 10);
});

test('metal (infra/colo.yaml): kubernetes-internal-ip, no can-reach or cidr= anywhere, the same objects whatever the uplinks', () => {
  const text = readFileSync(new URL('../../infra/colo.yaml', import.meta.url), 'utf8');
  const colo = cluster(text, 'infra/colo.yaml');
  const objs = calicoInstallObjects(upstream(), colo.spec, colo.plan);
  const env: EnvVar[] = podOf(find(objs, 'DaemonSet', 'calico-node')).containers[0].env;
  const methods = env.filter((e) => e.name === 'IP6_AUTODETECTION_METHOD');
  assert.deepEqual(methods, [{ name: 'IP6_AUTODETECTION_METHOD', value: 'kubernetes-internal-ip' }]);
  const json = JSON.stringify(objs);
  assert.ok(!json.includes('can-reach') && !json.includes('fc00::'), "nothing of Equinix Metal's router");
  assert.ok(!json.includes('cidr='), 'no search by prefix');
  // The Node's InternalIP names each machine's address (test/unit/metalNodeIp.test.ts): nothing of the uplinks is in the objects.
  const renumbered = cluster(text.replaceAll('2001:db8:7:b::', '2001:db8:9:b::'), 'infra/colo.yaml');
  assert.notDeepEqual(renumbered.spec.inventory!.uplinks[1]!.prefix, colo.spec.inventory!.uplinks[1]!.prefix);
  assert.deepEqual(calicoInstallObjects(upstream(), renumbered.spec, renumbered.plan), objs);
  for (const u of colo.spec.inventory!.uplinks) assert.ok(!json.includes(formatPrefix(u.prefix)), `${u.name}'s prefix is not in the objects`);
  // The rest is what the equinix-metal cluster gets: only the address method, the API endpoint and the pool are the cluster's own.
  const m = envMap(env);
  assert.equal(m.IP, 'none');
  assert.equal(m.IP6, 'autodetect');
  assert.equal(m.KUBERNETES_SERVICE_HOST, formatAddress(colo.plan.apiServer));
  assert.deepEqual(objs.at(-1), ipPool(colo.plan));
  const mounts = podOf(find(objs, 'DaemonSet', 'calico-node')).containers[0].volumeMounts;
  assert.deepEqual(mounts, [{ name: BIRD_TEMPLATES_VOLUME, mountPath: CONFD_TEMPLATES_DIR, readOnly: true }]);
});

test("calico-node mounts the fabric's BIRD templates ConfigMap over confd's templates folder, read-only, exactly once", () => {
  const input = upstream();
  const inPod = podOf(find(input, 'DaemonSet', 'calico-node'));
  inPod.volumes = [{ name: 'var-run-calico', hostPath: { path: '/var/run/calico' } }];
  inPod.containers[0].volumeMounts = [{ name: 'var-run-calico', mountPath: '/var/run/calico', readOnly: false }];
  const objs = calicoInstallObjects(input, spec, plan);
  const ds = find(objs, 'DaemonSet', 'calico-node');
  const pod = podOf(ds);
  assert.equal(ds.metadata.namespace, 'kube-system', "the ConfigMap's namespace: a pod mounts its own namespace's only");
  assert.equal(BIRD_TEMPLATES_VOLUME, BIRD_TEMPLATES_CONFIGMAP);
  assert.equal(CONFD_TEMPLATES_DIR, '/etc/calico/confd/templates');
  // Upstream's volumes and mounts are kept, in their order; ours come after.
  assert.deepEqual(pod.volumes, [
    { name: 'var-run-calico', hostPath: { path: '/var/run/calico' } },
    { name: 'native6-bird-templates', configMap: { name: 'native6-bird-templates' } },
  ]);
  const node = pod.containers[0];
  assert.deepEqual(node.volumeMounts, [
    { name: 'var-run-calico', mountPath: '/var/run/calico', readOnly: false },
    { name: 'native6-bird-templates', mountPath: '/etc/calico/confd/templates', readOnly: true },
  ]);
  // Not optional: calico-node waits for the ConfigMap rather than run BIRD without the sessions' settings.
  assert.equal(pod.volumes[1].configMap.optional, undefined);
  // Only calico-node mounts it; the init containers and calico-kube-controllers do not.
  for (const c of pod.initContainers) assert.equal(c.volumeMounts, undefined, c.name);
  assert.equal(podOf(find(objs, 'Deployment', 'calico-kube-controllers')).volumes, undefined);
  // Upstream without any volume: the lists are made.
  const bare = podOf(find(adjusted(), 'DaemonSet', 'calico-node'));
  assert.equal(bare.volumes.filter((v: any) => v.configMap?.name === BIRD_TEMPLATES_CONFIGMAP).length, 1);
  assert.equal(bare.containers[0].volumeMounts.filter((v: any) => v.mountPath === CONFD_TEMPLATES_DIR).length, 1);
  // The input is left as it was.
  assert.equal(inPod.volumes.length, 1);
  assert.equal(inPod.containers[0].volumeMounts.length, 1);
});

test('the API endpoint: the kubernetes ClusterIP, bare, port 443, on every Calico container (and so in the CNI kubeconfig install-cni writes)', () => {
  const objs = adjusted();
  const ds = podOf(find(objs, 'DaemonSet', 'calico-node'));
  const kc = podOf(find(objs, 'Deployment', 'calico-kube-controllers'));
  const all = [...ds.initContainers, ...ds.containers, ...kc.containers];
  assert.deepEqual(all.map((c: any) => c.name), ['upgrade-ipam', 'install-cni', 'calico-node', 'calico-kube-controllers']);
  for (const c of all) {
    const hosts = c.env.filter((e: EnvVar) => e.name === 'KUBERNETES_SERVICE_HOST');
    assert.deepEqual(hosts, [{ name: 'KUBERNETES_SERVICE_HOST', value: CLUSTER_IP }], c.name);
    assert.deepEqual(c.env.filter((e: EnvVar) => e.name === 'KUBERNETES_SERVICE_PORT'), [{ name: 'KUBERNETES_SERVICE_PORT', value: '443' }], c.name);
  }
  // install.go writes server: https://[HOST]:PORT itself: brackets here would double them.
  assert.ok(!CLUSTER_IP.includes('['));
  // The stale value stays where it was, replaced.
  assert.deepEqual(ds.initContainers[1].env.map((e: EnvVar) => e.name), ['CNI_CONF_NAME', 'CNI_NETWORK_CONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']);
  // envFrom stays; explicit env wins over it.
  assert.equal(ds.containers[0].envFrom[0].configMapRef.name, 'kubernetes-services-endpoint');
  assert.equal(ds.initContainers[0].env[0].name, 'CALICO_NETWORKING_BACKEND');
});

test('calico-config: bird, IPv6-only Calico IPAM, portmap without SNAT, placeholders kept for install-cni', () => {
  const cm = find(adjusted(), 'ConfigMap', 'calico-config');
  assert.equal(cm.data.calico_backend, 'bird');
  assert.equal(cm.data.veth_mtu, '0');
  const text: string = cm.data.cni_network_config;
  assert.match(text, /"mtu": __CNI_MTU__,/);
  assert.match(text, /"nodename": "__KUBERNETES_NODE_NAME__"/);
  // What install-cni makes of it (text substitution) is JSON.
  const filled = text.replace('__CNI_MTU__', '1500').replace('__KUBERNETES_NODE_NAME__', 'ord-cp-1').replace('__KUBECONFIG_FILEPATH__', '/etc/cni/net.d/calico-kubeconfig');
  const conf = JSON.parse(filled);
  const [calico, portmap, bandwidth] = conf.plugins;
  assert.deepEqual(calico.ipam, { type: 'calico-ipam', assign_ipv4: 'false', assign_ipv6: 'true' });
  assert.deepEqual(calico.ipam, { ...IPV6_ONLY_IPAM });
  assert.equal(calico.mtu, 1500);
  assert.deepEqual(calico.policy, { type: 'k8s' });
  assert.deepEqual(portmap, { type: 'portmap', snat: false, capabilities: { portMappings: true } });
  assert.deepEqual(bandwidth, { type: 'bandwidth', capabilities: { bandwidth: true } });
  assert.equal(conf.name, 'k8s-pod-network');
});

test("the fabric's IPPool comes last, exactly as the fabric renders it; upstream's order is kept", () => {
  const objs = adjusted();
  assert.deepEqual(
    objs.map((o) => `${o.kind}/${o.metadata.name}`),
    [...upstream().map((o) => `${o.kind}/${o.metadata.name}`), 'IPPool/pods'],
  );
  assert.deepEqual(objs.at(-1), ipPool(plan));
  const pool = objs.at(-1) as any;
  assert.equal(pool.spec.cidr, '2001:db8:5100:8::/64');
  assert.equal(pool.spec.blockSize, 120);
  assert.equal(pool.spec.natOutgoing, false);
  assert.equal(pool.spec.ipipMode, 'Never');
  assert.equal(pool.spec.vxlanMode, 'Never');
});

test("a CRD's null creationTimestamp is dropped, nothing else in it changes", () => {
  const crd = find(adjusted(), 'CustomResourceDefinition', 'ippools.crd.projectcalico.org');
  assert.deepEqual(crd.metadata, { name: 'ippools.crd.projectcalico.org' });
  assert.deepEqual(crd.spec, find(upstream(), 'CustomResourceDefinition', 'ippools.crd.projectcalico.org').spec);
});

test('deterministic, and the input is left as it was', () => {
  const input = upstream();
  const before = JSON.stringify(input);
  const a = calicoInstallObjects(input, spec, plan);
  const b = calicoInstallObjects(input, spec, plan);
  assert.equal(JSON.stringify(input), before);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  // Adjusting the output again changes nothing but what the pool and mount checks refuse.
  assert.throws(() => calicoInstallObjects(a, spec, plan), /declares IPPool pods/);
  assert.throws(() => calicoInstallObjects(a.slice(0, -1), spec, plan), /already has a volume named native6-bird-templates/);
  const unmounted: any[] = structuredClone(a.slice(0, -1));
  const pod = podOf(find(unmounted, 'DaemonSet', 'calico-node'));
  pod.volumes = pod.volumes.filter((v: any) => v.name !== BIRD_TEMPLATES_VOLUME);
  pod.containers[0].volumeMounts = pod.containers[0].volumeMounts.filter((m: any) => m.name !== BIRD_TEMPLATES_VOLUME);
  const again = calicoInstallObjects(unmounted, spec, plan);
  assert.equal(JSON.stringify(again), JSON.stringify(a));
});

test('the CNI template reads as data and writes back with bare placeholders bare', () => {
  const v = parseCniTemplate(CNI_TEMPLATE) as any;
  assert.equal(v.plugins[0].mtu, 'n6-bare-placeholder:__CNI_MTU__');
  assert.equal(v.plugins[0].nodename, '__KUBERNETES_NODE_NAME__');
  const out = formatCniTemplate(v);
  assert.match(out, /"mtu": __CNI_MTU__,\n/);
  assert.deepEqual(parseCniTemplate(out), v);
});

// ----------------------------------------------------------------- refusals

function refuses(mutate: (objs: any[]) => void, message: RegExp, source?: string): void {
  const objs: any[] = upstream();
  mutate(objs);
  assert.throws(
    () => calicoInstallObjects(objs, spec, plan, source),
    (e: unknown) => {
      assert.ok(e instanceof CalicoManifestError, String(e));
      assert.ok(e.message.startsWith(`${source ?? CALICO_UPSTREAM}: `), e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

const ds = (objs: any[]) => objs.find((o) => o.kind === 'DaemonSet');

test('refusals name the file and what is wrong', () => {
  const file = '.cache/calico/manifest-v3.28.5/calico.yaml';
  refuses((o) => o.splice(o.indexOf(ds(o)), 1), /no DaemonSet named calico-node \(it holds 4 objects: ConfigMap, CustomResourceDefinition, Deployment, ServiceAccount\)/, file);
  refuses((o) => o.push(structuredClone(ds(o))), /2 objects are DaemonSet calico-node; expected one/);
  refuses((o) => (ds(o).apiVersion = 'extensions/v1beta1'), /DaemonSet kube-system\/calico-node is extensions\/v1beta1; expected apps\/v1/);
  refuses((o) => (ds(o).metadata.namespace = 'calico-system'), /DaemonSet calico-system\/calico-node is not in kube-system/);
  refuses((o) => (ds(o).spec.template.spec.serviceAccountName = 'default'), /runs as service account default; the fabric's RBAC .* names calico-node/);
  refuses((o) => ds(o).spec.template.spec.initContainers.splice(1, 1), /has no init container named install-cni \(it has upgrade-ipam\)/);
  refuses((o) => (ds(o).spec.template.spec.containers[0].name = 'node'), /has no container named calico-node \(it has node\)/);
  refuses((o) => (ds(o).spec.template.spec.containers[0].image = 'docker.io/calico/node:v3.29.0'), /container calico-node runs docker.io\/calico\/node:v3.29.0, not the pinned Calico v3.28.5/);
  refuses((o) => delete ds(o).spec.template.spec.containers[0].readinessProbe, /container calico-node has no readinessProbe.exec.command/);
  refuses((o) => delete ds(o).spec.template, /DaemonSet kube-system\/calico-node has no spec.template.spec.containers/);
  refuses((o) => o.splice(o.findIndex((x) => x.kind === 'ConfigMap'), 1), /no ConfigMap named calico-config/);
  refuses((o) => o.splice(o.findIndex((x) => x.kind === 'Deployment'), 1), /no Deployment named calico-kube-controllers/);
  refuses((o) => (o.find((x) => x.kind === 'ConfigMap').data.cni_network_config = '{"plugins": [}'), /ConfigMap kube-system\/calico-config: data.cni_network_config is not a CNI configuration template/);
  refuses((o) => (o.find((x) => x.kind === 'ConfigMap').data.cni_network_config = '{"plugins": [{"type": "portmap"}]}'), /has 0 plugins of type "calico"; expected one/);
  refuses((o) => o.push({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '192.168.0.0/16' } }), /declares IPPool default-ipv4-ippool; the pod pool must be the fabric's only/);
  refuses((o) => o.splice(o.findIndex((x) => x.kind === 'CustomResourceDefinition'), 1), /no CustomResourceDefinition ippools.crd.projectcalico.org/);
  refuses((o) => o.push({ kind: 'ConfigMap' }), /object 6 is not a Kubernetes object with apiVersion, kind and metadata.name/);
});

test('refused: an upstream volume or mount where the BIRD templates go', () => {
  const file = '.cache/calico/manifest-v3.28.5/calico.yaml';
  const pod = (o: any[]) => ds(o).spec.template.spec;
  refuses((o) => (pod(o).volumes = [{ name: 'native6-bird-templates', emptyDir: {} }]), /DaemonSet kube-system\/calico-node already has a volume named native6-bird-templates/, file);
  refuses(
    (o) => {
      pod(o).volumes = [{ name: 'confd', emptyDir: {} }];
      pod(o).containers[0].volumeMounts = [{ name: 'confd', mountPath: '/etc/calico/confd/templates/' }];
    },
    /container calico-node already mounts confd at \/etc\/calico\/confd\/templates\/, where the BIRD templates \(native6-bird-templates at \/etc\/calico\/confd\/templates\) go/,
    file,
  );
  refuses((o) => (pod(o).containers[0].volumeMounts = [{ name: 'one', mountPath: '/etc/calico/confd/templates/bird6.cfg.template', subPath: 'x' }]), /already mounts one at \/etc\/calico\/confd\/templates\/bird6.cfg.template/);
  refuses((o) => (pod(o).containers[0].volumeMounts = [{ name: 'native6-bird-templates', mountPath: '/srv' }]), /already mounts native6-bird-templates at \/srv/);
  refuses((o) => (pod(o).volumes = {}), /calico-node spec.template.spec volumes is not a list of objects with a name/);
  refuses((o) => (pod(o).containers[0].volumeMounts = [{ name: 'x' }]), /container calico-node volumeMounts is not a list of objects with a mountPath/);
  // A mount beside the folder, or of a folder above it (ours is mounted over it), is fine.
  for (const mountPath of ['/etc/calico/confd/templates-old', '/etc/calico']) {
    const objs: any[] = upstream();
    ds(objs).spec.template.spec.containers[0].volumeMounts = [{ name: 'other', mountPath }];
    const out = calicoInstallObjects(objs, spec, plan);
    assert.equal(podOf(find(out, 'DaemonSet', 'calico-node')).containers[0].volumeMounts.length, 2, mountPath);
  }
});

test('refused for the lab and for a block that is only a size', () => {
  const lab = cluster(
    'apiVersion: native6.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: ord\nspec:\n  platform: lab\n  kubernetesVersion: v1.35.4\n  network:\n    block: 2001:db8:5100::/56\n',
    'infra/ord.yaml',
  );
  assert.throws(() => calicoInstallObjects(upstream(), lab.spec, lab.plan), /^CalicoManifestError: infra\/ord.yaml: Calico's install objects are for equinix-metal and metal clusters; ord is on platform lab \(the lab runs its own stand-ins for calico-node\)/);
  const sized = cluster(SPEC.replace('block: 2001:db8:5100::/56', 'blockSize: 56'));
  assert.throws(() => calicoInstallObjects(upstream(), sized.spec, sized.plan), /infra\/ord.yaml: spec.network.block names only a size/);
});

// ------------------------------------------------------------------ reader

function fakeCache(text: string): string {
  const cache = mkdtempSync(join(tmpdir(), 'native6-calico-'));
  const dir = calicoManifestDir(cache);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'calico.yaml'), text);
  const record = {
    module: CALICO_MANIFEST.module,
    version: CALICO_MANIFEST.version,
    productVersion: CALICO_MANIFEST.productVersion,
    sum: 'h1:test',
    path: CALICO_MANIFEST.path,
    bytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(record));
  return cache;
}

test('readCalicoManifest: the objects, empty documents skipped; every problem names the file', () => {
  const empty = mkdtempSync(join(tmpdir(), 'native6-calico-'));
  try {
    assert.throws(() => readCalicoManifest(empty), /no Calico manifest in .*calico\/manifest-v3\.28\.5 .*run `npm run setup -- calico:manifest`/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }

  const good = fakeCache('---\n# Source: x\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: calico-node\n  namespace: kube-system\n---\n---\nkind: ConfigMap\napiVersion: v1\nmetadata: {name: calico-config}\ndata: {a: "1"}\n');
  try {
    assert.deepEqual(readCalicoManifest(good), [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'calico-node', namespace: 'kube-system' } },
      { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'calico-config' }, data: { a: '1' } },
    ]);
    // A file changed after setup copied it is refused.
    writeFileSync(join(calicoManifestDir(good), 'calico.yaml'), 'kind: X\n');
    assert.throws(() => readCalicoManifest(good), /calico\.yaml is not the file setup copied from manifests\/calico\.yaml .*--force calico:manifest/);
  } finally {
    rmSync(good, { recursive: true, force: true });
  }

  const bad = fakeCache('apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: [\n');
  try {
    assert.throws(() => readCalicoManifest(bad), /calico\.yaml: document 2 \(line 6\): /);
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }

  const notObject = fakeCache('apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\n- just\n- a list\n');
  try {
    assert.throws(() => readCalicoManifest(notObject), /calico\.yaml: document 2 \(line 6\) is not a Kubernetes object/);
  } finally {
    rmSync(notObject, { recursive: true, force: true });
  }
});
