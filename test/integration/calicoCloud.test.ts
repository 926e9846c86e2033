// Calico's install objects (lib/platforms/calicoInstall.ts) from the real
// manifest: Calico v3.28.5's manifests/calico.yaml as `npm run setup --
// calico:manifest` copied it from the pinned module, adjusted for
// infra/dfw.yaml (Equinix Metal; infra/colo.yaml, metal, too), then
//
// - every object checked against the real schemas `npm run validate` uses
//   (Kubernetes v1.35.4's OpenAPI: core, apps, rbac, policy, apiextensions
//   for the CRDs; Calico's CRDs for the IPPool);
// - written as YAML and read back by the parser kubectl and Flux use
//   (tools/yamlcheck, sigs.k8s.io/yaml): both parsers read the same;
// - scanned: no IPv4 pool, NAT, IPIP or VXLAN setting is left anywhere
//   outside the CRDs' schemas, and no IPv4 address range at all;
// - the IPPool equal to the one the fabric renders into clusters/dfw/;
// - calico-node's BIRD templates volume and mount, once (upstream mounts
//   nothing under /etc/calico/confd), and colo's kubernetes-internal-ip
//   autodetection (no can-reach, no cidr=);
// - the same objects from the same input.
//
// Fails, naming the setup step, when the manifest has not been copied; the schemas and
// yamlcheck are set up like test/integration/schemas.test.ts does.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from '../../lib/kube/objects.js';
import { calicoInstallObjects, readCalicoManifest, type EnvVar } from '../../lib/platforms/calicoInstall.js';
import { parseCniTemplate } from '../../lib/platforms/calicoUpstream.js';
import { manifestFile } from '../../lib/render/yaml.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { calicoManifestReady, CALICO_MANIFEST } from '../../lib/toolchain/calicoManifest.js';
import { compareParsers, formatFileIssue, loadCatalog, parseYamlFile, runYamlcheck, validateObject, type Catalog } from '../../lib/validate/index.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { ensureSchemas } from '../../lib/toolchain/steps/schemas.js';
import { ensureYamlcheck } from '../../lib/toolchain/steps/confdTemplates.js';

/** Fails (never skips) when setup has not copied the manifest. */
function needManifest(): void {
  if (!calicoManifestReady(DEFAULT_CACHE_DIR)) assert.fail(`Calico's manifest is not in ${DEFAULT_CACHE_DIR}: run \`npm run setup -- ${CALICO_MANIFEST.step}\``);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Walk = (path: string, key: string, value: unknown) => void;
function walk(value: unknown, visit: Walk, path = ''): void {
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, visit, `${path}[${i}]`));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      visit(`${path}.${k}`, k, v);
      walk(v, visit, `${path}.${k}`);
    }
  }
}

function containers(o: any): any[] {
  const pod = o.spec?.template?.spec;
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
}

/** Every IPv4 pool, NAT, IPIP or VXLAN setting and every IPv4 range outside the CRDs' schemas. */
function leftovers(objects: readonly KubeObject[]): string[] {
  const found: string[] = [];
  for (const o of objects) {
    if (o.kind === 'CustomResourceDefinition') continue;
    const at = `${o.kind} ${o.metadata.name}`;
    walk(o, (path, key, value) => {
      if (typeof value === 'string' && /\b\d{1,3}(\.\d{1,3}){3}(\/\d+)?\b/.test(value)) found.push(`${at}${path}: IPv4 ${value}`);
      if (/natOutgoing|masquerade|ipMasq/i.test(key) && value !== false) found.push(`${at}${path}: ${JSON.stringify(value)}`);
      if (/^(ipipMode|vxlanMode)$/.test(key) && value !== 'Never') found.push(`${at}${path}: ${JSON.stringify(value)}`);
    });
    for (const c of containers(o)) {
      for (const e of (c.env ?? []) as EnvVar[]) {
        const where = `${at} container ${c.name} ${e.name}`;
        if (/IPV4POOL|^IP_AUTODETECTION/.test(e.name)) found.push(`${where}: an IPv4 pool or address setting`);
        if (/IPIP|IPINIP|VXLAN/.test(e.name) && !['Never', 'false'].includes(e.value ?? '')) found.push(`${where}=${JSON.stringify(e.value ?? e.valueFrom)}`);
        if (/NAT/.test(e.name) && e.value !== 'false') found.push(`${where}=${JSON.stringify(e.value ?? e.valueFrom)}`);
        if (e.name === 'IP' && e.value !== 'none') found.push(`${where}=${JSON.stringify(e.value)}`);
      }
    }
    if (o.kind === 'ConfigMap') {
      for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>)) {
        if (!k.endsWith('network_config')) continue;
        const conf = parseCniTemplate(v) as { plugins?: Array<{ type?: string; ipam?: Record<string, unknown> }> };
        for (const [i, p] of (conf.plugins ?? []).entries()) {
          // Calico IPAM assigns IPv4 unless told not to.
          if (p.ipam?.type === 'calico-ipam' && p.ipam.assign_ipv4 !== 'false') found.push(`${at} data.${k}.plugins[${i}].ipam: assigns IPv4`);
        }
        walk(conf, (path, key, value) => {
          if (/snat|ipMasq|masquerade/i.test(key) && value !== false) found.push(`${at} data.${k}${path}: ${JSON.stringify(value)}`);
          if (key === 'type' && value === 'host-local') found.push(`${at} data.${k}${path}: host-local IPAM`);
        });
      }
    }
  }
  return found;
}

describe('Calico v3.28.5 adjusted for infra/dfw.yaml', () => {
  let catalog: Catalog;
  let upstream: KubeObject[];
  let objects: KubeObject[];
  let spec: any;
  let plan: any;

  before(async () => {
    needManifest();
    const quiet = { log: () => {} };
    await ensureSchemas(DEFAULT_CACHE_DIR, quiet);
    await ensureYamlcheck(DEFAULT_CACHE_DIR, undefined, quiet);
    catalog = loadCatalog(DEFAULT_CACHE_DIR);
    const loaded = loadSpecFile(REPO_DIR, 'infra/dfw.yaml');
    assert.ok(loaded.cluster, loaded.problems.map((p) => p.message).join('\n'));
    ({ spec, plan } = loaded.cluster);
    upstream = readCalicoManifest(DEFAULT_CACHE_DIR);
    objects = calicoInstallObjects(upstream, spec, plan);
  });

  test('the manifest holds what the install needs', () => {
    const kinds = (k: string) => upstream.filter((o) => o.kind === k).map((o) => o.metadata.name);
    assert.deepEqual(kinds('DaemonSet'), ['calico-node']);
    assert.deepEqual(kinds('Deployment'), ['calico-kube-controllers']);
    assert.deepEqual(kinds('ConfigMap'), ['calico-config']);
    assert.ok(kinds('CustomResourceDefinition').includes('ippools.crd.projectcalico.org'));
    assert.ok(kinds('CustomResourceDefinition').includes('bgppeers.crd.projectcalico.org'));
    assert.deepEqual(objects.length, upstream.length + 1);
  });

  test('every object passes the real schemas (core, apps, rbac, policy, apiextensions, Calico)', () => {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const o of objects) {
      seen.add(o.apiVersion);
      for (const i of validateObject(o, catalog)) problems.push(`${o.kind} ${o.metadata.name}: ${i.path}: ${i.message}`);
    }
    assert.deepEqual(problems, []);
    for (const av of ['v1', 'apps/v1', 'rbac.authorization.k8s.io/v1', 'policy/v1', 'apiextensions.k8s.io/v1', 'crd.projectcalico.org/v1']) {
      assert.ok(seen.has(av), `${av} is among the checked objects`);
    }
    // The schemas do catch something here: a wrong field in the DaemonSet is an issue.
    const bad = structuredClone(objects.find((o) => o.kind === 'DaemonSet')) as any;
    bad.spec.template.spec.containers[0].evn = [];
    assert.deepEqual(validateObject(bad, catalog).map((i) => i.path), ['spec.template.spec.containers[0].evn']);
  });

  test("kubectl's YAML parser reads the written objects as we do", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'native6-calico-'));
    try {
      const file = join(dir, 'calico-install.yaml');
      writeFileSync(file, manifestFile('test', objects));
      const parsed = parseYamlFile(file, readFileSync(file, 'utf8'));
      assert.deepEqual(parsed.issues.map(formatFileIssue), []);
      assert.equal(parsed.docs.length, objects.length);
      assert.deepEqual(compareParsers(parsed, await runYamlcheck(DEFAULT_CACHE_DIR, [file])).map(formatFileIssue), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no IPv4 pool, NAT, IPIP or VXLAN left anywhere (CRD schemas aside), no IPv4 range at all', () => {
    assert.deepEqual(leftovers(objects), []);
    // The scan is not blind: upstream's own settings are what it reports.
    const before = leftovers(upstream).join('\n');
    for (const m of [/calico-node CALICO_IPV4POOL_IPIP: an IPv4 pool/, /plugins\[0\]\.ipam: assigns IPv4/, /calico-node IP="autodetect"/, /snat: true/, /FELIX_IPINIPMTU=/]) assert.match(before, m);

    const node = containers(objects.find((o) => o.kind === 'DaemonSet')).find((c) => c.name === 'calico-node');
    const env = Object.fromEntries((node.env as EnvVar[]).map((e) => [e.name, e.value]));
    assert.equal(env.NO_DEFAULT_POOLS, 'true');
    assert.ok(!('CALICO_IPV6POOL_CIDR' in env), 'calico-node terminates on NO_DEFAULT_POOLS together with a pool CIDR');
    assert.equal(env.IP6, 'autodetect');
    assert.equal(env.CALICO_ROUTER_ID, 'hash');
    assert.equal(env.CALICO_IPV6POOL_BLOCK_SIZE, String(spec.network.podBlockSize));
    const cni = parseCniTemplate((objects.find((o) => o.kind === 'ConfigMap') as any).data.cni_network_config) as any;
    assert.deepEqual(cni.plugins.find((p: any) => p.type === 'calico').ipam, { type: 'calico-ipam', assign_ipv4: 'false', assign_ipv6: 'true' });
  });

  test('the API endpoint of every Calico container is the kubernetes ClusterIP on 443; images are the pinned release', () => {
    const workloads = objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment');
    const names: string[] = [];
    for (const o of workloads) {
      for (const c of containers(o)) {
        names.push(c.name);
        const env = Object.fromEntries((c.env as EnvVar[]).map((e) => [e.name, e.value]));
        assert.equal(env.KUBERNETES_SERVICE_HOST, '2001:db8:2a00:1::1', c.name);
        assert.equal(env.KUBERNETES_SERVICE_PORT, '443', c.name);
        assert.match(c.image, /^docker\.io\/calico\/(cni|node|kube-controllers):v3\.28\.5$/);
      }
    }
    assert.deepEqual(names, ['upgrade-ipam', 'install-cni', 'mount-bpffs', 'calico-node', 'calico-kube-controllers']);
  });

  test("the IPPool is the one the fabric renders into clusters/dfw/, and comes after its CRD", () => {
    const committed = parse(readFileSync(join(REPO_DIR, 'clusters/dfw/fabric/ippool.yaml'), 'utf8'));
    assert.deepEqual(objects.at(-1), committed);
    const crd = objects.findIndex((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'ippools.crd.projectcalico.org');
    assert.ok(crd >= 0 && crd < objects.length - 1);
  });

  test("calico-node mounts the BIRD templates once, where upstream mounts nothing; a metal spec (infra/colo.yaml) gets kubernetes-internal-ip and passes the schemas too", () => {
    const pod = (objs: readonly KubeObject[]) => (objs.find((o) => o.kind === 'DaemonSet') as any).spec.template.spec;
    const node = (objs: readonly KubeObject[]) => pod(objs).containers.find((c: any) => c.name === 'calico-node');
    // Upstream mounts nothing at or under confd's templates folder: the image's templates are what ours replace.
    assert.deepEqual(node(upstream).volumeMounts.filter((m: any) => m.mountPath.startsWith('/etc/calico/confd')), []);
    assert.deepEqual(node(objects).volumeMounts.filter((m: any) => m.mountPath.startsWith('/etc/calico/confd')), [
      { name: 'native6-bird-templates', mountPath: '/etc/calico/confd/templates', readOnly: true },
    ]);
    assert.deepEqual(pod(objects).volumes.filter((v: any) => v.configMap), [{ name: 'native6-bird-templates', configMap: { name: 'native6-bird-templates' } }]);
    assert.equal(pod(objects).volumes.length, pod(upstream).volumes.length + 1);
    const envOf = (objs: readonly KubeObject[]) => Object.fromEntries((node(objs).env as EnvVar[]).map((e) => [e.name, e.value]));
    assert.equal(envOf(objects).IP6_AUTODETECTION_METHOD, 'can-reach=fc00::e');

    const colo = loadSpecFile(REPO_DIR, 'infra/colo.yaml');
    assert.ok(colo.cluster, colo.problems.map((p) => p.message).join('\n'));
    const metal = calicoInstallObjects(upstream, colo.cluster.spec, colo.cluster.plan);
    assert.equal(envOf(metal).IP6_AUTODETECTION_METHOD, 'kubernetes-internal-ip');
    const text = JSON.stringify(metal);
    assert.ok(!text.includes('can-reach') && !text.includes('cidr='), 'no can-reach or cidr= method anywhere in the metal objects');
    const problems = metal.flatMap((o) => validateObject(o, catalog).map((i) => `${o.kind} ${o.metadata.name}: ${i.path}: ${i.message}`));
    assert.deepEqual(problems, []);
    assert.deepEqual(leftovers(metal), []);
  });

  test('same input, same objects, same YAML', () => {
    const again = calicoInstallObjects(readCalicoManifest(DEFAULT_CACHE_DIR), spec, plan);
    assert.equal(manifestFile('test', again), manifestFile('test', objects));
  });
});
