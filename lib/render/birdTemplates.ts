/**
 * BFD on the nodes' BGP sessions (issue #17): Calico's BIRD templates
 * (v3.28, BIRD 1.6) configure no BFD, and calico-node has no setting for it
 * (projectcalico/calico#4607). The product extends the pinned version's own
 * templates rather than forking them: bird6.cfg.template gains a `protocol
 * bfd` before the template every BGP peer is made from, and `bfd on` in that
 * template; every other line, and every other template, stays byte for byte
 * the pinned one. The result is what calico-node would mount over its
 * templates folder on a real cluster (a ConfigMap), and what the lab's confd
 * reads.
 *
 * The nodes' BGP sessions with their routers are multihop in Calico's
 * templates (`multihop;` for every node-specific peer), so their BFD
 * sessions are multihop too (port 4784); BIRD 1.6 requires a source address
 * for those, which Calico sets for a BGPPeer with `sourceAddress:
 * UseNodeIP` (ours, lib/render/calico.ts). A router that runs no BFD leaves
 * its BFD session down, which BIRD only acts on once it has been up: its
 * BGP session is not held down by it.
 *
 * Pure: given the pinned templates' text (read by the caller from setup's
 * cache), it returns the extended ones, or throws naming the anchor it did
 * not find (another Calico version: look at the templates again).
 */
import type { Manifest } from './yaml.js';

/** BFD on the nodes' side: the interval both ends transmit and expect at, and how many missed packets declare the peer down. */
export interface NodeBfd {
  readonly intervalMs: number;
  readonly multiplier: number;
}

/** The template the extension changes; the others are carried unchanged. */
export const BIRD6_TEMPLATE = 'bird6.cfg.template';
/** The ConfigMap calico-node's templates folder is mounted from. */
export const BIRD_TEMPLATES_CONFIGMAP = 'native6-bird-templates';
export const BIRD_TEMPLATES_NAMESPACE = 'kube-system';
/** Every line the extension adds ends with it, so that a diff against the pinned template shows them and nothing else. */
export const MARK = '# native6: BFD';

/** The line the BFD protocol goes before, and the template's line `bfd on` goes after. */
const BEFORE = '# Template for all BGP clients\n';
const TEMPLATE_OPEN = 'template bgp bgp_template {\n';

function once(text: string, anchor: string): number {
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0) {
    throw new Error(`${BIRD6_TEMPLATE}: the line "${anchor.trimEnd()}" is ${at < 0 ? 'not there' : 'there more than once'}: the pinned Calico's templates changed; extend them again (lib/render/birdTemplates.ts)`);
  }
  return at;
}

/** The pinned bird6.cfg.template with BFD added (protocol bfd, and `bfd on` for every BGP peer). */
export function withBfd(original: string, bfd: NodeBfd): string {
  if (!Number.isInteger(bfd.intervalMs) || bfd.intervalMs < 10 || !Number.isInteger(bfd.multiplier) || bfd.multiplier < 2 || bfd.multiplier > 255) {
    throw new Error(`BFD ${bfd.intervalMs} ms × ${bfd.multiplier}: the interval must be a whole number of at least 10 ms, the multiplier 2 to 255`);
  }
  const options = `interval ${bfd.intervalMs} ms; multiplier ${bfd.multiplier};`;
  const protocol = [
    `protocol bfd { ${MARK}: the routers' sessions, a dead peer found in ${bfd.intervalMs * bfd.multiplier} ms`,
    `  interface "*" { ${options} }; ${MARK}`,
    `  multihop { ${options} }; ${MARK}`,
    `} ${MARK}`,
    '',
  ].join('\n');
  const at = once(original, BEFORE);
  const open = once(original, TEMPLATE_OPEN);
  if (open !== at + BEFORE.length) throw new Error(`${BIRD6_TEMPLATE}: "${TEMPLATE_OPEN.trimEnd()}" does not follow "${BEFORE.trimEnd()}": the pinned Calico's templates changed; extend them again (lib/render/birdTemplates.ts)`);
  const afterOpen = open + TEMPLATE_OPEN.length;
  return `${original.slice(0, at)}${protocol}${original.slice(at, afterOpen)}  bfd on; ${MARK}\n${original.slice(afterOpen)}`;
}

/**
 * Every template of the pinned folder, bird6.cfg.template extended, as the
 * ConfigMap calico-node mounts over /etc/calico/confd/templates (a mount
 * replaces the folder: every template is in it). Keys in name order.
 */
export function birdTemplatesConfigMap(pinned: Readonly<Record<string, string>>, bfd: NodeBfd): Manifest {
  if (pinned[BIRD6_TEMPLATE] === undefined) throw new Error(`the pinned templates lack ${BIRD6_TEMPLATE}`);
  const data: Record<string, string> = {};
  for (const name of Object.keys(pinned).sort()) data[name] = name === BIRD6_TEMPLATE ? withBfd(pinned[name]!, bfd) : pinned[name]!;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: BIRD_TEMPLATES_CONFIGMAP, namespace: BIRD_TEMPLATES_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'native6' } },
    data,
  };
}
