/** The native6 policy pack: the policies of lib/pulumi/policies.ts. */
import { PolicyPack } from '@pulumi/policy';
import { POLICIES } from '../../lib/pulumi/policies.js';

new PolicyPack('native6', { policies: [...POLICIES] });
