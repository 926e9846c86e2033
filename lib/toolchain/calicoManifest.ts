/**
 * Calico's all-in-one manifest for the Kubernetes API datastore
 * (`manifests/calico.yaml`: the CRDs, RBAC, the calico-config ConfigMap with
 * the CNI configuration, the calico-node DaemonSet, calico-kube-controllers),
 * copied by `npm run setup -- calico:manifest` out of the same pinned Calico
 * module the CRD schemas and confd templates come from
 * (github.com/projectcalico/calico at the pseudo-version the Go module proxy
 * serves for Calico v3.28.5, CALICO_CONFD in pins.ts), into
 * `<cache>/calico/manifest-v3.28.5/calico.yaml`, with `manifest.json` naming
 * module, version, the module's go.sum hash, bytes and sha256.
 *
 * The file is upstream's, byte for byte; what the kubeadm platforms
 * (equinix-metal, metal) need changed (IPv6 only, no overlay, no NAT, the
 * BIRD templates mounted) is done on the parsed objects by
 * lib/platforms/calicoInstall.ts, so the changes are code, tested, rather
 * than a patched copy.
 *
 * What the module zip holds (checked when this step was written): the
 * manifest is there, 254,154 bytes, its images docker.io/calico/{cni,node,
 * kube-controllers}:v3.28.5; next to it calico-bpf.yaml, calico-typha.yaml,
 * calico-vxlan.yaml, calico-policy-only.yaml, calico-etcd.yaml, canal*.yaml,
 * crds.yaml, tigera-operator.yaml, and the Helm chart it is rendered from
 * (charts/calico). When the file is missing or is not the pinned release,
 * the step fails and says what the module holds instead.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { goModDownload } from './go.js';
import { MANIFEST_NAME, sha256 } from './cacheDir.js';
import { CALICO_CONFD } from './pins.js';
import { replaceCacheDir } from './cacheDir.js';

export const CALICO_MANIFEST = {
  module: CALICO_CONFD.module,
  version: CALICO_CONFD.version,
  productVersion: CALICO_CONFD.productVersion,
  /** Path inside the module. */
  path: 'manifests/calico.yaml',
  /** File name in the cache folder. */
  file: 'calico.yaml',
  /** Setup step. */
  step: 'calico:manifest',
} as const;

/** `<cache>/calico/manifest-v3.28.5/`. */
export function calicoManifestDir(cacheDir: string): string {
  return join(cacheDir, 'calico', `manifest-${CALICO_MANIFEST.productVersion}`);
}

/** `<cache>/calico/manifest-v3.28.5/calico.yaml`. */
export function calicoManifestFile(cacheDir: string): string {
  return join(calicoManifestDir(cacheDir), CALICO_MANIFEST.file);
}

/** `<cache>/calico/manifest-v3.28.5/manifest.json`. */
export interface CalicoManifestRecord {
  module: string;
  version: string;
  productVersion: string;
  /** go.sum-style hash of the module zip, as `go mod download -json` reported it. */
  sum: string;
  /** Path inside the module. */
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * The record setup wrote, checked against the pin and the file: throws,
 * saying what is wrong and the command that fixes it.
 */
export function readCalicoManifestRecord(cacheDir: string): CalicoManifestRecord {
  const dir = calicoManifestDir(cacheDir);
  const fix = `run \`npm run setup -- ${CALICO_MANIFEST.step}\``;
  let record: CalicoManifestRecord;
  try {
    record = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as CalicoManifestRecord;
  } catch (e) {
    throw new Error(`no Calico manifest in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${fix}`);
  }
  if (record.module !== CALICO_MANIFEST.module || record.version !== CALICO_MANIFEST.version) {
    throw new Error(`${join(dir, MANIFEST_NAME)} names ${record.module}@${record.version}, not the pinned ${CALICO_MANIFEST.module}@${CALICO_MANIFEST.version}: ${fix}`);
  }
  const file = calicoManifestFile(cacheDir);
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    throw new Error(`${file} is missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${fix}`);
  }
  if (data.length !== record.bytes || sha256(data) !== record.sha256) {
    throw new Error(`${file} is not the file setup copied from ${CALICO_MANIFEST.path} (${data.length} bytes, ${record.bytes} recorded): run \`npm run setup -- --force ${CALICO_MANIFEST.step}\``);
  }
  return record;
}

/** The step's check: the manifest is in the cache, from the pinned module, unchanged. */
export function calicoManifestReady(cacheDir: string): boolean {
  try {
    readCalicoManifestRecord(cacheDir);
    return true;
  } catch {
    return false;
  }
}

/** What the module offers in place of a missing manifest, for the error. */
function closestFiles(moduleDir: string): string {
  const found: string[] = [];
  const manifests = join(moduleDir, 'manifests');
  if (existsSync(manifests)) {
    found.push(...readdirSync(manifests).filter((n) => /^calico.*\.ya?ml$/.test(n)).sort().map((n) => `manifests/${n}`));
  }
  if (existsSync(join(moduleDir, 'charts', 'calico', 'templates'))) found.push('charts/calico/ (the Helm chart calico.yaml is rendered from)');
  return found.length > 0 ? `the closest files it has: ${found.join(', ')}` : 'it has no manifests/ folder and no charts/calico/ either';
}

/**
 * Copies `manifests/calico.yaml` out of the pinned module (downloaded
 * through the Go module proxy into GOMODCACHE, which checks it against its
 * go.sum hash) into the cache, with its record. Refuses a file whose
 * calico/node image is not the pinned release.
 */
export async function provideCalicoManifest(cacheDir: string, progress?: (line: string) => void): Promise<string> {
  const { module, version, productVersion, path } = CALICO_MANIFEST;
  progress?.(`  go mod download ${module}@${version} (Calico ${productVersion})`);
  const mod = await goModDownload(module, version);
  const src = join(mod.Dir, path);
  if (!existsSync(src)) {
    throw new Error(`${module}@${version} (Calico ${productVersion}) has no ${path}; ${closestFiles(mod.Dir)}`);
  }
  const data = readFileSync(src);
  const image = `calico/node:${productVersion}`;
  if (!data.toString('utf8').includes(image)) {
    const seen = [...new Set(data.toString('utf8').match(/calico\/node:[^\s"']+/g) ?? [])];
    throw new Error(`${path} in ${module}@${version} does not run ${image} (it names ${seen.join(', ') || 'no calico/node image'}): the module is not Calico ${productVersion}`);
  }
  const record: CalicoManifestRecord = { module, version, productVersion, sum: mod.Sum, path, bytes: data.length, sha256: sha256(data) };
  const final = calicoManifestDir(cacheDir);
  await replaceCacheDir(final, (tmp) => {
    writeFileSync(join(tmp, CALICO_MANIFEST.file), data);
    return record;
  });
  return `copied ${path} (Calico ${productVersion}, ${data.length} bytes) into ${relative(process.cwd(), final) || final}`;
}
