/**
 * Calico network policy for the lab's workloads, compiled to nftables:
 * OURS, standing in for Felix's policy engine, which cannot be built here
 * (README, "Calico in the lab"). Pure: the lab's BGP agent gathers the
 * datastore and applies the script on its node with `nft -f -`.
 *
 * The model, as Calico evaluates it for workload endpoints (one tier, the
 * default one):
 * - the policies that select an endpoint (GlobalNetworkPolicy: selector and
 *   namespaceSelector; Kubernetes NetworkPolicy, as Calico converts it: the
 *   pods its podSelector picks in its namespace, order 1000) apply to its
 *   ingress or egress when their types say so, in order (then name);
 * - the first rule that matches decides: Allow, Deny, or Pass (to the
 *   profiles, which allow in a Kubernetes namespace); a policy whose rules
 *   do not match passes on to the next one;
 * - if policies applied and none decided, the end of the tier denies; if
 *   none applied, the namespace's profile allows;
 * - a rule's selectors match an address when a workload endpoint or a
 *   (Global)NetworkSet with that address has matching labels (pods carry
 *   projectcalico.org/namespace, namespaces projectcalico.org/name);
 *   `destination.services` matches the Service's endpoints and ports.
 * Egress is checked where the packet leaves its pod (forward and input
 * hooks), ingress where it enters its pod (forward hook); the connection's
 * later packets are accepted by conntrack. Traffic from a node to its own
 * pods (the kubelet's probes) is not policed, and a pod's traffic to its
 * own node is allowed after its egress policy (calico-node's manifests set
 * DefaultEndpointToHostAction to ACCEPT).
 *
 * Every rule that drops (a Deny rule, the end of the tier) has a counter and
 * a comment naming it (dropComment, endOfTierComment), so that which rule
 * dropped a flow can be read with `nft list table ip6 n6-felix-policy`
 * (policyCounters.ts reads it back for verify); the counters start again
 * from 0 each time the agent re-applies the table.
 *
 * Refused, never ignored: tiers, Calico (namespaced) NetworkPolicy,
 * serviceAccountSelector, HTTP match, ICMP type match, named ports, egress
 * ipBlock except in Kubernetes policies, host endpoints.
 */
import { createHash } from 'node:crypto';
import { formatPrefix, parsePrefix } from '../../../net/ipv6.js';
import { parseSelector, type Selector } from './selector.js';

export interface Workload {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly node: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PolicyInputs {
  readonly globalNetworkPolicies: ReadonlyArray<{ metadata?: { name?: string }; spec?: Record<string, unknown> }>;
  readonly networkPolicies: ReadonlyArray<{ metadata?: { name?: string; namespace?: string }; spec?: Record<string, unknown> }>;
  readonly globalNetworkSets: ReadonlyArray<{ metadata?: { name?: string; labels?: Record<string, string> }; spec?: { nets?: string[] } }>;
  readonly namespaces: ReadonlyArray<{ metadata?: { name?: string; labels?: Record<string, string> } }>;
  readonly workloads: readonly Workload[];
  /** Service endpoints for `destination.services`: "namespace/name" -> addresses and TCP/UDP ports. */
  readonly serviceEndpoints: ReadonlyMap<string, { readonly ips: readonly string[]; readonly ports: ReadonlyArray<{ readonly protocol: string; readonly port: number }> }>;
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

type Action = 'Allow' | 'Deny' | 'Pass';

interface Peer {
  readonly selector?: Selector;
  readonly notSelector?: Selector;
  readonly namespaceSelector?: Selector;
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly service?: string;
}

interface Rule {
  readonly action: Action;
  readonly protocol?: string;
  readonly source: Peer;
  readonly destination: Peer;
}

interface Policy {
  readonly name: string;
  readonly order: number;
  /** Which endpoints it applies to. */
  readonly applies: (w: Workload) => boolean;
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
  /** Namespace of a Kubernetes policy: its pod selectors stay inside it. */
  readonly namespace?: string;
}

const PROTOCOLS: Record<string, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp', ICMPv6: 'ipv6-icmp' };

function sel(where: string, text: unknown): Selector | undefined {
  if (text === undefined || text === null) return undefined;
  try {
    return parseSelector(String(text));
  } catch (e) {
    throw new PolicyError(`${where}: ${(e as Error).message}`);
  }
}

function ports(where: string, list: unknown): string[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.map((p) => {
    const s = String(p);
    if (!/^\d+(:\d+)?$/.test(s)) throw new PolicyError(`${where}: port "${s}" is named or malformed; the lab's policy engine takes numbers and ranges (a:b)`);
    return s.replace(':', '-');
  });
}

const UNSUPPORTED_RULE = ['http', 'icmp', 'notICMP', 'ipVersion', 'metadata', 'notProtocol'];
const UNSUPPORTED_PEER = ['serviceAccounts'];

function calicoRule(where: string, r: Record<string, unknown>): Rule {
  for (const k of UNSUPPORTED_RULE) if (r[k] !== undefined) throw new PolicyError(`${where}: "${k}" is not supported by the lab's policy engine`);
  const action = r.action as Action;
  if (!['Allow', 'Deny', 'Pass'].includes(action)) throw new PolicyError(`${where}: action "${String(r.action)}" (Log is not supported)`);
  const peer = (side: string, p: Record<string, unknown> | undefined): Peer => {
    const at = `${where}.${side}`;
    if (!p) return {};
    for (const k of UNSUPPORTED_PEER) if (p[k] !== undefined) throw new PolicyError(`${at}: "${k}" is not supported by the lab's policy engine`);
    const svc = p.services as { name?: string; namespace?: string } | undefined;
    return {
      selector: sel(`${at}.selector`, p.selector),
      notSelector: sel(`${at}.notSelector`, p.notSelector),
      namespaceSelector: sel(`${at}.namespaceSelector`, p.namespaceSelector),
      nets: (p.nets as string[] | undefined)?.map((n) => formatPrefix(parsePrefix(n, true))),
      notNets: (p.notNets as string[] | undefined)?.map((n) => formatPrefix(parsePrefix(n, true))),
      ports: ports(`${at}.ports`, p.ports),
      notPorts: ports(`${at}.notPorts`, p.notPorts),
      service: svc ? `${svc.namespace ?? 'default'}/${svc.name}` : undefined,
    };
  };
  const protocol = r.protocol === undefined ? undefined : PROTOCOLS[String(r.protocol)];
  if (r.protocol !== undefined && !protocol) throw new PolicyError(`${where}: protocol "${String(r.protocol)}"`);
  return { action, protocol, source: peer('source', r.source as Record<string, unknown>), destination: peer('destination', r.destination as Record<string, unknown>) };
}

/** Calico's conversion of a Kubernetes NetworkPolicy (ipBlock and pod/namespace selectors, ports). */
function k8sPolicy(np: PolicyInputs['networkPolicies'][number]): Policy {
  const ns = np.metadata?.namespace ?? 'default';
  const name = `knp.default.${np.metadata?.name}`;
  const spec = np.spec ?? {};
  const where = `NetworkPolicy ${ns}/${np.metadata?.name}`;
  const labelSel = (s: unknown): string => {
    const ls = (s ?? {}) as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    if (ls.matchExpressions?.length) throw new PolicyError(`${where}: matchExpressions are not supported by the lab's policy engine`);
    const parts = Object.entries(ls.matchLabels ?? {}).map(([k, v]) => `${k} == '${v}'`);
    return parts.length ? parts.join(' && ') : 'all()';
  };
  const podSel = parseSelector(labelSel(spec.podSelector));
  const types = (spec.policyTypes as string[] | undefined) ?? ['Ingress', ...(spec.egress ? ['Egress'] : [])];
  const rulesOf = (dir: 'ingress' | 'egress'): Rule[] => {
    const list = (spec[dir] as Array<Record<string, unknown>> | undefined) ?? [];
    return list.flatMap((r, i) => {
      const peers = (r[dir === 'ingress' ? 'from' : 'to'] as Array<Record<string, unknown>> | undefined) ?? [{}];
      const portList = (r.ports as Array<{ protocol?: string; port?: number | string; endPort?: number }> | undefined) ?? [{}];
      return peers.flatMap((peer) =>
        portList.map((p): Rule => {
          const at = `${where}.${dir}[${i}]`;
          if (typeof p.port === 'string') throw new PolicyError(`${at}: named port "${p.port}" is not supported by the lab's policy engine`);
          const proto = p.port !== undefined || p.protocol ? PROTOCOLS[p.protocol ?? 'TCP'] : undefined;
          const portSpec = p.port !== undefined ? [p.endPort ? `${p.port}-${p.endPort}` : String(p.port)] : undefined;
          const ipBlock = peer.ipBlock as { cidr: string; except?: string[] } | undefined;
          const other: Peer = ipBlock
            ? { nets: [formatPrefix(parsePrefix(ipBlock.cidr, true))], ...(ipBlock.except?.length ? { notNets: ipBlock.except.map((n) => formatPrefix(parsePrefix(n, true))) } : {}) }
            : peer.podSelector || peer.namespaceSelector
              ? {
                  selector: parseSelector(labelSel(peer.podSelector)),
                  namespaceSelector: peer.namespaceSelector ? parseSelector(labelSel(peer.namespaceSelector)) : parseSelector(`projectcalico.org/name == '${ns}'`),
                }
              : {};
          const here: Peer = portSpec ? { ports: portSpec } : {};
          return dir === 'ingress'
            ? { action: 'Allow', protocol: proto, source: other, destination: here }
            : { action: 'Allow', protocol: proto, source: {}, destination: { ...other, ...here } };
        }),
      );
    });
  };
  return {
    name,
    order: 1000,
    namespace: ns,
    applies: (w) => w.namespace === ns && podSel.matches(w.labels),
    ...(types.includes('Ingress') ? { ingress: rulesOf('ingress') } : {}),
    ...(types.includes('Egress') ? { egress: rulesOf('egress') } : {}),
  };
}

function globalPolicy(p: PolicyInputs['globalNetworkPolicies'][number], nsLabels: (ns: string) => Record<string, string>): Policy {
  const spec = p.spec ?? {};
  const name = p.metadata?.name ?? '(unnamed)';
  const where = `GlobalNetworkPolicy ${name}`;
  if (spec.tier !== undefined && spec.tier !== 'default') throw new PolicyError(`${where}: tiers are not supported by the lab's policy engine`);
  if (spec.serviceAccountSelector !== undefined) throw new PolicyError(`${where}: serviceAccountSelector is not supported by the lab's policy engine`);
  if (spec.applyOnForward || spec.preDNAT || spec.doNotTrack) throw new PolicyError(`${where}: host-endpoint options (applyOnForward, preDNAT, doNotTrack) are not supported`);
  const selector = sel(`${where}.selector`, spec.selector ?? 'all()')!;
  const namespaceSelector = sel(`${where}.namespaceSelector`, spec.namespaceSelector);
  const types = (spec.types as string[] | undefined) ?? ['Ingress', ...(spec.egress ? ['Egress'] : [])];
  const rules = (dir: 'ingress' | 'egress') => ((spec[dir] as Array<Record<string, unknown>> | undefined) ?? []).map((r, i) => calicoRule(`${where}.${dir}[${i}]`, r));
  return {
    name,
    order: typeof spec.order === 'number' ? spec.order : Number.POSITIVE_INFINITY,
    applies: (w) => selector.matches(w.labels) && (!namespaceSelector || namespaceSelector.matches(nsLabels(w.namespace))),
    ...(types.includes('Ingress') ? { ingress: rules('ingress') } : {}),
    ...(types.includes('Egress') ? { egress: rules('egress') } : {}),
  };
}

/** Workload labels as Calico sees them: the pod's, plus its namespace and orchestrator. */
export function workloadLabels(podLabels: Readonly<Record<string, string>>, namespace: string): Record<string, string> {
  return { ...podLabels, 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' };
}

export interface CompiledPolicy {
  /** The nft script for the node: creates or replaces the table. */
  readonly script: string;
  /** Per local workload: the policies that apply, ingress and egress, in order. */
  readonly summary: ReadonlyArray<{ readonly workload: string; readonly ingress: readonly string[]; readonly egress: readonly string[] }>;
}

export const POLICY_TABLE = 'n6-felix-policy';

/** nftables' longest rule comment (libnftnl's NFTNL_UDATA_COMMENT_MAXLEN): a longer one fails the whole script. */
export const NFT_COMMENT_MAX = 128;

/**
 * The comment of a policy's Deny rule: the policy, the direction and the
 * rule's index in that direction's list as the policy writes it (from 0),
 * e.g. "deny: baseline-guard-ipv4-egress egress rule 0". A policy name too
 * long for nftables is cut and ends in "~" and 8 hex digits of its SHA-256,
 * so that two long names never share a comment.
 */
export function dropComment(policy: string, dir: 'ingress' | 'egress', rule: number): string {
  const comment = (name: string) => `deny: ${name} ${dir} rule ${rule}`;
  if (comment(policy).length <= NFT_COMMENT_MAX) return comment(policy);
  const hash = createHash('sha256').update(policy).digest('hex').slice(0, 8);
  const room = NFT_COMMENT_MAX - comment(`~${hash}`).length;
  return comment(`${policy.slice(0, room)}~${hash}`);
}

/** The comment of the drop at the end of the tier (policies applied, none decided), per direction. */
export function endOfTierComment(dir: 'ingress' | 'egress'): string {
  return `end of tier: ${dir}`;
}

export function compilePolicy(inputs: PolicyInputs, node: string): CompiledPolicy {
  const nsMap = new Map(inputs.namespaces.map((n) => [n.metadata?.name ?? '', { ...(n.metadata?.labels ?? {}), 'projectcalico.org/name': n.metadata?.name ?? '' }]));
  const nsLabels = (ns: string) => nsMap.get(ns) ?? { 'projectcalico.org/name': ns };
  const policies: Policy[] = [
    ...inputs.globalNetworkPolicies.map((p) => globalPolicy(p, nsLabels)),
    ...inputs.networkPolicies.map((p) => k8sPolicy(p)),
  ].sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));

  // Address sets a selector picks: workloads (with their namespace) and network sets.
  const sets = new Map<string, { name: string; elements: string[] }>();
  const setFor = (key: string, elements: string[]): string => {
    let s = sets.get(key);
    if (!s) {
      s = { name: `s${sets.size}`, elements: [...new Set(elements)].sort() };
      sets.set(key, s);
    }
    return `@${s.name}`;
  };
  const selected = (peer: Peer, policy: Policy, positive: boolean): string => {
    const s = positive ? peer.selector : peer.notSelector;
    const nsSel = peer.namespaceSelector;
    const scopedNs = policy.namespace;
    const ips: string[] = [];
    for (const w of inputs.workloads) {
      const nsOk = nsSel ? nsSel.matches(nsLabels(w.namespace)) : scopedNs ? w.namespace === scopedNs : true;
      if (nsOk && (!s || s.matches(w.labels))) ips.push(`${w.ip}/128`);
    }
    // Network sets: global ones, when no namespace selector narrows the match to namespaced endpoints.
    if (!nsSel && !scopedNs) {
      for (const set of inputs.globalNetworkSets) {
        if (!s || s.matches(set.metadata?.labels ?? {})) for (const n of set.spec?.nets ?? []) ips.push(formatPrefix(parsePrefix(n, true)));
      }
    }
    return setFor(`${positive ? '' : '!'}${s?.text ?? '*'}|${nsSel?.text ?? scopedNs ?? ''}`, ips);
  };
  const addrMatch = (dir: 'saddr' | 'daddr', peer: Peer, policy: Policy): string[] => {
    const out: string[] = [];
    if (peer.selector || peer.namespaceSelector) out.push(`ip6 ${dir} ${selected(peer, policy, true)}`);
    if (peer.notSelector) out.push(`ip6 ${dir} != ${selected(peer, policy, false)}`);
    if (peer.nets) out.push(`ip6 ${dir} ${setFor(`nets:${peer.nets.join(',')}`, [...peer.nets])}`);
    if (peer.notNets) out.push(`ip6 ${dir} != ${setFor(`nets:${peer.notNets.join(',')}`, [...peer.notNets])}`);
    return out;
  };
  /** The rule's lines; `drop` is the verdict of a Deny rule (with its counter and comment). */
  const ruleLine = (r: Rule, policy: Policy, verdictAllow: string, drop: string): string[] => {
    const m: string[] = [];
    if (r.protocol) m.push(`meta l4proto ${r.protocol}`);
    m.push(...addrMatch('saddr', r.source, policy));
    m.push(...addrMatch('daddr', r.destination, policy));
    const p = (list: readonly string[] | undefined, neg: boolean) => {
      if (!list) return;
      if (!r.protocol || !['tcp', 'udp', 'sctp'].includes(r.protocol)) throw new PolicyError(`policy ${policy.name}: ports need protocol TCP, UDP or SCTP`);
      m.push(`th dport ${neg ? '!= ' : ''}{ ${list.join(', ')} }`);
    };
    p(r.destination.ports, false);
    p(r.destination.notPorts, true);
    if (r.source.ports) throw new PolicyError(`policy ${policy.name}: source ports are not supported by the lab's policy engine`);
    const lines: string[] = [];
    if (r.destination.service) {
      const ep = inputs.serviceEndpoints.get(r.destination.service);
      if (!ep || ep.ips.length === 0) return []; // no endpoints: matches nothing
      const svcIps = setFor(`svc:${r.destination.service}`, ep.ips.map((ip) => `${ip}/128`));
      const byProto = new Map<string, number[]>();
      for (const x of ep.ports) byProto.set(x.protocol.toLowerCase(), [...(byProto.get(x.protocol.toLowerCase()) ?? []), x.port]);
      for (const [proto, list] of [...byProto].sort()) {
        if (r.protocol && r.protocol !== proto) continue;
        lines.push([...m.filter((x) => !x.startsWith('meta l4proto')), `meta l4proto ${proto}`, `ip6 daddr ${svcIps}`, `th dport { ${[...new Set(list)].sort((a, b) => a - b).join(', ')} }`].join(' '));
      }
    } else {
      lines.push(m.join(' '));
    }
    const verdict = r.action === 'Deny' ? drop : verdictAllow;
    return lines.map((l) => `${l}${l ? ' ' : ''}${verdict}`);
  };

  const local = inputs.workloads.filter((w) => w.node === node).sort((a, b) => a.ip.localeCompare(b.ip));
  const chains: string[] = [];
  const summary: Array<{ workload: string; ingress: string[]; egress: string[] }> = [];
  const inMap: string[] = [];
  const outMap: string[] = [];
  local.forEach((w, i) => {
    const entry = { workload: `${w.namespace}/${w.name}`, ingress: [] as string[], egress: [] as string[] };
    for (const dir of ['ingress', 'egress'] as const) {
      const applied = policies.filter((p) => p[dir] !== undefined && p.applies(w));
      entry[dir] = applied.map((p) => p.name);
      // Egress allows "return" (the destination's ingress is checked next); ingress allows accept.
      const allow = dir === 'egress' ? 'return' : 'accept';
      const body: string[] = [];
      for (const p of applied) {
        body.push(`# ${p.name} (order ${Number.isFinite(p.order) ? p.order : 'none'})`);
        p[dir]!.forEach((r, index) => {
          const drop = `counter drop comment "${dropComment(p.name, dir, index)}"`;
          if (r.action === 'Pass') body.push(...ruleLine({ ...r, action: 'Allow' }, p, allow, drop).map((l) => `${l} comment "pass: profile allows"`));
          else body.push(...ruleLine(r, p, allow, drop));
        });
      }
      body.push(applied.length > 0 ? `counter drop comment "${endOfTierComment(dir)}"` : `${allow} comment "no policy: profile allows"`);
      const chain = `${dir === 'ingress' ? 'in' : 'eg'}${i}`;
      chains.push(`  chain ${chain} {`, `    # ${w.namespace}/${w.name} ${w.ip}`, ...body.map((b) => `    ${b}`), '  }');
      (dir === 'ingress' ? inMap : outMap).push(`${w.ip} : jump ${chain}`);
    }
    summary.push(entry);
  });
  const setDefs = [...sets.values()].flatMap((s) => [
    `  set ${s.name} {`,
    '    type ipv6_addr; flags interval; auto-merge;',
    ...(s.elements.length ? [`    elements = { ${s.elements.join(', ')} }`] : []),
    '  }',
  ]);
  const dispatch = (hook: string, what: string[]) => [
    `  chain ${hook} {`,
    `    type filter hook ${hook} priority filter - 5; policy accept;`,
    // Neighbour discovery is never policy's business (Felix allows it too), and it must pass
    // before the conntrack verdicts: a pod whose neighbour advertisements were dropped would
    // drop off its node's neighbour table, and then off the network, a while after it started.
    '    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept',
    '    ct state established,related accept',
    '    ct state invalid drop',
    ...what,
    '  }',
  ];
  const eg = outMap.length ? [`    ip6 saddr vmap { ${outMap.join(', ')} }`] : [];
  const ing = inMap.length ? [`    ip6 daddr vmap { ${inMap.join(', ')} }`] : [];
  const script = [
    `table ip6 ${POLICY_TABLE}`,
    `delete table ip6 ${POLICY_TABLE}`,
    `table ip6 ${POLICY_TABLE} {`,
    ...setDefs,
    ...chains,
    ...dispatch('forward', [...eg, ...ing]),
    ...dispatch('input', eg),
    '}',
    '',
  ].join('\n');
  return { script, summary };
}
