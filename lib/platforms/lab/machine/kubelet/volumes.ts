/**
 * A pod's volumes, as the kubelet makes them: under
 * /var/lib/kubelet/pods/<uid>/volumes/<plugin>/<name> on the machine,
 * with the kubelet's own credentials (the Node authorizer lets a node read
 * only the ConfigMaps and Secrets its pods name, and ask tokens only for
 * its pods' ServiceAccounts, bound to the pod). Kinds: emptyDir, configMap,
 * secret, downwardAPI, hostPath and projected (serviceAccountToken,
 * configMap, secret, downwardAPI: what the API server's ServiceAccount
 * admission adds to every pod as kube-api-access-*). Files are written
 * whole (temp file, rename) and only when their content changed, and the
 * sync is repeated, so that a changed ConfigMap reaches the running pod
 * (CoreDNS's reload plugin reads its Corefile again), and a token is
 * renewed once 80% of its life is gone, as the kubelet's token manager does.
 * Anything else is refused by name.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { KubeClient } from '../../../../kube/client.js';
import type { PodMeta } from './podSpec.js';

type Items = Array<{ key: string; path: string; mode?: number }>;
type FieldItems = Array<{ path: string; fieldRef?: { fieldPath: string }; mode?: number }>;

export interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  hostPath?: { path: string; type?: string };
  configMap?: { name: string; items?: Items; defaultMode?: number; optional?: boolean };
  secret?: { secretName: string; items?: Items; defaultMode?: number; optional?: boolean };
  downwardAPI?: { items?: FieldItems; defaultMode?: number };
  projected?: {
    defaultMode?: number;
    sources: Array<{
      serviceAccountToken?: { path: string; expirationSeconds?: number; audience?: string };
      configMap?: { name: string; items?: Items; optional?: boolean };
      secret?: { name: string; items?: Items; optional?: boolean };
      downwardAPI?: { items?: FieldItems };
    }>;
  };
}

export interface VolumePod {
  readonly metadata: PodMeta;
  readonly spec: { volumes?: Volume[]; serviceAccountName?: string; nodeName?: string };
}

const DEFAULT_MODE = 0o644;

/** The folder a volume lives in on the machine (the kubelet's layout). */
export function volumeDir(podsDir: string, uid: string, v: Volume): string {
  const plugin = v.emptyDir ? 'empty-dir' : v.configMap ? 'configmap' : v.secret ? 'secret' : v.projected ? 'projected' : v.downwardAPI ? 'downward-api' : 'unknown';
  return join(podsDir, uid, 'volumes', `kubernetes.io~${plugin}`, v.name);
}

/** The machine path a volume mount takes its files from. */
export function volumeSource(podsDir: string, uid: string, v: Volume): string {
  return v.hostPath ? v.hostPath.path : volumeDir(podsDir, uid, v);
}

function safePath(dir: string, rel: string, what: string): string {
  const p = normalize(rel);
  if (p.startsWith('..') || p.startsWith('/')) throw new Error(`${what}: path "${rel}" leaves the volume`);
  return join(dir, p);
}

/** Writes a file only when its content differs (the pod sees whole files only). */
function put(file: string, content: string | Buffer, mode: number): void {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  if (existsSync(file) && readFileSync(file).equals(data)) return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

interface TokenState {
  readonly token: string;
  readonly renewAt: number;
}

export class PodVolumes {
  private readonly tokens = new Map<string, TokenState>();

  constructor(
    private readonly client: KubeClient,
    private readonly podsDir: string,
    private readonly fields: (pod: VolumePod, path: string) => string,
  ) {}

  private async data(kind: 'configmaps' | 'secrets', ns: string, name: string, optional: boolean | undefined, what: string): Promise<Map<string, Buffer> | undefined> {
    const o = await this.client.find<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(`/api/v1/namespaces/${ns}/${kind}/${name}`);
    if (!o) {
      if (optional) return undefined;
      throw new Error(`${what}: ${kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${ns}/${name} not found`);
    }
    const out = new Map<string, Buffer>();
    if (kind === 'secrets') for (const [k, v] of Object.entries(o.data ?? {})) out.set(k, Buffer.from(v, 'base64'));
    else {
      for (const [k, v] of Object.entries(o.data ?? {})) out.set(k, Buffer.from(v));
      for (const [k, v] of Object.entries(o.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
    }
    return out;
  }

  private keys(dir: string, data: Map<string, Buffer>, items: Items | undefined, mode: number, what: string): void {
    if (!items) {
      for (const [k, v] of data) put(safePath(dir, k, what), v, mode);
      return;
    }
    for (const i of items) {
      const v = data.get(i.key);
      if (!v) throw new Error(`${what}: no key ${i.key}`);
      put(safePath(dir, i.path, what), v, i.mode ?? mode);
    }
  }

  private async token(pod: VolumePod, src: { path: string; expirationSeconds?: number; audience?: string }): Promise<string> {
    const key = `${pod.metadata.uid}/${src.path}/${src.audience ?? ''}`;
    const held = this.tokens.get(key);
    if (held && Date.now() < held.renewAt) return held.token;
    const sa = pod.spec.serviceAccountName ?? 'default';
    const seconds = src.expirationSeconds ?? 3600;
    const res = await this.client.request<{ status: { token: string; expirationTimestamp: string } }>('POST', `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { ...(src.audience ? { audiences: [src.audience] } : {}), expirationSeconds: seconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
    });
    // As the kubelet's token manager: renewed at 80% of the life asked for (the API server may extend
    // kube-api-access's 3607 s to a year, warning after the hour: the pod still gets a fresh one hourly).
    const now = Date.now();
    const expires = Date.parse(res.status.expirationTimestamp);
    const life = Math.min(seconds * 1000, Number.isFinite(expires) ? expires - now : seconds * 1000);
    this.tokens.set(key, { token: res.status.token, renewAt: now + 0.8 * life });
    return res.status.token;
  }

  private fieldFiles(dir: string, pod: VolumePod, items: FieldItems | undefined, mode: number, what: string): void {
    for (const i of items ?? []) {
      if (!i.fieldRef) throw new Error(`${what}: only fieldRef items are supported in the lab`);
      put(safePath(dir, i.path, what), this.fields(pod, i.fieldRef.fieldPath), i.mode ?? mode);
    }
  }

  /** Makes (or brings up to date) every volume of the pod. */
  async sync(pod: VolumePod): Promise<void> {
    const ns = pod.metadata.namespace;
    for (const v of pod.spec.volumes ?? []) {
      const what = `volume ${v.name}`;
      const dir = volumeDir(this.podsDir, pod.metadata.uid, v);
      if (v.hostPath) {
        // As the kubelet: the *OrCreate types make what is missing; others must exist (the kubelet checks the type).
        const t = v.hostPath.type ?? '';
        if (t === 'DirectoryOrCreate') mkdirSync(v.hostPath.path, { recursive: true, mode: 0o755 });
        else if (t === 'FileOrCreate' && !existsSync(v.hostPath.path)) {
          mkdirSync(dirname(v.hostPath.path), { recursive: true, mode: 0o755 });
          writeFileSync(v.hostPath.path, '', { mode: 0o644 });
        } else if (!existsSync(v.hostPath.path) && t) throw new Error(`${what}: hostPath ${v.hostPath.path} does not exist on the machine (type ${t})`);
        // Of no type and missing (kube-proxy's /lib/modules where the machine has no modules): a runtime would
        // make it on the machine; the lab's machines share the host's /lib, so the pod is left without it.
        continue;
      }
      if (v.emptyDir) {
        // As the kubelet: a folder anyone in the pod may write, kept across the container's restarts.
        if (!existsSync(dir)) {
          mkdirSync(dir, { recursive: true });
          chmodSync(dir, 0o777);
        }
      } else if (v.configMap) {
        mkdirSync(dir, { recursive: true });
        const data = await this.data('configmaps', ns, v.configMap.name, v.configMap.optional, what);
        if (data) this.keys(dir, data, v.configMap.items, v.configMap.defaultMode ?? DEFAULT_MODE, what);
      } else if (v.secret) {
        mkdirSync(dir, { recursive: true });
        const data = await this.data('secrets', ns, v.secret.secretName, v.secret.optional, what);
        if (data) this.keys(dir, data, v.secret.items, v.secret.defaultMode ?? DEFAULT_MODE, what);
      } else if (v.downwardAPI) {
        mkdirSync(dir, { recursive: true });
        this.fieldFiles(dir, pod, v.downwardAPI.items, v.downwardAPI.defaultMode ?? DEFAULT_MODE, what);
      } else if (v.projected) {
        mkdirSync(dir, { recursive: true });
        const mode = v.projected.defaultMode ?? DEFAULT_MODE;
        for (const s of v.projected.sources) {
          if (s.serviceAccountToken) put(safePath(dir, s.serviceAccountToken.path, what), await this.token(pod, s.serviceAccountToken), mode);
          else if (s.configMap) {
            const data = await this.data('configmaps', ns, s.configMap.name, s.configMap.optional, what);
            if (data) this.keys(dir, data, s.configMap.items, mode, what);
          } else if (s.secret) {
            const data = await this.data('secrets', ns, s.secret.name, s.secret.optional, what);
            if (data) this.keys(dir, data, s.secret.items, mode, what);
          } else if (s.downwardAPI) this.fieldFiles(dir, pod, s.downwardAPI.items, mode, what);
          else throw new Error(`${what}: a projected source the lab's kubelet does not make (${Object.keys(s).join(', ')})`);
        }
      } else {
        throw new Error(`${what}: the lab's kubelet makes emptyDir, configMap, secret, downwardAPI, projected and hostPath volumes, not ${Object.keys(v).filter((k) => k !== 'name').join(', ')}`);
      }
    }
  }

  /** Forgets the pod's tokens (its folder is removed by the caller). */
  forget(uid: string): void {
    for (const k of [...this.tokens.keys()]) if (k.startsWith(`${uid}/`)) this.tokens.delete(k);
  }
}
