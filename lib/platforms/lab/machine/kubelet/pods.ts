/**
 * The lab kubelet's pods: for every Pod bound to the machine (not a mirror
 * pod), it makes the pod's network (a network namespace and the CNI
 * plugins of /etc/cni/net.d called exactly as the kubelet calls them:
 * CNI_* environment, the configuration on stdin, ADD then DEL; a
 * host-network pod keeps the machine's), its volumes (volumes.ts), its
 * resolv.conf and hosts (podSpec.ts), and runs the image's program
 * (images.ts) in a file system of its own (a mount namespace, a host name
 * of its own, the image's user), restarting it with the kubelet's back-off
 * when it exits; it reports phase, conditions, pod IPs and the readiness
 * probe's verdict. What it cannot run (an image it has no program for, init
 * containers, more than one container) is reported as Pending with the
 * reason, never faked.
 *
 * A host-network pod (kube-proxy, kubeadm's DaemonSet) runs in the
 * machine's network namespace, with the same file system of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRunner } from '../../../../exec/run.js';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { KubeClient } from '../../../../kube/client.js';
import { KubeError } from '../../../../kube/client.js';
import { httpProbe } from './nodeAgent.js';
import { podNetns } from '../machine.js';
import { resolveImage, type ImageProgram } from './images.js';
import { containerEnv, expand, podHosts, podResolvConf, sandboxScript, type Container, type PodMeta, type Service } from './podSpec.js';
import { PodVolumes, volumeSource, type Volume } from './volumes.js';
import { apiTime, podStatus, statusHeld, type PodStatus } from './podStatus.js';

export interface ApiPod {
  metadata: PodMeta & { deletionTimestamp?: string };
  spec: {
    nodeName?: string;
    hostNetwork?: boolean;
    dnsPolicy?: string;
    dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: Array<{ name: string; value?: string }> };
    serviceAccountName?: string;
    enableServiceLinks?: boolean;
    securityContext?: { runAsUser?: number; runAsGroup?: number };
    initContainers?: Container[];
    containers: Container[];
    volumes?: Volume[];
  };
  status?: PodStatus;
}

export interface PodRuntimeOptions {
  readonly node: string;
  readonly nodeAddress: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  readonly codeRoot: string;
  /** `<cache>/bin`: the programs the images stand for (images.ts). */
  readonly binDir: string;
  readonly logs: string;
  readonly log: (line: string) => void;
  /** The kubelet's folders (the real kubelet's layout) and its configuration (kubeadm writes it). */
  readonly podsDir?: string;
  readonly kubeletConfig?: string;
  /** Where pods' root file systems are mounted (in their own mount namespaces). */
  readonly runDir?: string;
}

/** The kubelet's back-off of a container that keeps exiting: 10 s doubled up to 5 min, forgotten after 10 min of running. */
export function restartDelay(restarts: number): number {
  return Math.min(10_000 * 2 ** Math.max(0, restarts - 1), 300_000);
}

interface RunningPod {
  readonly key: string;
  /** The pod's network namespace; undefined for a host-network pod. */
  readonly netns?: string;
  pod: ApiPod;
  ip?: string;
  child?: ChildProcess;
  restarts: number;
  readonly firstSeen: string;
  startedAt?: string;
  runningSince?: number;
  nextStart?: number;
  lastExit?: { code: number | null; signal: string | null; at: string };
  volumesAt?: number;
  stopped?: boolean;
  probeFailures?: number;
  wasReady?: boolean;
  /** Why it cannot run, when it cannot; a setup failure is retried after `retryAt`. */
  blocked?: { reason: string; message: string; retryAt?: number };
  program?: { image: ImageProgram; argv: readonly string[] };
  readonly container: Container;
}

/** The first CNI network configuration list in the directory, as the kubelet picks it (lexical order). */
export function loadConflist(dir: string): { name: string; cniVersion: string; plugins: Array<Record<string, unknown>> } {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.conflist$/.test(f)).sort() : [];
  if (files.length === 0) throw new Error(`no CNI configuration in ${dir}`);
  return JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as { name: string; cniVersion: string; plugins: Array<Record<string, unknown>> };
}

const VOLUME_SYNC_MS = 10_000;

export class PodRuntime {
  private readonly pods = new Map<string, RunningPod>();
  private readonly runner = createRunner();
  private readonly podsDir: string;
  private readonly runDir: string;
  private volumes?: PodVolumes;

  constructor(private readonly o: PodRuntimeOptions) {
    this.podsDir = o.podsDir ?? '/var/lib/kubelet/pods';
    this.runDir = o.runDir ?? '/run/native6-lab/pods';
  }

  private run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
    return this.runner.run(command, args, { ...options, allowFail: true });
  }

  /** CNI ADD or DEL for a pod, every plugin of the list in order (ADD) or reverse (DEL). */
  private async cni(command: 'ADD' | 'DEL', pod: ApiPod, netns: string): Promise<string | undefined> {
    const list = loadConflist(this.o.cniConfDir);
    const plugins = command === 'ADD' ? list.plugins : [...list.plugins].reverse();
    let prevResult: unknown;
    for (const plugin of plugins) {
      const conf = { cniVersion: list.cniVersion, name: list.name, ...plugin, ...(prevResult ? { prevResult } : {}) };
      const env = {
        ...process.env,
        CNI_COMMAND: command,
        CNI_CONTAINERID: pod.metadata.uid,
        CNI_NETNS: `/run/netns/${netns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: this.o.cniBinDir,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.metadata.namespace};K8S_POD_NAME=${pod.metadata.name};K8S_POD_UID=${pod.metadata.uid}`,
      };
      const res = await this.run(join(this.o.cniBinDir, String(plugin.type)), [], { env, input: JSON.stringify(conf) });
      if (res.code !== 0 && command === 'ADD') throw new Error(`CNI ${plugin.type} ADD failed: ${(res.stdout || res.stderr).trim()}`);
      if (command === 'ADD') prevResult = JSON.parse(res.stdout);
    }
    const ips = (prevResult as { ips?: Array<{ address: string }> } | undefined)?.ips ?? [];
    return ips[0]?.address.split('/')[0];
  }

  /** Makes the running pods match the pods bound to the machine. */
  async sync(client: KubeClient, bound: readonly ApiPod[]): Promise<void> {
    this.volumes ??= new PodVolumes(client, this.podsDir, (pod, path) => this.field(pod as ApiPod, path));
    const wanted = new Map<string, ApiPod>();
    for (const p of bound) {
      if (p.metadata.annotations?.['kubernetes.io/config.mirror']) continue;
      wanted.set(`${p.metadata.namespace}/${p.metadata.name}/${p.metadata.uid}`, p);
    }
    for (const [key, r] of this.pods) {
      const p = wanted.get(key);
      if (!p || p.metadata.deletionTimestamp) {
        if (!r.stopped) {
          await this.stop(r, p ?? keyPod(key));
          r.stopped = true;
        }
        if (p) {
          // The kubelet confirms the deletion once the pod is stopped; until the API answers, it is retried next time.
          await confirmDeletion(client, p);
          this.o.log(`pod ${key}: stopped and deleted`);
        }
        this.pods.delete(key);
      }
    }
    // Each pod on its own, side by side, as the kubelet's pod workers: one slow to start holds no other.
    await Promise.all(
      [...wanted].map(([key, p]) => this.syncPod(client, key, p).catch((e: unknown) => this.o.log(`pod ${key}: ${(e as Error).message}`))),
    );
  }

  private async syncPod(client: KubeClient, key: string, p: ApiPod): Promise<void> {
    if (p.metadata.deletionTimestamp) {
      // Not running here (stopped above, or never started by this kubelet, e.g. after a restart).
      if (!this.pods.has(key)) await confirmDeletion(client, p);
      return;
    }
    let r = this.pods.get(key);
    if (!r) {
      const firstSeen = typeof p.status?.startTime === 'string' ? p.status.startTime : apiTime(Date.now());
      r = { key, ...(p.spec.hostNetwork ? {} : { netns: podNetns(p.metadata.uid) }), pod: p, restarts: 0, firstSeen, container: p.spec.containers[0]! };
      this.pods.set(key, r);
      await this.start(client, r);
    } else {
      r.pod = p;
      if (r.blocked?.retryAt !== undefined && Date.now() >= r.blocked.retryAt) {
        if (r.netns && r.ip === undefined) await this.run('ip', ['netns', 'del', r.netns]);
        r.blocked = undefined;
        await this.start(client, r);
      } else if (!r.child && !r.blocked && Date.now() >= (r.nextStart ?? 0)) {
        r.restarts++;
        await this.spawnProgram(client, r);
      } else if (r.child && Date.now() - (r.volumesAt ?? 0) > VOLUME_SYNC_MS) {
        await this.syncVolumes(r);
      }
    }
    await this.report(client, r);
  }

  private field(p: ApiPod, path: string): string {
    const r = this.pods.get(`${p.metadata.namespace}/${p.metadata.name}/${p.metadata.uid}`);
    const values: Record<string, string | undefined> = {
      'metadata.name': p.metadata.name,
      'metadata.namespace': p.metadata.namespace,
      'metadata.uid': p.metadata.uid,
      'spec.nodeName': this.o.node,
      'spec.serviceAccountName': p.spec.serviceAccountName ?? 'default',
      'status.hostIP': this.o.nodeAddress,
      'status.podIP': r?.ip ?? '',
    };
    const v = values[path];
    if (v === undefined) throw new Error(`fieldRef ${path} is not one the lab's kubelet resolves`);
    return v;
  }

  private block(r: RunningPod, reason: string, message: string, retry: boolean): void {
    r.blocked = { reason, message, ...(retry ? { retryAt: Date.now() + 10_000 } : {}) };
    this.o.log(`pod ${r.key}: ${reason}: ${message}`);
  }

  private async start(client: KubeClient, r: RunningPod): Promise<void> {
    const p = r.pod;
    if (p.spec.containers.length !== 1 || p.spec.initContainers?.length) {
      return this.block(r, 'NotRunnableInLab', `the lab's kubelet runs pods of one container and no init containers; ${p.metadata.name} has ${p.spec.containers.length} and ${p.spec.initContainers?.length ?? 0}`, false);
    }
    const resolved = resolveImage({ binDir: this.o.binDir, codeRoot: this.o.codeRoot, node: process.execPath }, r.container, { pod: p.metadata.name, node: this.o.node });
    if (!resolved.ok) return this.block(r, 'NotRunnableInLab', resolved.reason, false);
    if (!existsSync(resolved.program.binary)) return this.block(r, 'ImageNotBuilt', `${resolved.program.binary} is missing: run npm run setup`, true);
    r.program = { image: resolved.program, argv: resolved.argv };
    if (r.netns) {
      try {
        await this.run('ip', ['netns', 'add', r.netns]);
        await this.run('ip', ['netns', 'exec', r.netns, 'ip', 'link', 'set', 'lo', 'up']);
        // Each start is a new sandbox: what a former one of this pod left (its address, when the kubelet
        // or the whole machine restarted) is released first, as the kubelet's StopPodSandbox does.
        await this.cni('DEL', p, r.netns);
        r.ip = await this.cni('ADD', p, r.netns);
        this.o.log(`pod ${r.key}: network namespace ${r.netns}, ${r.ip}`);
      } catch (e) {
        return this.block(r, 'NetworkSetupFailed', (e as Error).message, true);
      }
    } else r.ip = this.o.nodeAddress;
    await this.spawnProgram(client, r);
  }

  private async syncVolumes(r: RunningPod): Promise<boolean> {
    try {
      await this.volumes!.sync(r.pod);
      r.volumesAt = Date.now();
      return true;
    } catch (e) {
      if (!r.child) this.block(r, 'CreateContainerConfigError', (e as Error).message, true);
      else this.o.log(`pod ${r.key}: volumes: ${(e as Error).message}`);
      return false;
    }
  }

  /** The kubelet's configuration, as kubeadm wrote it (clusterDNS, clusterDomain, resolvConf). */
  private kubeletConfig(): { clusterDNS: string[]; clusterDomain: string; resolvConf: string } {
    const file = this.o.kubeletConfig ?? '/var/lib/kubelet/config.yaml';
    const c = existsSync(file) ? ((parse(readFileSync(file, 'utf8')) ?? {}) as { clusterDNS?: string[]; clusterDomain?: string; resolvConf?: string }) : {};
    return { clusterDNS: c.clusterDNS ?? [], clusterDomain: c.clusterDomain ?? 'cluster.local', resolvConf: c.resolvConf ?? '/etc/resolv.conf' };
  }

  private async spawnProgram(client: KubeClient, r: RunningPod): Promise<void> {
    const p = r.pod;
    if (!(await this.syncVolumes(r))) return;
    const dir = join(this.podsDir, p.metadata.uid);
    const conf = this.kubeletConfig();
    const etc = join(dir, 'etc');
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'resolv.conf'), podResolvConf({ ...p.spec, namespace: p.metadata.namespace, clusterDNS: conf.clusterDNS, clusterDomain: conf.clusterDomain, hostResolvConf: existsSync(conf.resolvConf) ? readFileSync(conf.resolvConf, 'utf8') : '' }));
    writeFileSync(join(etc, 'hosts'), r.netns ? podHosts(r.ip, p.metadata.name) : readFileSync('/etc/hosts', 'utf8'));
    writeFileSync(join(etc, 'hostname'), `${r.netns ? p.metadata.name : this.o.node}\n`);
    let env: Record<string, string>;
    try {
      const services = [
        ...[await client.find<Service>('/api/v1/namespaces/default/services/kubernetes')].filter((s): s is Service => s !== undefined),
        ...(await client.get<{ items: Service[] }>(`/api/v1/namespaces/${p.metadata.namespace}/services`)).items,
      ];
      env = containerEnv(r.container, p.spec.containers, {
        pod: p.metadata,
        nodeName: this.o.node,
        hostIP: this.o.nodeAddress,
        ...(r.ip ? { podIP: r.ip } : {}),
        ...(p.spec.serviceAccountName ? { serviceAccount: p.spec.serviceAccountName } : {}),
        services,
        ...(p.spec.enableServiceLinks !== undefined ? { enableServiceLinks: p.spec.enableServiceLinks } : {}),
      });
    } catch (e) {
      if (r.restarts === 0) this.block(r, 'CreateContainerConfigError', (e as Error).message, true);
      return;
    }
    const image = r.program!.image;
    const sc = { ...p.spec.securityContext, ...r.container.securityContext };
    const volumes = new Map((p.spec.volumes ?? []).map((v) => [v.name, v]));
    const missing = (r.container.volumeMounts ?? []).find((m) => !volumes.has(m.name));
    if (missing) return this.block(r, 'CreateContainerConfigError', `volume mount ${missing.mountPath}: no volume ${missing.name} in the pod`, false);
    const mounts = [
      ...['resolv.conf', 'hosts', 'hostname'].map((f) => ({ source: join(etc, f), target: `/etc/${f}`, readOnly: false, file: true })),
      ...['/etc/passwd', '/etc/group', '/etc/nsswitch.conf'].filter((f) => existsSync(f)).map((f) => ({ source: f, target: f, readOnly: true, file: true })),
      // The image's program where the image has it (a program of the machine's own, such as node, is there already).
      ...(image.binary === image.path ? [] : [{ source: image.binary, target: image.path, readOnly: true, file: true }]),
      ...(r.container.volumeMounts ?? []).flatMap((m) => {
        const v = volumes.get(m.name)!;
        // A hostPath the machine lacks (kube-proxy's /lib/modules here): the pod sees what the machine has, nothing.
        if (v.hostPath && !existsSync(v.hostPath.path)) return [];
        const source = join(volumeSource(this.podsDir, p.metadata.uid, v), m.subPath ?? '');
        return [{ source, target: m.mountPath, readOnly: m.readOnly === true, file: existsSync(source) && !readdirSafe(source) }];
      }),
    ];
    const root = join(this.runDir, p.metadata.uid, 'root');
    mkdirSync(root, { recursive: true });
    const script = sandboxScript({
      root,
      system: ['/etc/ssl', ...(image.binds ?? []).flatMap((d) => [d, ...linkedOutside(d)])].filter((d) => existsSync(d)),
      mounts,
      hostname: r.netns ? p.metadata.name : null,
      workingDir: r.container.workingDir ?? image.workdir ?? '/',
      user: { uid: sc.runAsUser ?? image.user.uid, gid: sc.runAsGroup ?? image.user.gid },
      capabilities: (r.container.securityContext?.capabilities?.add ?? []).map((c) => c.toLowerCase()).filter((c) => c === 'net_bind_service'),
      // As the kubelet: $(VAR) in the command and arguments are the container's variables.
      argv: r.program!.argv.map((a) => expand(a, env)),
    });
    const out = openSync(join(this.o.logs, `${this.o.node}.${p.metadata.namespace}.${p.metadata.name}.log`), 'a');
    const unshare = ['unshare', '--mount', '--propagation', 'private', ...(r.netns ? ['--uts'] : []), '--', '/bin/sh', '-c', script];
    const [cmd, ...args] = r.netns ? ['nsenter', `--net=/run/netns/${r.netns}`, '--', ...unshare] : unshare;
    const child = spawn(cmd!, args, { cwd: '/', env, stdio: ['ignore', out, out] });
    r.child = child;
    r.runningSince = Date.now();
    r.startedAt = apiTime(Date.now());
    child.on('exit', (code, signal) => {
      if (r.child !== child) return;
      r.child = undefined;
      r.lastExit = { code, signal, at: apiTime(Date.now()) };
      // Ran long enough: the back-off starts over.
      if (Date.now() - (r.runningSince ?? 0) > 600_000) r.restarts = 0;
      r.nextStart = Date.now() + restartDelay(r.restarts + 1);
      this.o.log(`pod ${r.key}: exited (${signal ?? `code ${code}`}); next start in ${Math.round((r.nextStart - Date.now()) / 1000)} s`);
    });
  }

  private async stop(r: RunningPod, p: ApiPod): Promise<void> {
    r.child?.kill('SIGTERM');
    r.child = undefined;
    if (r.netns) {
      if (r.ip !== undefined || !r.blocked) await this.cni('DEL', p, r.netns).catch(() => undefined);
      await this.run('ip', ['netns', 'del', r.netns]);
    }
    this.volumes?.forget(p.metadata.uid);
    // The pod's mounts were made in its own mount namespace: here these are plain folders.
    for (const d of [join(this.podsDir, p.metadata.uid), join(this.runDir, p.metadata.uid)]) rmSync(d, { recursive: true, force: true });
  }

  /** Stops every pod's program (the kubelet is stopping); namespaces go with the machine. */
  async stopAll(): Promise<void> {
    for (const r of this.pods.values()) r.child?.kill('SIGTERM');
  }

  private async report(client: KubeClient, r: RunningPod): Promise<void> {
    const p = r.pod;
    const running = r.child !== undefined;
    const probe = r.container.readinessProbe?.httpGet;
    const port = typeof probe?.port === 'string' ? r.container.ports?.find((x) => x.name === probe.port)?.containerPort : probe?.port;
    // As the kubelet does: a pod turns NotReady only after failureThreshold (default 3) probes fail in a row.
    let ready = false;
    if (running && r.ip !== undefined) {
      if (!probe || !port) ready = true;
      else if (await httpProbe({ httpGet: { path: probe.path ?? '/', port } }, r.ip)) {
        r.probeFailures = 0;
        ready = true;
      } else {
        r.probeFailures = (r.probeFailures ?? 0) + 1;
        ready = r.wasReady === true && r.probeFailures < (r.container.readinessProbe?.failureThreshold ?? 3);
      }
    }
    if (ready !== r.wasReady) this.o.log(`pod ${r.key}: ${ready ? 'Ready' : 'not Ready'}`);
    r.wasReady = ready;
    const container = {
      name: r.container.name,
      image: r.container.image,
      running,
      restarts: r.restarts,
      ready,
      ...(r.blocked ? { blocked: r.blocked } : {}),
      ...(r.child?.pid ? { pid: r.child.pid } : {}),
      ...(r.startedAt ? { startedAt: r.startedAt } : {}),
      ...(r.lastExit ? { lastExit: r.lastExit } : {}),
    };
    const status = podStatus({ nodeAddress: this.o.nodeAddress, ...(r.ip ? { ip: r.ip } : {}), firstSeen: r.firstSeen, container }, p.status, apiTime(Date.now()));
    if (statusHeld(status, p.status)) return;
    await client.mergePatch(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`, { status });
  }
}

/**
 * The folders a folder's symbolic links point to outside it (a checkout whose node_modules links to
 * another one's): bound too, since the pod's root has only what is bound into it.
 */
export function linkedOutside(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const root = realpathSync(dir);
  const out = new Set<string>();
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isSymbolicLink()) continue;
    let target: string;
    try {
      target = realpathSync(join(dir, e.name));
    } catch {
      continue; // dangling
    }
    if (target !== root && !target.startsWith(`${root}/`) && statSync(target).isDirectory()) out.add(target);
  }
  return [...out].sort();
}

function readdirSafe(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

async function confirmDeletion(client: KubeClient, p: ApiPod): Promise<void> {
  await client
    .delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid }, missingOk: true })
    .catch((e: unknown) => (e instanceof KubeError && e.status === 409 ? undefined : Promise.reject(e)));
}

function keyPod(key: string): ApiPod {
  const [namespace, name, uid] = key.split('/') as [string, string, string];
  return { metadata: { namespace, name, uid }, spec: { containers: [] } };
}
