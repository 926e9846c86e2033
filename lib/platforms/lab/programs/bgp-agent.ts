/**
 * The lab's BGP agent on one machine (lib/platforms/lab/bgpAgent.ts): ours,
 * standing in for calico-node's startup, IPAM block claim and confd; started
 * by `npm run lab` inside the machine's network and mount namespaces.
 *
 *   bgp-agent.ts --node NAME --address IPV6 --prefix-length N --kubeconfig FILE
 *                --confd BIN --confdir DIR --sv-dir DIR [--namespace kube-system]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { kubeClient } from '../../../kube/client.js';
import { runAgent } from '../calicoNode/bgpAgent.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    address: { type: 'string' },
    'prefix-length': { type: 'string', default: '127' },
    kubeconfig: { type: 'string' },
    confd: { type: 'string' },
    confdir: { type: 'string' },
    'sv-dir': { type: 'string' },
    namespace: { type: 'string', default: 'kube-system' },
  },
});
const { node, address, kubeconfig, confd, confdir } = values;
const svDir = values['sv-dir'];
if (!node || !address || !kubeconfig || !confd || !confdir || !svDir) {
  console.error('bgp-agent: --node, --address, --kubeconfig, --confd, --confdir and --sv-dir are required');
  process.exit(2);
}
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${node}: ${line}\n`);
const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => controller.abort());
const client = kubeClient(readFileSync(kubeconfig, 'utf8'));
log('native6 BGP agent (substitute for calico-node startup, IPAM block claim and confd; README "Calico in the lab")');
runAgent(
  { node, address, prefixLength: Number(values['prefix-length']), client, confd, confdir, svDir, namespace: values.namespace!, log },
  controller.signal,
).then(
  () => process.exit(0),
  (e: unknown) => {
    log(`fatal: ${(e as Error).message}`);
    process.exit(1);
  },
);
