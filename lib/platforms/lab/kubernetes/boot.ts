/**
 * The lab's machines boot from the bootstrap a real machine runs
 * (lib/render/bootstrap.ts): the same files, the same boot script, the same
 * units, with discovery against the lab's metadata service (Equinix Metal's
 * shape) and kubeadm the pinned build. What the lab does in cloud-init's
 * place: it writes the files onto the machine's disk once (write_files) and
 * runs the start commands (runcmd) on the machine with the lab's programs
 * first on PATH (lib/platforms/lab/programs/sbin: systemctl runs the units,
 * the kernel-wide commands are kept to the machine's network namespace).
 *
 * What differs from a real machine, and why: the image carries the
 * programs (`packages: image`: kubeadm and kubectl as built by npm run
 * setup, the lab's kubelet, a containerd that only answers `config
 * default`), since the lab has no package mirror; kubeadm runs without a
 * container runtime (no preflight; control planes not tainted so a small
 * lab runs the demo; kubeadm's CoreDNS Deployment runs as pods of the
 * lab's kubelet, lib/platforms/lab/machine/kubelet/pods.ts); the BGP peers are reached by
 * the lab's own default route over both links (its stand-in for Equinix
 * Metal's bond) instead of a route per peer.
 */
import { LAB_NAT64_POOL } from '../provider/provider.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { caCertHash } from '../../../pki/x509.js';
import { BOOT_DONE, BOOT_SCRIPT, BOOT_STATUS, BOOT_UNIT, HANDOVER_STATUS, nodeBootstrap, type Bootstrap, type BootOptions } from '../../../render/bootstrap.js';
import { metadataDiscovery } from '../../../render/discovery.js';
import { kubeadmInit, type KubeadmOptions } from '../../../render/kubeadm.js';
import { CODE_ROOT } from '../codeRoot.js';
import type { LabContext } from '../lab.js';
import { diskPath, runOnMachine } from '../machine/machine.js';
import { ensureClusterSecrets } from '../state.js';
import type { MachineNode } from '../topology.js';

/** The lab's programs (systemctl, unit-run and the shims), first on a lab machine's PATH. */
export const LAB_SBIN = join(CODE_ROOT, 'lib/platforms/lab/programs/sbin');
export const LAB_PATH = `${LAB_SBIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/** No container runtime: kubeadm is pointed at a socket nothing serves, and leaves the shared kernel's conntrack alone. */
export const LAB_KUBEADM: KubeadmOptions = { criSocket: 'unix:///run/native6-lab/no-container-runtime.sock', sharedKernel: true };

/**
 * kubeadm init runs whole on the lab's first control plane, but for: preflight (it asks a container
 * runtime) and mark-control-plane (the lab's control planes are not tainted and take pods, so that a
 * small lab runs the demo); kubeadm join likewise.
 */
export function labBootOptions(m: MachineNode): BootOptions {
  const controlPlane = m.machine.role === 'control-plane';
  return {
    packages: 'image',
    // The lab's clock is a test's: the control planes renew the join token 10 s after boot, then every 30 s.
    joinTokenRenewal: { afterBoot: '10s', every: '30s' },
    // Documentation space, as every lab address (never seen outside a machine: masqueraded).
    nat64Pool: LAB_NAT64_POOL,
    kubeadm: {
      init: { ...LAB_KUBEADM, skipPhases: ['preflight', 'mark-control-plane'] },
      join: { ...LAB_KUBEADM, skipPhases: ['preflight', ...(controlPlane ? ['control-plane-join/mark-control-plane'] : [])] },
    },
  };
}

/** The machine's root folder on the host (its disk beside it). */
export function machineRoot(ctx: LabContext, m: MachineNode): string {
  return join(ctx.paths.machine(m.machine.name), 'root');
}

/** A file of the machine's disk, read from the host (undefined when absent). */
export function readDisk(ctx: LabContext, m: MachineNode, path: string): string | undefined {
  const file = diskPath(machineRoot(ctx, m), path);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** The machine's bootstrap, as its platform would render it, with the lab's discovery and options. */
export function labBootstrap(ctx: LabContext, m: MachineNode): Bootstrap {
  const s = ensureClusterSecrets(ctx.paths);
  const discovery = metadataDiscovery(`http://[${ctx.topology.internet.metadata}]/metadata`, { routePeers: false });
  const secrets = { bootstrapToken: s.bootstrapToken, certificateKey: s.certificateKey, caCertPem: s.caCertPem, caKeyPem: s.caKeyPem, caCertHash: caCertHash(s.caCertPem), secretsKey: s.secretsKey };
  return nodeBootstrap(ctx.cluster.spec, ctx.cluster.plan, m.machine, secrets, discovery, labBootOptions(m));
}

/** Writes files on the machine (its mount namespace), each with its mode; the content goes through stdin, never a command line. */
async function writeOnMachine(ctx: LabContext, m: MachineNode, files: readonly { path: string; mode: string; content: string }[]): Promise<void> {
  const script = [
    "const fs = require('node:fs'); const path = require('node:path');",
    "for (const f of JSON.parse(fs.readFileSync(0, 'utf8'))) {",
    '  fs.mkdirSync(path.dirname(f.path), { recursive: true });',
    '  fs.writeFileSync(f.path, f.content, { mode: parseInt(f.mode, 8) });',
    '  fs.chmodSync(f.path, parseInt(f.mode, 8));',
    '}',
  ].join('\n');
  await runOnMachine(ctx.runner, m.ns, process.execPath, ['-e', script], { input: JSON.stringify(files) });
}

/** The machine's image: kubeadm and kubectl (the pinned builds) in its /usr/local/bin; the lab's kubelet and containerd come on PATH. */
export async function installImage(ctx: LabContext, m: MachineNode): Promise<void> {
  for (const program of ['kubeadm', 'kubectl']) {
    await runOnMachine(ctx.runner, m.ns, 'sh', ['-c', `mkdir -p /usr/local/bin && ln -sfn "$1" /usr/local/bin/${program}`, 'sh', join(ctx.binDir, program)]);
  }
}

/**
 * Boots the machine from its bootstrap, as cloud-init would at its first
 * boot: the image, the files and the start commands, once (a machine whose
 * disk holds the boot script keeps it: its boot unit is only started again,
 * which does nothing once the boot is done or while it runs).
 */
export async function bootMachine(ctx: LabContext, m: MachineNode): Promise<'first boot' | 'started again' | 'done'> {
  if (readDisk(ctx, m, BOOT_DONE) !== undefined) return 'done';
  const env = { ...process.env, PATH: LAB_PATH };
  if (readDisk(ctx, m, BOOT_SCRIPT) !== undefined) {
    await runOnMachine(ctx.runner, m.ns, 'systemctl', ['start', '--no-block', BOOT_UNIT], { env });
    return 'started again';
  }
  // A rack lab's machines are bootstrapped by apply, over SSH (the metal platform): never by the lab.
  if (ctx.topology.rack) throw new Error(`${m.machine.name} has no bootstrap on its disk: apply bootstraps a rack lab's machines over SSH (the metal platform), run it first`);
  await installImage(ctx, m);
  const boot = labBootstrap(ctx, m);
  await writeOnMachine(ctx, m, boot.files);
  for (const [command, ...args] of boot.start) await runOnMachine(ctx.runner, m.ns, command!, args, { env, timeoutMs: 60_000 });
  return 'first boot';
}

/** Why a machine's boot is not done yet: its status and the end of its unit's log. */
export function bootState(ctx: LabContext, m: MachineNode): { done: boolean; status: string; log: string } {
  const status = (readDisk(ctx, m, BOOT_STATUS) ?? 'not started').trim();
  const log = (readDisk(ctx, m, `/var/log/native6-lab/${BOOT_UNIT}.log`) ?? '').split('\n').slice(-15).join('\n');
  return { done: readDisk(ctx, m, BOOT_DONE) !== undefined, status, log };
}

/** A control plane's API handover: `waiting: …`, `handed over`, or not started. */
export function handoverState(ctx: LabContext, m: MachineNode): string {
  return (readDisk(ctx, m, HANDOVER_STATUS) ?? 'not started').trim();
}

/** Where the lab keeps, on the first control plane, the cluster's kubeadm configuration without its secrets, for `kubeadm kubeconfig user`. */
export const KUBECONFIG_USER_CONFIG = '/etc/kubernetes/native6-lab-cluster.yaml';

/** The first control plane's kubeadm configuration, its token and certificate key left out (the bootstrap deletes its own copy). */
export function clusterConfigWithoutSecrets(ctx: LabContext, cp1: MachineNode): string {
  const text = kubeadmInit(ctx.cluster.spec, ctx.cluster.plan, { name: cp1.machine.name, address: cp1.address }, ensureClusterSecrets(ctx.paths), labBootOptions(cp1).kubeadm!.init);
  return parseAllDocuments(text)
    .map((doc) => {
      doc.delete('bootstrapTokens');
      doc.delete('certificateKey');
      return doc.toString();
    })
    .join('---\n');
}
