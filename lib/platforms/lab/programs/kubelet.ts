/**
 * The lab machine's process kubelet (started by `npm run lab` inside a
 * machine's network and mount namespaces): it runs the static pods and the
 * lab's processes (lib/platforms/lab/supervisor.ts) and, once the machine
 * has a kubelet kubeconfig, registers the Node, keeps its Lease and
 * publishes the mirror pods (lib/platforms/lab/kubelet/nodeAgent.ts).
 *
 *   kubelet.ts --machine NAME --address IPV6 --version vX.Y.Z --bin DIR --logs DIR --status FILE
 *              [--manifests /etc/kubernetes/manifests] [--processes FILE]
 *              [--kubeconfig /etc/kubernetes/kubelet.conf] [--labels k=v,...]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { kubeClient, type KubeClient } from '../../../kube/client.js';
import { heartbeatTiming, NodeAgent, type HeartbeatTiming, type StaticPod } from '../machine/kubelet/nodeAgent.js';
import { PodRuntime, type ApiPod } from '../machine/kubelet/pods.js';
import { tlsBootstrap } from '../machine/kubelet/bootstrap.js';
import { hashOf, processesOfManifest, Supervisor, type Child, type ProcessSpec } from '../machine/supervisor.js';

const { values } = parseArgs({
  options: {
    machine: { type: 'string' },
    bin: { type: 'string' },
    logs: { type: 'string' },
    status: { type: 'string' },
    manifests: { type: 'string', default: '/etc/kubernetes/manifests' },
    processes: { type: 'string' },
    address: { type: 'string' },
    version: { type: 'string' },
    kubeconfig: { type: 'string', default: '/etc/kubernetes/kubelet.conf' },
    labels: { type: 'string', default: '' },
    'cni-bin': { type: 'string' },
    'cni-conf': { type: 'string', default: '/etc/cni/net.d' },
    'code-root': { type: 'string', default: process.cwd() },
  },
});
const { machine, bin, logs, status } = values;
if (!machine || !bin || !logs || !status || !values.address || !values.version) {
  console.error('kubelet: --machine, --address, --version, --bin, --logs and --status are required');
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${machine}: ${line}\n`);

const supervisor = new Supervisor({
  now: () => Date.now(),
  log,
  spawn(spec: ProcessSpec): Child {
    const out = openSync(join(logs, `${machine}.${spec.id.replace(/\//g, '.')}.log`), 'a');
    const child = spawn(spec.argv[0]!, spec.argv.slice(1), { env: { ...process.env, ...spec.env }, stdio: ['ignore', out, out] });
    child.on('error', (e) => log(`${spec.id}: ${e.message}`));
    return {
      pid: child.pid ?? -1,
      kill: (signal) => {
        child.kill(signal);
      },
      onExit: (listener) => {
        child.on('exit', listener);
      },
    };
  },
});

let lastErrors = '';
let manifests: Array<{ name: string; text: string }> = [];
function wanted(): ProcessSpec[] {
  const out: ProcessSpec[] = [];
  const errors: string[] = [];
  const texts: Array<{ name: string; text: string }> = [];
  if (existsSync(values.manifests!)) {
    for (const f of readdirSync(values.manifests!).filter((f) => /\.ya?ml$/.test(f)).sort()) {
      try {
        const text = readFileSync(join(values.manifests!, f), 'utf8');
        out.push(...processesOfManifest(text, bin!));
        texts.push({ name: f, text });
      } catch (e) {
        errors.push(`${f}: ${(e as Error).message}`);
      }
    }
  }
  if (values.processes && existsSync(values.processes)) {
    const list = JSON.parse(readFileSync(values.processes, 'utf8')) as { processes: Array<{ id: string; argv: string[]; env?: Record<string, string> }> };
    for (const p of list.processes) {
      const argv = [p.argv[0]!.includes('/') ? p.argv[0]! : join(bin!, p.argv[0]!), ...p.argv.slice(1)];
      out.push({ id: p.id, argv, env: p.env ?? {}, hash: hashOf(argv, p.env ?? {}) });
    }
  }
  manifests = texts;
  const text = errors.join('; ');
  if (text && text !== lastErrors) log(`cannot run: ${text}`);
  lastErrors = text;
  return out;
}

let lastTick = 0;
function tick(): void {
  lastTick = Date.now();
  supervisor.reconcile(wanted());
  writeFileSync(status!, `${JSON.stringify({ machine, pid: process.pid, at: new Date().toISOString(), processes: supervisor.status() }, null, 2)}\n`);
}

// The API side: once the machine has its kubelet credentials.
let agent: NodeAgent | undefined;
let client: KubeClient | undefined;
const pods = values['cni-bin']
  ? new PodRuntime({ node: machine, nodeAddress: values.address, cniBinDir: values['cni-bin'], cniConfDir: values['cni-conf']!, codeRoot: values['code-root']!, binDir: bin, logs, log })
  : undefined;
let podsBusy = false;
async function podsTick(): Promise<void> {
  if (!pods || !client || podsBusy || stopping) return;
  podsBusy = true;
  try {
    const list = await client.get<{ items: ApiPod[] }>(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${machine}`)}`);
    await pods.sync(client, list.items);
  } catch (e) {
    log(`pods: ${(e as Error).message}`);
  } finally {
    podsBusy = false;
  }
}
/** The heartbeat's timing from the kubelet's configuration as kubeadm wrote it (the defaults before it exists, or when it cannot be read). */
const KUBELET_CONFIG = '/var/lib/kubelet/config.yaml';
let lastTimingError = '';
function timing(): HeartbeatTiming {
  try {
    return heartbeatTiming(existsSync(KUBELET_CONFIG) ? ((parse(readFileSync(KUBELET_CONFIG, 'utf8')) ?? {}) as Record<string, unknown>) : {});
  } catch (e) {
    if ((e as Error).message !== lastTimingError) log(`${KUBELET_CONFIG}: ${(lastTimingError = (e as Error).message)}; the defaults hold`);
    return heartbeatTiming({});
  }
}
let agentBusy = false;
/** Set by SIGHUP: the next look starts from the kubeconfig again. */
let reload = false;
async function agentTick(): Promise<void> {
  if (agentBusy || stopping) return;
  agentBusy = true;
  try {
    if (reload) {
      reload = false;
      client = undefined;
      agent = undefined;
    }
    if (!agent) {
      if (!existsSync(values.kubeconfig!)) {
        // kubeadm join wrote a bootstrap kubeconfig: get our own credentials, as the kubelet does.
        const bootstrap = '/etc/kubernetes/bootstrap-kubelet.conf';
        if (!existsSync(bootstrap)) return;
        const kubeconfig = await tlsBootstrap(machine!, readFileSync(bootstrap, 'utf8'), log);
        writeFileSync(values.kubeconfig!, kubeconfig, { mode: 0o600 });
      }
      const labels = Object.fromEntries(values.labels!.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
      client ??= kubeClient(readFileSync(values.kubeconfig!, 'utf8'));
      // Kept only once registered: a register that failed (the API not up yet) is tried again next tick.
      // The kubelet's heartbeat client times out at the shorter of its status period and its Lease's duration.
      const t = timing();
      const beats = kubeClient(readFileSync(values.kubeconfig!, 'utf8'), { timeoutMs: Math.min(t.intervalMs, t.leaseDurationSeconds * 1000) });
      const registering = new NodeAgent(client, { name: machine!, address: values.address!, kubeletVersion: values.version!, labels }, log, beats);
      await registering.register();
      agent = registering;
    }
    agent.timing = timing();
    await agent.heartbeat();
    const status = supervisor.status();
    const pods: StaticPod[] = manifests.map((m) => {
      const podName = (parse(m.text) as { metadata?: { name?: string } }).metadata?.name ?? m.name;
      return {
        manifest: m.text,
        hash: createHash('sha256').update(m.text).digest('hex').slice(0, 32),
        containers: status.filter((p) => p.id.startsWith(`${podName}/`)).map((p) => ({ name: p.id.slice(podName.length + 1), restarts: p.restarts, ...(p.pid !== undefined ? { pid: p.pid } : {}), ...(p.startedAt ? { startedAt: p.startedAt } : {}) })),
      };
    });
    await agent.syncMirrorPods(pods);
  } catch (e) {
    log(`api: ${(e as Error).message}`);
  } finally {
    agentBusy = false;
  }
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  clearTimeout(agentTimer);
  clearInterval(podsTimer);
  void pods?.stopAll();
  const pids = supervisor.stopAll('SIGTERM');
  log(`stopping ${pids.length} process(es)`);
  setTimeout(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    process.exit(0);
  }, 3000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// systemctl start/restart kubelet on the machine (the lab's shim, programs/sbin/systemctl): read the
// kubeconfig again, as a restarted kubelet does, and keep the static pods running.
process.on('SIGHUP', () => {
  log('SIGHUP: reading the kubeconfig again');
  reload = true;
  void agentTick();
});
// Where the machine's systemctl shim finds this kubelet (the machine's own /run).
mkdirSync('/run/native6-lab', { recursive: true });
writeFileSync('/run/native6-lab/kubelet.pid', `${process.pid}\n`);

const timer = setInterval(tick, 1000);
tick();
// The heartbeat (Node status, Lease, mirror pods) at the period the kubelet's configuration gives.
let agentTimer: NodeJS.Timeout | undefined;
const agentLoop = (): void => {
  if (stopping) return;
  agentTimer = setTimeout(() => void agentTick().finally(agentLoop), agent?.timing.intervalMs ?? 5000);
};
agentLoop();
const podsTimer = setInterval(() => void podsTick(), 2000);
void agentTick();
// The kubelet's health endpoint, where kubeadm's wait-control-plane asks (healthzBindAddress ::1,
// healthzPort 10248 of the rendered KubeletConfiguration): ok while this kubelet runs its loop.
const healthz = createServer((req, res) => {
  const fresh = Date.now() - lastTick < 10_000;
  res.writeHead(req.url === '/healthz' && fresh ? 200 : req.url === '/healthz' ? 500 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? (fresh ? 'ok' : 'the supervision loop has not run for 10 s') : 'not found');
});
healthz.on('error', (e) => log(`healthz on [::1]:10248: ${e.message}`));
healthz.listen(10248, '::1');
healthz.unref();
log(`kubelet for ${machine} (${values.address}): supervising ${values.manifests}${values.processes ? ` and ${values.processes}` : ''}`);
