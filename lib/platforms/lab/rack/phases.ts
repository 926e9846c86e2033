/**
 * A rack lab's bring-up (a `platform: metal` spec), in two halves with
 * apply between them, as on a user's own machines: first the machines as
 * their owner has them (the network, the routers with the cluster's
 * rendered configuration, each machine's disk, image and SSH server);
 * then apply bootstraps them over SSH (the metal platform, through the real
 * Pulumi CLI: the entry point runs it, lib/pulumi being above this layer);
 * then the rest of the lab's Kubernetes phases, which find each machine's
 * bootstrap started and wait for it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installImage, LAB_PATH, labBootOptions } from '../kubernetes/boot.js';
import { ensureMachineSshd } from '../machine/sshd.js';
import { machineDisk, startKubelet } from '../kubernetes/controlPlane.js';
import { NETWORK_PHASES, type LabContext, type Phase } from '../lab.js';
import { buildHostAccess } from '../provider/network.js';
import { ensureRouterDaemons } from '../provider/daemons.js';
import { INTERNET_SERVICES_PHASE } from '../provider/internet.js';
import { ensureBgpPasswords } from '../state.js';
import { buildRack, buildRackMachines, rackHostRoutes } from './network.js';
import { ensureRackRouter } from './routers.js';
import { upstreamConfig } from './routers.js';
import { rackRouters } from './topology.js';

/** The cluster's one BGP password (the metal platform's: one per cluster), kept in the lab's secrets under the cluster's name. */
export function rackBgpPassword(ctx: LabContext): string {
  return ensureBgpPasswords(ctx.paths, [ctx.cluster.spec.name]).get(ctx.cluster.spec.name)!;
}

/** The rack's wires and its routers. */
export const RACK_NETWORK_PHASES: readonly Phase[] = [
  NETWORK_PHASES[0]!,
  {
    name: 'rack network',
    async run(ctx) {
      await buildRack(ctx.runner, ctx.topology);
      await buildHostAccess(ctx.runner, ctx.topology);
      await rackHostRoutes(ctx.runner, ctx.topology);
      await buildRackMachines(ctx.runner, ctx.topology);
      const rack = ctx.topology.rack!;
      return `${rack.uplinks.length} uplink(s) (${rack.uplinks.map((u) => `${u.name} ${u.prefix}`).join(', ')}), ${ctx.topology.routers.length} routers, ${ctx.topology.machines.length} machines`;
    },
  },
  {
    name: 'routers',
    async run(ctx) {
      const t = ctx.topology;
      const up = await ensureRouterDaemons(ctx.runner, t.internet.ns, upstreamConfig(t), ctx.paths.router(t.internet.ns));
      const notes = [`upstream ${up.started.length ? 'started' : up.reloaded.length ? 'reloaded' : 'running'}`];
      const password = rackBgpPassword(ctx);
      for (const router of rackRouters(t)) {
        const res = await ensureRackRouter(ctx.runner, t, router, ctx.repoRoot, password, ctx.paths.router(router.ns));
        notes.push(`${router.name}: ${res.applied ? `clusters/${t.cluster}/routers/${router.name}.frr.conf applied` : 'running'}`);
      }
      return notes.join('; ');
    },
  },
  INTERNET_SERVICES_PHASE,
];

/**
 * The operator's SSH key (ed25519, made once, root-only in the lab's state):
 * its private half is what apply gets as native6:sshPrivateKey, its public
 * half what each machine's sshd authorizes.
 */
export function operatorKey(ctx: LabContext): { privateKey: string; publicKey: string; file: string } {
  const dir = rackStateDir(ctx);
  const file = join(dir, 'operator_ed25519');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(file)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `native6-lab-operator@${ctx.cluster.spec.name}`, '-f', file], { stdio: 'ignore' });
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), file };
}

/** The machines as their owner has them before apply: a disk and the image (resolv.conf), and an SSH server with its own host key. */
export const RACK_MACHINE_PHASES: readonly Phase[] = [
  {
    name: 'machine disks',
    async run(ctx) {
      for (const m of ctx.topology.machines) {
        await machineDisk(ctx, m);
        await installImage(ctx, m);
        startKubelet(ctx, m);
      }
      return `${ctx.topology.machines.length} machines: a disk, the image (kubeadm and kubectl as built by setup, the lab's kubelet running)`;
    },
  },
  {
    name: 'SSH servers',
    async run(ctx) {
      const key = operatorKey(ctx);
      const seen: string[] = [];
      for (const m of ctx.topology.machines) {
        const s = await ensureMachineSshd(ctx.runner, { ns: m.ns, name: m.machine.name }, { authorizedKeys: `${key.publicKey}\n`, path: LAB_PATH, logFile: join(ctx.paths.logs, `${m.machine.name}.sshd.log`) });
        seen.push(`${m.machine.name} ${s.fingerprint}${s.started ? ' (started)' : ''}`);
      }
      return seen.join('; ');
    },
  },
];

/** Each machine's host key fingerprint, as its sshd holds it (after RACK_MACHINE_PHASES). */
export async function rackHostKeys(ctx: LabContext): Promise<Map<string, string>> {
  const key = operatorKey(ctx);
  const out = new Map<string, string>();
  for (const m of ctx.topology.machines) {
    const s = await ensureMachineSshd(ctx.runner, { ns: m.ns, name: m.machine.name }, { authorizedKeys: `${key.publicKey}\n`, path: LAB_PATH, logFile: join(ctx.paths.logs, `${m.machine.name}.sshd.log`) });
    out.set(m.machine.name, s.fingerprint);
  }
  return out;
}

/**
 * What apply gets as native6:bootOptions (lib/platforms/metal/bootOptions.ts)
 * for the lab's machines: the lab's image (`packages: image`: kubeadm and
 * kubectl as setup built them, the lab's kubelet) and kubeadm without a
 * container runtime, as the lab's own machines boot (labBootOptions).
 */
export function rackBootOptions(ctx: LabContext): string {
  return JSON.stringify(Object.fromEntries(ctx.topology.machines.map((m) => [m.machine.name, labBootOptions(m)])));
}

/** Where a rack lab keeps what is not the machines' (the operator's key, the Pulumi state). */
export function rackStateDir(ctx: LabContext): string {
  return join(ctx.paths.root, 'rack');
}
