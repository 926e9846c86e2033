/**
 * The lab kubelet's pods: for every Pod bound to the machine (not a mirror
 * pod, not host-network), it makes a network namespace, calls the CNI
 * plugins of /etc/cni/net.d exactly as the kubelet does (CNI_* environment,
 * the network configuration on stdin, ADD then DEL), runs the pod's program
 * inside it, and reports phase, conditions and pod IPs. The one program it
 * knows how to run is agnhost's `netexec` (lib/platforms/lab/programs/echo.ts answers like
 * it); any other image is reported as not runnable here, never faked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRunner } from '../../../../exec/run.js';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient } from '../../../../kube/client.js';
import { KubeError } from '../../../../kube/client.js';
import { httpProbe } from './nodeAgent.js';
import { podNetns } from '../machine.js';

export interface ApiPod {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: {
    hostNetwork?: boolean;
    containers: Array<{ name: string; image: string; args?: string[]; command?: string[]; ports?: Array<{ name?: string; containerPort: number }>; readinessProbe?: { httpGet?: { path?: string; port: number | string }; failureThreshold?: number } }>;
  };
  status?: { phase?: string };
}

export interface PodRuntimeOptions {
  readonly node: string;
  readonly nodeAddress: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  readonly codeRoot: string;
  readonly logs: string;
  readonly log: (line: string) => void;
}

interface RunningPod {
  readonly key: string;
  readonly netns: string;
  ip?: string;
  child?: ChildProcess;
  restarts: number;
  startedAt?: string;
  /** Its program and network are gone (the pod is being deleted). */
  stopped?: boolean;
  probeFailures?: number;
  wasReady?: boolean;
  /** Why it cannot run, when it cannot; a network failure is retried after `retryAt`. */
  blocked?: { reason: string; message: string; retryAt?: number };
  container: ApiPod['spec']['containers'][number];
}

/** The echo program's port, from agnhost netexec's arguments (--http-port, default 8080). */
export function netexecPort(c: ApiPod['spec']['containers'][number]): number | undefined {
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  if (!/\/agnhost(:|@|$)/.test(c.image) && !c.image.includes('agnhost')) return undefined;
  if (args[0] !== 'netexec') return undefined;
  const flag = args.find((a) => a.startsWith('--http-port='));
  return flag ? Number(flag.split('=')[1]) : 8080;
}

/** The first CNI network configuration list in the directory, as the kubelet picks it (lexical order). */
export function loadConflist(dir: string): { name: string; cniVersion: string; plugins: Array<Record<string, unknown>> } {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.conflist$/.test(f)).sort() : [];
  if (files.length === 0) throw new Error(`no CNI configuration in ${dir}`);
  return JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as { name: string; cniVersion: string; plugins: Array<Record<string, unknown>> };
}

export class PodRuntime {
  private readonly pods = new Map<string, RunningPod>();
  private readonly runner = createRunner();

  constructor(private readonly o: PodRuntimeOptions) {}

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
    const wanted = new Map<string, ApiPod>();
    for (const p of bound) {
      if (p.metadata.annotations?.['kubernetes.io/config.mirror'] || p.spec.hostNetwork) continue;
      wanted.set(`${p.metadata.namespace}/${p.metadata.name}/${p.metadata.uid}`, p);
    }
    // Stop what is no longer wanted, or is being deleted.
    for (const [key, r] of this.pods) {
      const p = wanted.get(key);
      if (!p || p.metadata.deletionTimestamp) {
        if (!r.stopped) {
          await this.stop(r, p ?? keyPod(key));
          r.stopped = true;
        }
        if (p) {
          // The kubelet confirms the deletion once the pod is stopped; until the API answers, it is retried next time.
          await client
            .delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid }, missingOk: true })
            .catch((e: unknown) => (e instanceof KubeError && e.status === 409 ? undefined : Promise.reject(e)));
          this.o.log(`pod ${key}: stopped and deleted`);
        }
        this.pods.delete(key);
      }
    }
    for (const [key, p] of wanted) {
      if (p.metadata.deletionTimestamp) {
        // Not running here (stopped above, or never started by this kubelet, e.g. after a restart):
        // confirm the deletion until the API lets the pod go (a 409 is answered next round).
        if (!this.pods.has(key)) {
          await client
            .delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid }, missingOk: true })
            .catch((e: unknown) => (e instanceof KubeError && e.status === 409 ? undefined : Promise.reject(e)));
        }
        continue;
      }
      let r = this.pods.get(key);
      if (!r) {
        r = { key, netns: podNetns(p.metadata.uid), restarts: 0, container: p.spec.containers[0]! };
        this.pods.set(key, r);
        await this.start(r, p);
      } else if (r.blocked?.retryAt !== undefined && Date.now() >= r.blocked.retryAt) {
        await this.run('ip', ['netns', 'del', r.netns]);
        r.blocked = undefined;
        await this.start(r, p);
      } else if (!r.child && !r.blocked) {
        r.restarts++;
        this.spawnProgram(r, p);
      }
      await this.report(client, r, p);
    }
  }

  private async start(r: RunningPod, p: ApiPod): Promise<void> {
    if (p.spec.containers.length !== 1 || netexecPort(r.container) === undefined) {
      r.blocked = {
        reason: 'NotRunnableInLab',
        message: `the lab kubelet runs one container of agnhost netexec; ${p.spec.containers.map((c) => `${c.image} ${[...(c.command ?? []), ...(c.args ?? [])].join(' ')}`).join(', ')} is not that`,
      };
      this.o.log(`pod ${r.key}: ${r.blocked.message}`);
      return;
    }
    try {
      await this.run('ip', ['netns', 'add', r.netns]);
      await this.run('ip', ['netns', 'exec', r.netns, 'ip', 'link', 'set', 'lo', 'up']);
      // Each start is a new sandbox: what a former one of this pod left (its address, when the kubelet
      // or the whole machine restarted) is released first, as the kubelet's StopPodSandbox does.
      await this.cni('DEL', p, r.netns);
      r.ip = await this.cni('ADD', p, r.netns);
      this.o.log(`pod ${r.key}: network namespace ${r.netns}, ${r.ip}`);
      this.spawnProgram(r, p);
    } catch (e) {
      r.blocked = { reason: 'NetworkSetupFailed', message: (e as Error).message, retryAt: Date.now() + 10_000 };
      this.o.log(`pod ${r.key}: ${r.blocked.message}`);
    }
  }

  private spawnProgram(r: RunningPod, p: ApiPod): void {
    const port = netexecPort(r.container)!;
    const out = openSync(join(this.o.logs, `${this.o.node}.${p.metadata.namespace}.${p.metadata.name}.log`), 'a');
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${r.netns}`, '--', process.execPath, '--import', 'tsx', join(this.o.codeRoot, 'lib/platforms/lab/programs/echo.ts'), '--port', String(port), '--pod', p.metadata.name, '--node', this.o.node],
      { cwd: this.o.codeRoot, stdio: ['ignore', out, out] },
    );
    r.child = child;
    r.startedAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    child.on('exit', () => {
      if (r.child === child) r.child = undefined;
    });
  }

  private async stop(r: RunningPod, p: ApiPod): Promise<void> {
    r.child?.kill('SIGTERM');
    r.child = undefined;
    if (r.ip !== undefined || !r.blocked) await this.cni('DEL', p, r.netns).catch(() => undefined);
    await this.run('ip', ['netns', 'del', r.netns]);
  }

  /** Stops every pod's program (the kubelet is stopping); namespaces go with the machine. */
  async stopAll(): Promise<void> {
    for (const r of this.pods.values()) r.child?.kill('SIGTERM');
  }

  private async report(client: KubeClient, r: RunningPod, p: ApiPod): Promise<void> {
    const t = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
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
    const transition = ready !== r.wasReady;
    r.wasReady = ready;
    if (transition) this.o.log(`pod ${r.key}: ${ready ? 'Ready' : 'not Ready'}`);
    const cond = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: t });
    const state = r.blocked
      ? { waiting: { reason: r.blocked.reason, message: r.blocked.message } }
      : running
        ? { running: { startedAt: r.startedAt } }
        : { waiting: { reason: 'ContainerCreating' } };
    await client.mergePatch(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`, {
      status: {
        phase: r.blocked ? 'Pending' : 'Running',
        hostIP: this.o.nodeAddress,
        hostIPs: [{ ip: this.o.nodeAddress }],
        ...(r.ip ? { podIP: r.ip, podIPs: [{ ip: r.ip }] } : {}),
        startTime: r.startedAt ?? t,
        conditions: [cond('PodScheduled', true), cond('Initialized', true), cond('ContainersReady', ready), cond('Ready', ready)],
        containerStatuses: [
          {
            name: r.container.name,
            image: r.container.image,
            imageID: '',
            ...(running && r.child?.pid ? { containerID: `native6-process://${r.child.pid}` } : {}),
            ready,
            started: running,
            restartCount: r.restarts,
            state,
          },
        ],
      },
    });
  }
}

function keyPod(key: string): ApiPod {
  const [namespace, name, uid] = key.split('/') as [string, string, string];
  return { metadata: { namespace, name, uid }, spec: { containers: [] } };
}
