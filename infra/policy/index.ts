/** The native6 policy pack: the policies of lib/infra/policies.ts. */
import { PolicyPack } from '@pulumi/policy';
import { POLICIES } from '../../lib/infra/policies.js';

new PolicyPack('native6', { policies: [...POLICIES] });
