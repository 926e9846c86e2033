/**
 * BFD and the hold time on the nodes' BGP sessions (issue #17): Calico's BIRD
 * templates (v3.28, BIRD 1.6) configure no BFD and no timers (BIRD's hold
 * time, 240 s, is offered), and calico-node has no setting for either
 * (projectcalico/calico#4607). The product extends the pinned version's own
 * templates rather than forking them: bird6.cfg.template gains a `protocol
 * bfd` before the template every BGP peer is made from, and `bfd on` and
 * `hold time` in that template (lib/cluster/sessions.ts says which); every
 * other line, and every other template, stays byte for byte the pinned one. The result is what calico-node would mount over its
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
import type { NodeSessions } from '../cluster/sessions.js';
import { CALICO_NAMESPACE } from './calico.js';
import type { Manifest } from './yaml.js';

/** The template the extension changes; the others are carried unchanged. */
export const BIRD6_TEMPLATE = 'bird6.cfg.template';
/** The ConfigMap calico-node's templates folder is mounted from. */
export const BIRD_TEMPLATES_CONFIGMAP = 'native6-bird-templates';
/** calico-node's own namespace: a pod mounts ConfigMaps of its namespace only. */
export const BIRD_TEMPLATES_NAMESPACE = CALICO_NAMESPACE;
/** Where calico-node's confd reads its templates (the ConfigMap is mounted there). */
export const CONFD_TEMPLATES_DIR = '/etc/calico/confd/templates';
/** Every line the extension adds ends with it, so that a diff against the pinned template shows them and nothing else. */
export const MARK = '# native6';

/** The line the BFD protocol goes before, and the template's lines go after. */
const BEFORE = '# Template for all BGP clients\n';
const TEMPLATE_OPEN = 'template bgp bgp_template {\n';

function once(text: string, anchor: string): number {
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0) {
    throw new Error(`${BIRD6_TEMPLATE}: the line "${anchor.trimEnd()}" is ${at < 0 ? 'not there' : 'there more than once'}: the pinned Calico's templates changed; extend them again (lib/render/birdTemplates.ts)`);
  }
  return at;
}

/** The pinned bird6.cfg.template with the nodes' session settings added (protocol bfd, and `bfd on` and `hold time` for every BGP peer). */
export function withSessions(original: string, sessions: NodeSessions): string {
  const { bfd, holdTime } = sessions;
  if (bfd && (!Number.isInteger(bfd.intervalMs) || bfd.intervalMs < 10 || !Number.isInteger(bfd.multiplier) || bfd.multiplier < 2 || bfd.multiplier > 255)) {
    throw new Error(`BFD ${bfd.intervalMs} ms × ${bfd.multiplier}: the interval must be a whole number of at least 10 ms, the multiplier 2 to 255`);
  }
  if (holdTime !== undefined && (!Number.isInteger(holdTime) || holdTime < 3 || holdTime > 65535)) {
    throw new Error(`a hold time of ${holdTime} s: BIRD takes 3 to 65535 s`);
  }
  const at = once(original, BEFORE);
  const open = once(original, TEMPLATE_OPEN);
  if (open !== at + BEFORE.length) throw new Error(`${BIRD6_TEMPLATE}: "${TEMPLATE_OPEN.trimEnd()}" does not follow "${BEFORE.trimEnd()}": the pinned Calico's templates changed; extend them again (lib/render/birdTemplates.ts)`);
  const options = bfd && `interval ${bfd.intervalMs} ms; multiplier ${bfd.multiplier};`;
  const protocol = bfd
    ? [
        `protocol bfd { ${MARK}: the routers' sessions, a dead peer found in ${bfd.intervalMs * bfd.multiplier} ms`,
        `  interface "*" { ${options} }; ${MARK}`,
        `  multihop { ${options} }; ${MARK}`,
        `} ${MARK}`,
        '',
      ].join('\n')
    : '';
  const inTemplate = [bfd && `  bfd on; ${MARK}`, holdTime !== undefined && `  hold time ${holdTime}; ${MARK}: the keepalive is a third of the hold time negotiated`]
    .filter((l): l is string => typeof l === 'string')
    .map((l) => `${l}\n`)
    .join('');
  const afterOpen = open + TEMPLATE_OPEN.length;
  return `${original.slice(0, at)}${protocol}${original.slice(at, afterOpen)}${inTemplate}${original.slice(afterOpen)}`;
}

/**
 * Every template of the pinned folder, bird6.cfg.template extended, as the
 * ConfigMap calico-node mounts over /etc/calico/confd/templates (a mount
 * replaces the folder: every template is in it). Keys in name order.
 */
export function birdTemplatesConfigMap(pinned: Readonly<Record<string, string>>, sessions: NodeSessions): Manifest {
  if (pinned[BIRD6_TEMPLATE] === undefined) throw new Error(`the pinned templates lack ${BIRD6_TEMPLATE}`);
  const data: Record<string, string> = {};
  for (const name of Object.keys(pinned).sort()) data[name] = name === BIRD6_TEMPLATE ? withSessions(pinned[name]!, sessions) : pinned[name]!;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: BIRD_TEMPLATES_CONFIGMAP, namespace: BIRD_TEMPLATES_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'native6' } },
    data,
  };
}

/** The pinned templates back from an extended ConfigMap's data: every marked line dropped (the inverse of birdTemplatesConfigMap). */
export function pinnedTemplates(data: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(data)) out[name] = name === BIRD6_TEMPLATE ? text.split('\n').filter((l) => !l.includes(MARK)).join('\n') : text;
  return out;
}
