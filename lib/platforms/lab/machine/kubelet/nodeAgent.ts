/**
 * The API side of the lab's process kubelet: it registers the Node with its
 * IPv6 InternalIP, keeps the node's Lease and Ready condition fresh, and
 * publishes a mirror Pod (with status) for every static pod it runs — the
 * mirror pods are how kubeadm finds the etcd members when a control plane
 * joins. It is the only emulated part of a node; what it does not do is
 * listed in the README ("The lab's kubelet").
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parse } from 'yaml';
import type { KubeClient } from '../../../../kube/client.js';

export interface NodeIdentity {
  readonly name: string;
  readonly address: string;
  readonly kubeletVersion: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface StaticPod {
  /** The manifest's text, as kubeadm wrote it. */
  readonly manifest: string;
  readonly hash: string;
  readonly containers: ReadonlyArray<{ readonly name: string; readonly pid?: number; readonly restarts: number; readonly startedAt?: string }>;
}

/** RFC 3339 with microseconds, as Lease.spec.renewTime wants it. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

type Probe = { httpGet?: { host?: string; path?: string; port: number | string; scheme?: string } };
type ManifestContainer = { name: string; image?: string; readinessProbe?: Probe; startupProbe?: Probe; livenessProbe?: Probe };
type Manifest = { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: ManifestContainer[]; hostNetwork?: boolean } & Record<string, unknown> };

/** One HTTP(S) GET probe, as the kubelet makes it (TLS not verified); true on 2xx/3xx. */
export function httpProbe(probe: Probe, defaultHost: string, timeoutMs = 2000): Promise<boolean> {
  const g = probe.httpGet;
  if (!g || typeof g.port !== 'number') return Promise.resolve(true);
  const host = (g.host ?? defaultHost).replace(/^\[|\]$/g, '');
  const req = g.scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const r = req({ host, port: g.port, path: g.path ?? '/', method: 'GET', rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(false));
    r.end();
  });
}

/** How often the kubelet renews its Lease, and the Lease's duration, as its configuration says (the kubelet's defaults: 40 s, status every 10 s). */
export interface HeartbeatTiming {
  readonly leaseDurationSeconds: number;
  readonly intervalMs: number;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

/**
 * As the kubelet does: the Lease is renewed every quarter of its duration, and the status posted
 * every nodeStatusUpdateFrequency; the lab's agent does both at once, at the shorter of the two.
 */
export function heartbeatTiming(config: { readonly nodeLeaseDurationSeconds?: unknown; readonly nodeStatusUpdateFrequency?: unknown }): HeartbeatTiming {
  const lease = config.nodeLeaseDurationSeconds ?? 40;
  if (typeof lease !== 'number' || !Number.isInteger(lease) || lease < 1) throw new Error(`kubelet configuration: nodeLeaseDurationSeconds must be a whole number of seconds ≥ 1, got ${JSON.stringify(lease)}`);
  const freq = config.nodeStatusUpdateFrequency ?? '10s';
  const m = typeof freq === 'string' ? DURATION.exec(freq) : null;
  if (!m) throw new Error(`kubelet configuration: nodeStatusUpdateFrequency must be a duration such as 10s, got ${JSON.stringify(freq)}`);
  const statusMs = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  if (statusMs <= 0) throw new Error(`kubelet configuration: nodeStatusUpdateFrequency must be longer than 0, got ${JSON.stringify(freq)}`);
  return { leaseDurationSeconds: lease, intervalMs: Math.min(statusMs, (lease * 1000) / 4) };
}

export class NodeAgent {
  private nodeUid: string | undefined;
  private readonly mirrored = new Map<string, string>();
  /** The Lease's duration and the heartbeat's period: the kubelet's defaults until its configuration says otherwise. */
  timing: HeartbeatTiming = heartbeatTiming({});

  constructor(
    private readonly client: KubeClient,
    private readonly node: NodeIdentity,
    private readonly log: (line: string) => void,
    /** The Node status and Lease go through their own client, as the kubelet's heartbeat client: its requests time out within a period, so one hung API server costs one beat. */
    private readonly beats: KubeClient = client,
  ) {}

  private nodeStatus(now: Date): Record<string, unknown> {
    const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t });
    return {
      addresses: [
        { type: 'InternalIP', address: this.node.address },
        { type: 'Hostname', address: this.node.name },
      ],
      capacity: { cpu: '2', memory: '4Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      allocatable: { cpu: '2', memory: '4Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'lab process kubelet'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'lab process kubelet'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'lab process kubelet'),
        cond('Ready', 'True', 'KubeletReady', 'lab process kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: '',
        osImage: 'native6 lab machine (network namespaces)',
        containerRuntimeVersion: 'native6-process://0.1.0',
        kubeletVersion: this.node.kubeletVersion,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  /** Creates the Node if needed; remembers its uid (mirror pods are owned by it). */
  async register(): Promise<void> {
    const path = `/api/v1/nodes/${this.node.name}`;
    let node = await this.client.find<{ metadata: { uid: string } }>(path);
    if (!node) {
      node = await this.client.request<{ metadata: { uid: string } }>('POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: this.node.name,
          labels: { 'kubernetes.io/hostname': this.node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...this.node.labels },
        },
      });
      this.log(`registered Node ${this.node.name}`);
    }
    this.nodeUid = node.metadata.uid;
    await this.heartbeat();
  }

  /** Node status and Lease: what the node controller watches to call the node alive. */
  async heartbeat(now = new Date()): Promise<void> {
    const { leaseDurationSeconds } = this.timing;
    await this.beats.mergePatch(`/api/v1/nodes/${this.node.name}/status`, { status: this.nodeStatus(now) });
    await this.beats.apply(
      `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.node.name}`,
      {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.node.name, namespace: 'kube-node-lease', ...(this.nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.node.name, uid: this.nodeUid }] } : {}) },
        spec: { holderIdentity: this.node.name, leaseDurationSeconds, renewTime: microTime(now) },
      },
      'native6-lab-kubelet',
    );
  }

  /** Creates (or re-creates, when the manifest changed) the mirror pod of each static pod, and reports its status. */
  async syncMirrorPods(pods: readonly StaticPod[]): Promise<void> {
    if (!this.nodeUid) await this.register();
    // A node may only list the pods bound to it (the Node authorizer), as the kubelet does.
    const bound = await this.client.get<{ items: Array<{ metadata: { name: string; namespace: string; annotations?: Record<string, string> } }> }>(
      `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.node.name}`)}`,
    );
    const existingPods = new Map(bound.items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    for (const pod of pods) {
      const manifest = parse(pod.manifest) as Manifest;
      const ns = manifest.metadata.namespace ?? 'kube-system';
      const name = `${manifest.metadata.name}-${this.node.name}`;
      const path = `/api/v1/namespaces/${ns}/pods/${name}`;
      if (this.mirrored.get(name) !== pod.hash) {
        const existing = existingPods.get(`${ns}/${name}`);
        if (existing?.metadata.annotations?.['kubernetes.io/config.mirror'] !== pod.hash) {
          if (existing) await this.client.delete(path, { missingOk: true });
          await this.client.request('POST', `/api/v1/namespaces/${ns}/pods`, {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name,
              namespace: ns,
              labels: manifest.metadata.labels ?? {},
              annotations: {
                ...(manifest.metadata.annotations ?? {}),
                'kubernetes.io/config.mirror': pod.hash,
                'kubernetes.io/config.hash': pod.hash,
                'kubernetes.io/config.source': 'file',
              },
              ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.node.name, uid: this.nodeUid, controller: true }],
            },
            spec: { ...manifest.spec, nodeName: this.node.name },
          });
          this.log(`created mirror pod ${ns}/${name}`);
        }
        this.mirrored.set(name, pod.hash);
      }
      await this.reportStatus(path, manifest, pod);
    }
  }

  private async reportStatus(path: string, manifest: Manifest, pod: StaticPod): Promise<void> {
    const statuses = await Promise.all(
      manifest.spec.containers.map(async (c) => {
        const run = pod.containers.find((x) => x.name === c.name);
        const running = run?.pid !== undefined;
        const probe = c.readinessProbe ?? c.startupProbe ?? c.livenessProbe;
        const ready = running && (probe ? await httpProbe(probe, this.node.address) : true);
        return {
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          containerID: running ? `native6-process://${run!.pid}` : '',
          ready,
          started: running,
          restartCount: run?.restarts ?? 0,
          state: running ? { running: { startedAt: run!.startedAt?.replace(/\.\d{3}Z$/, 'Z') } } : { waiting: { reason: 'CrashLoopBackOff' } },
        };
      }),
    );
    const allReady = statuses.every((s) => s.ready);
    const t = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const cond = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: t });
    await this.client.mergePatch(`${path}/status`, {
      status: {
        phase: 'Running',
        hostIP: this.node.address,
        hostIPs: [{ ip: this.node.address }],
        podIP: this.node.address,
        podIPs: [{ ip: this.node.address }],
        conditions: [cond('PodScheduled', true), cond('Initialized', true), cond('ContainersReady', allReady), cond('Ready', allReady)],
        containerStatuses: statuses,
      },
    });
  }
}
