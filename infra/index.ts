/**
 * The Pulumi CLI's entry point (infra/Pulumi.yaml): the cluster of
 * infra/<stack>.yaml. The program itself is lib/pulumi/program.ts.
 */
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { clusterProgram } from '../lib/pulumi/program.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const specFile = new pulumi.Config('native6').get('spec') ?? `infra/${pulumi.getStack()}.yaml`;

export default clusterProgram({ repoRoot, specFile });
