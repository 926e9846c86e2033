/**
 * One of the user's own machines, bootstrapped over SSH: a Pulumi dynamic
 * resource whose create checks the machine's host key against the spec's
 * fingerprint, installs the bootstrap's files and runs its start commands
 * (the boot unit started with --no-block: create does not wait for the
 * join); whose update installs and starts again when the files or the start
 * commands changed (the boot unit is idempotent: its stamp), and otherwise
 * only checks the host key at the new access; and whose delete
 * deregisters the machine on a control plane (when given; failures there
 * are reported, not fatal), then resets it. A second apply with the same
 * inputs touches nothing (ssh.ts machineDiff). docs/metal-ssh.md.
 *
 * Secrets: the private key (Pulumi config native6:sshPrivateKey) and the
 * files are secret inputs, encrypted in the state; the outputs hold a
 * digest of files and start commands, never their content, and the key
 * (secret: delete needs it).
 *
 * The provider runs in Pulumi's provider process and loads the transport
 * from the repository (NATIVE6_ROOT, which the Automation API sets; the
 * CLI's working directory infra/ otherwise): it captures no closure over
 * our modules.
 */
import * as pulumi from '@pulumi/pulumi';
import type { SshAccess } from '../../cluster/inventory.js';
import type { Command, Deregister, MachineDiff, MachineFile, MachineInputs, MachineOutputs } from './ssh.js';
import type { DeleteReport, SessionOptions } from './session.js';

export type { Command, Deregister, MachineFile } from './ssh.js';

export interface MetalMachineArgs {
  /** The machine's name (spec.machines[i].name): another name is another machine (replaced). */
  readonly machine: pulumi.Input<string>;
  /** How it is reached, its host key pinned by fingerprint (spec.machines[i].ssh). */
  readonly ssh: pulumi.Input<SshAccess>;
  /** The operator's private key (OpenSSH or PEM), from the secret config native6:sshPrivateKey. Made secret here. */
  readonly privateKey: pulumi.Input<string>;
  /** The bootstrap's files (lib/render/bootstrap.ts Bootstrap.files). Made secret here. */
  readonly files: pulumi.Input<readonly MachineFile[]>;
  /** Run as root once the files are in place (Bootstrap.start). */
  readonly start: pulumi.Input<readonly Command[]>;
  /** Run as root on delete (ssh.ts defaultReset). */
  readonly reset: pulumi.Input<readonly Command[]>;
  /** Run on a control plane before the reset (ssh.ts defaultDeregister): kubectl drain, delete node. */
  readonly deregister?: pulumi.Input<Deregister>;
}

interface MachineOps {
  createMachine(inputs: MachineInputs, options?: SessionOptions): Promise<MachineOutputs>;
  updateMachine(olds: MachineOutputs, inputs: MachineInputs, options?: SessionOptions): Promise<MachineOutputs>;
  deleteMachine(olds: MachineOutputs, options?: SessionOptions): Promise<DeleteReport>;
  machineDiff(olds: MachineOutputs, news: MachineInputs): MachineDiff;
}

/** Serialized with the provider (Pulumi captures it): only dynamic imports inside. */
const loadOps = async (): Promise<MachineOps> => {
  const path = await import('node:path');
  const url = await import('node:url');
  const root = process.env.NATIVE6_ROOT ?? path.resolve(process.cwd(), '..');
  const at = (file: string) => url.pathToFileURL(path.join(root, 'lib', 'platforms', 'metal', file)).href;
  const session = (await import(at('session.ts'))) as Pick<MachineOps, 'createMachine' | 'updateMachine' | 'deleteMachine'>;
  const ssh = (await import(at('ssh.ts'))) as Pick<MachineOps, 'machineDiff'>;
  return { ...session, ...ssh };
};

/** The provider's log lines (already masked by the session) go to its stderr, which the engine shows. */
const providerOptions = (): SessionOptions => ({ log: (line: string) => console.error(`native6-metal: ${line}`) });

export const metalMachineProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: MachineInputs) {
    const ops = await loadOps();
    const outs = await ops.createMachine(inputs, providerOptions());
    return { id: `metal-${inputs.machine}`, outs };
  },
  async diff(_id: string, olds: MachineOutputs, news: MachineInputs) {
    const ops = await loadOps();
    const d = ops.machineDiff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },
  async update(_id: string, olds: MachineOutputs, news: MachineInputs) {
    const ops = await loadOps();
    return { outs: await ops.updateMachine(olds, news, providerOptions()) };
  },
  async delete(_id: string, olds: MachineOutputs) {
    const ops = await loadOps();
    await ops.deleteMachine(olds, providerOptions());
  },
};

export class MetalMachine extends pulumi.dynamic.Resource {
  declare readonly machine: pulumi.Output<string>;
  declare readonly ssh: pulumi.Output<SshAccess>;
  /** sha256:<hex> of the files and start commands installed. */
  declare readonly digest: pulumi.Output<string>;
  /** The host key the machine held: `<type> SHA256:<...>`. */
  declare readonly hostKeySeen: pulumi.Output<string>;

  constructor(name: string, args: MetalMachineArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      metalMachineProvider,
      name,
      {
        machine: args.machine,
        ssh: args.ssh,
        privateKey: pulumi.secret(args.privateKey),
        files: pulumi.secret(args.files),
        start: args.start,
        reset: args.reset,
        deregister: args.deregister,
        digest: undefined,
        hostKeySeen: undefined,
      },
      { ...opts, additionalSecretOutputs: ['privateKey', 'files'] },
      'native6-metal',
      'Machine',
    );
  }
}
