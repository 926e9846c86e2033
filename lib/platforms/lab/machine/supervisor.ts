/**
 * The lab machine's process supervisor: what the kubelet does for static
 * pods, without containers. It reads the static pod manifests kubeadm
 * writes (/etc/kubernetes/manifests) and the lab's own process list, maps
 * each container's upstream image to the binary built by `npm run setup`,
 * runs it with the manifest's command, arguments and environment, restarts
 * it with backoff when it exits, and restarts it when its manifest changes.
 * It runs inside the machine's network and mount namespaces, so the
 * manifests' hostPath volumes (/etc/kubernetes/pki, /var/lib/etcd, ...) are
 * the machine's own.
 *
 * Pure scheduling logic lives here; process spawning is injected.
 */
import { createHash } from 'node:crypto';
import { parse } from 'yaml';

export interface ProcessSpec {
  /** pod/container, unique on the machine. */
  readonly id: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Hash of what defines the process: a change restarts it. */
  readonly hash: string;
}

/** Upstream image names the lab can run, and the binary for each. */
const IMAGE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd'] as const;

export function imageBinary(image: string): string | undefined {
  const last = image.split('/').pop() ?? '';
  const name = last.split(/[:@]/)[0] ?? '';
  return (IMAGE_BINARIES as readonly string[]).includes(name) ? name : undefined;
}

interface PodManifest {
  kind?: string;
  metadata?: { name?: string };
  spec?: { containers?: Array<{ name?: string; image?: string; command?: string[]; args?: string[]; env?: Array<{ name: string; value?: string }> }> };
}

/** The processes of one static pod manifest. Throws on an image the lab cannot run. */
export function processesOfManifest(text: string, binDir: string): ProcessSpec[] {
  const pod = parse(text) as PodManifest;
  if (pod?.kind !== 'Pod' || !pod.metadata?.name) throw new Error('not a static Pod manifest');
  return (pod.spec?.containers ?? []).map((c) => {
    const binary = imageBinary(c.image ?? '');
    if (!binary) throw new Error(`pod ${pod.metadata!.name}: image ${c.image} has no lab binary (known: ${IMAGE_BINARIES.join(', ')})`);
    const command = [...(c.command ?? []), ...(c.args ?? [])];
    // The manifest's command starts with the program's name; run the built binary instead.
    const argv = command.length > 0 && command[0] === binary ? [`${binDir}/${binary}`, ...command.slice(1)] : [`${binDir}/${binary}`, ...command];
    const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const id = `${pod.metadata!.name}/${c.name}`;
    return { id, argv, env, hash: hashOf(argv, env) };
  });
}

export function hashOf(argv: readonly string[], env: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(JSON.stringify([argv, env])).digest('hex').slice(0, 16);
}

export interface Child {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

export interface SupervisorIO {
  spawn(spec: ProcessSpec): Child;
  now(): number;
  log(line: string): void;
}

interface Running {
  spec: ProcessSpec;
  child?: Child;
  restarts: number;
  startedAt?: number;
  /** When the next start may happen (backoff). */
  notBefore: number;
  stopping: boolean;
}

export interface ProcessStatus {
  readonly id: string;
  readonly pid?: number;
  readonly restarts: number;
  readonly startedAt?: string;
}

/** Restart backoff: 1 s, 2 s, 4 s ... capped at 10 s; reset after 60 s of uptime. */
export function backoffMs(restarts: number): number {
  return Math.min(10_000, 1000 * 2 ** Math.max(0, restarts - 1));
}

export class Supervisor {
  private readonly procs = new Map<string, Running>();

  constructor(private readonly io: SupervisorIO) {}

  /** Makes the running set match `wanted`: starts new ones, restarts changed ones, stops removed ones. */
  reconcile(wanted: readonly ProcessSpec[]): void {
    const byId = new Map(wanted.map((p) => [p.id, p]));
    for (const [id, r] of this.procs) {
      const want = byId.get(id);
      if (!want || want.hash !== r.spec.hash) {
        this.io.log(`${id}: ${want ? 'definition changed, restarting' : 'removed, stopping'}`);
        r.stopping = true;
        r.child?.kill('SIGTERM');
        this.procs.delete(id);
      }
    }
    for (const spec of wanted) {
      if (!this.procs.has(spec.id)) this.procs.set(spec.id, { spec, restarts: 0, notBefore: 0, stopping: false });
    }
    for (const r of this.procs.values()) {
      if (!r.child && this.io.now() >= r.notBefore) this.start(r);
    }
  }

  private start(r: Running): void {
    const child = this.io.spawn(r.spec);
    r.child = child;
    r.startedAt = this.io.now();
    this.io.log(`${r.spec.id}: started pid ${child.pid}${r.restarts ? ` (restart ${r.restarts})` : ''}`);
    child.onExit((code, signal) => {
      if (r.child !== child) return;
      r.child = undefined;
      if (r.stopping) return;
      const uptime = this.io.now() - (r.startedAt ?? 0);
      if (uptime > 60_000) r.restarts = 0;
      r.restarts++;
      r.notBefore = this.io.now() + backoffMs(r.restarts);
      this.io.log(`${r.spec.id}: exited (${signal ?? `code ${code}`}) after ${(uptime / 1000).toFixed(1)}s; restarting in ${backoffMs(r.restarts) / 1000}s`);
    });
  }

  status(): ProcessStatus[] {
    return [...this.procs.values()]
      .map((r) => ({ id: r.spec.id, ...(r.child ? { pid: r.child.pid } : {}), restarts: r.restarts, ...(r.startedAt ? { startedAt: new Date(r.startedAt).toISOString() } : {}) }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Stops everything: TERM now; the caller escalates to KILL after its grace period. */
  stopAll(signal: NodeJS.Signals = 'SIGTERM'): number[] {
    const pids: number[] = [];
    for (const r of this.procs.values()) {
      r.stopping = true;
      if (r.child) {
        pids.push(r.child.pid);
        r.child.kill(signal);
      }
    }
    return pids;
  }
}
