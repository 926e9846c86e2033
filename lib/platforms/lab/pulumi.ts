/**
 * The lab platform as a Pulumi resource, so that plan and apply run the same
 * program and engine for both platforms: `pulumi up` on a lab stack brings
 * the lab up (the phases of `npm run lab`), a changed machine list brings
 * it up again (the phases are idempotent and add what is new), and destroy
 * removes every namespace and process it made.
 *
 * A Pulumi dynamic resource: its provider runs in Pulumi's provider process
 * and loads the lab code from the repository (NATIVE6_ROOT, which the
 * Automation API sets; the CLI's working directory infra/ otherwise); it
 * captures no closure over our modules.
 */
import * as pulumi from '@pulumi/pulumi';
import type { Device } from '../../cluster/devices.js';

export interface LabClusterInputs {
  readonly cluster: string;
  /** The spec file, relative to the repository root (infra/<name>.yaml). */
  readonly specFile: string;
  /** The machines of the plan: a change here is an update of the lab. */
  readonly machines: readonly string[];
  /** The address plan's ranges, name=prefix: a change cannot be applied in place. */
  readonly ranges: readonly string[];
}

export interface LabClusterOutputs extends LabClusterInputs {
  readonly devices: Device[];
  readonly kubeconfig: string;
}

interface LabOps {
  labStackUp(repoRoot: string, specFile: string): Promise<{ devices: Device[]; kubeconfig: string }>;
  labStackDown(repoRoot: string, cluster: string): Promise<void>;
}

/** Serialized with the provider (Pulumi captures it): only dynamic imports inside. */
const loadOps = async (): Promise<{ ops: LabOps; root: string }> => {
  const path = await import('node:path');
  const url = await import('node:url');
  const root = process.env.NATIVE6_ROOT ?? path.resolve(process.cwd(), '..');
  return { ops: (await import(url.pathToFileURL(path.join(root, 'lib', 'platforms', 'lab', 'programs', 'labStack.ts')).href)) as LabOps, root };
};

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: LabClusterInputs) {
    const { ops, root } = await loadOps();
    const out = await ops.labStackUp(root, inputs.specFile);
    return { id: `lab-${inputs.cluster}`, outs: { ...inputs, ...out } };
  },
  async diff(_id: string, olds: LabClusterOutputs, news: LabClusterInputs) {
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    const replaces = [...(olds.cluster !== news.cluster ? ['cluster'] : []), ...(!same(olds.ranges, news.ranges) ? ['ranges'] : [])];
    const changes = replaces.length > 0 || olds.specFile !== news.specFile || !same(olds.machines, news.machines);
    return { changes, replaces, deleteBeforeReplace: true };
  },
  async update(_id: string, olds: LabClusterOutputs, news: LabClusterInputs) {
    const { ops, root } = await loadOps();
    const removed = olds.machines.filter((m) => !news.machines.includes(m));
    if (removed.length > 0) {
      throw new Error(`the lab cannot remove machines in place (${removed.join(', ')}): tear the lab stack down and apply again`);
    }
    const out = await ops.labStackUp(root, news.specFile);
    return { outs: { ...news, ...out } };
  },
  async delete(_id: string, olds: LabClusterOutputs) {
    const { ops, root } = await loadOps();
    await ops.labStackDown(root, olds.cluster);
  },
};

export class LabCluster extends pulumi.dynamic.Resource {
  declare readonly devices: pulumi.Output<Device[]>;
  declare readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: LabClusterInputs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, devices: undefined, kubeconfig: undefined }, { ...opts, additionalSecretOutputs: ['kubeconfig'] }, 'native6-lab');
  }
}
