/** The Pulumi program run under Pulumi's mocks, as the unit tests of the Equinix Metal program do (one stack per process). */
import * as pulumi from '@pulumi/pulumi';
import { clusterProgram } from '../lib/pulumi/program.js';

/** The value of an Output, once resolved. */
export const valueOf = <T>(o: unknown) => new Promise<T>((resolve) => (o as pulumi.Output<T>).apply((v) => resolve(v)));

/** Runs the cluster program for infra/dfw.yaml of `root` under `mocks` (project native6, stack dfw), and lets every apply of its facts and kubeconfig run. */
export async function runDfwProgram(root: string, mocks: pulumi.runtime.Mocks): Promise<Record<string, pulumi.Output<unknown>>> {
  await pulumi.runtime.setMocks(mocks, 'native6', 'dfw', false);
  const outputs = (await clusterProgram({ repoRoot: root, specFile: 'infra/dfw.yaml' })()) as Record<string, pulumi.Output<unknown>>;
  await valueOf(outputs.facts);
  await valueOf(outputs.kubeconfig);
  return outputs;
}
