/**
 * Decoding a cluster spec: strict (unknown fields are errors), defaulted,
 * then validated with every problem collected, each naming the file, line,
 * field and fix. Pure: takes the file's name and text, returns the spec or
 * the problems. What depends on the platform (its metros, machine plans,
 * blocks, defaults) the decoder asks the platform's rules (rules.ts), given
 * by the caller: it names no platform. The address plan's own checks come
 * after, in the loader (lib/platforms/load.ts). spec.network and spec.policy
 * are decoded in network.ts, spec.egress in egress.ts, spec.gitops in
 * gitops.ts, spec.sshKeys in sshKeys.ts.
 *
 * A file larger than SPEC_MAX_BYTES is refused before it is parsed, and
 * repeated keys are found by the reader in one pass (Reader.duplicateKeys)
 * rather than by the parser, whose check is quadratic in a mapping's size
 * (review security-2026-12 L1: 40,000 keys took 12 s, 100,000 took 4 min).
 */
import { LineCounter, parseAllDocuments, type Node } from 'yaml';
import {
  API_VERSION,
  DEFAULTS,
  KIND,
  LIMITS,
  SUPPORTED_MINORS,
  type ClusterSpec,
  type DnsSpec,
  type NetworkSpec,
  type NodeGroup,
  type WorkerPool,
} from './cluster.js';
import { type Problem } from './problems.js';
import { decodeEgress, misplacedEgress } from './egress.js';
import { decodeGitOps } from './gitops.js';
import { decodeNetwork, decodePolicy } from './network.js';
import { decodeSshKeys } from './sshKeys.js';
import { CONTROL_PLANE_POOL, InventoryDecoder } from './decodeInventory.js';
import type { Inventory } from './inventory.js';
import { isNull, Reader, type Field, type Path } from './reader.js';
import { refuse, whenAbsent, type SpecRules } from './rules.js';

/** Where the first of these fields that the file sets is, for problems found after decoding. */
export type Locate = (...paths: Path[]) => Pick<Problem, 'line' | 'column'>;

export type DecodeResult = { ok: true; spec: ClusterSpec; locate: Locate } | { ok: false; problems: Problem[] };

/** Every platform's rules, by the name spec.platform gives (lib/platforms/index.ts). */
export type PlatformRules = ReadonlyMap<string, SpecRules>;

export interface DecodeOptions {
  /** When set, metadata.name must equal it (infra/<name>.yaml). */
  readonly expectName?: string;
  /** The largest file read, in bytes (default SPEC_MAX_BYTES; the benchmark lifts it to measure the decoder past it). */
  readonly maxBytes?: number;
}

/**
 * The largest spec file the decoder reads: 256 KiB. The largest spec this
 * project has is a few KiB; a file far larger is a mistake (or an attack on
 * the plan job), refused before the parser spends time on it.
 */
export const SPEC_MAX_BYTES = 256 * 1024;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KiB`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function decodeCluster(file: string, text: string, platforms: PlatformRules, options: DecodeOptions = {}): DecodeResult {
  const lines = new LineCounter();
  const r = new Reader(file, lines);
  const limit = options.maxBytes ?? SPEC_MAX_BYTES;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limit) {
    r.report([], null, `is ${bytes} bytes (${kib(bytes)}), over the ${limit}-byte (${kib(limit)}) limit of a cluster spec; it was not read`, 'a cluster spec is a few KiB: keep only the fields of docs/spec.md, one cluster per file');
    return { ok: false, problems: r.problems };
  }
  // Repeated keys are the reader's to find (duplicateKeys below): the parser's check is quadratic.
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  if (list.length === 0) {
    r.report([], null, 'the file is empty', `write a ${KIND} spec (see README, "The cluster spec")`);
    return { ok: false, problems: r.problems };
  }
  let syntax = false;
  for (const doc of list) {
    for (const err of doc.errors) {
      syntax = true;
      const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
      r.problems.push({
        file,
        ...(pos ? { line: pos.line, column: pos.col } : {}),
        field: '(yaml)',
        message: err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
        fix: 'correct the YAML syntax at that line',
      });
    }
  }
  let repeated = 0;
  for (const doc of list) repeated += r.duplicateKeys(doc.contents as Node | null);
  if (syntax || repeated > 0) return { ok: false, problems: r.problems };
  if (list.length > 1) {
    r.report([], list[1]!.contents as Node, `has ${list.length} documents`, 'keep one cluster per file: infra/<name>.yaml');
    return { ok: false, problems: r.problems };
  }
  const doc = list[0]!;
  const spec = decodeRoot(r, doc.contents as Node | null, platforms, options);
  if (r.problems.length > 0 || !spec) return { ok: false, problems: r.problems };
  const locate: Locate = (...paths) => {
    for (const path of paths) {
      const offset = (doc.getIn(path, true) as Node | undefined)?.range?.[0];
      const pos = offset !== undefined ? lines.linePos(offset) : undefined;
      if (pos) return { line: pos.line, column: pos.col };
    }
    return {};
  };
  return { ok: true, spec: { ...spec, file }, locate };
}

function decodeRoot(r: Reader, root: Node | null, platforms: PlatformRules, options: DecodeOptions): Omit<ClusterSpec, 'file'> | undefined {
  const top = r.fields(root, [], ['apiVersion', 'kind', 'metadata', 'spec']);
  if (!top) return undefined;

  const apiVersion = r.required(top, 'apiVersion', root, [], `add "apiVersion: ${API_VERSION}"`);
  if (apiVersion !== undefined) {
    const v = r.string(apiVersion, ['apiVersion'], `set it to ${API_VERSION}`);
    if (v !== undefined && v !== API_VERSION) {
      r.report(['apiVersion'], apiVersion, `"${v}" is not a version this project reads`, `set it to ${API_VERSION}`);
    }
  }
  const kind = r.required(top, 'kind', root, [], `add "kind: ${KIND}"`);
  if (kind !== undefined) {
    const k = r.string(kind, ['kind'], `set it to ${KIND}`);
    if (k !== undefined && k !== KIND) r.report(['kind'], kind, `"${k}" is not a kind this project reads`, `set it to ${KIND}`);
  }

  let name: string | undefined;
  const metaNode = r.required(top, 'metadata', root, [], 'add metadata with the cluster name');
  if (metaNode !== undefined) {
    const meta = r.fields(metaNode, ['metadata'], ['name']);
    if (meta) {
      const n = r.required(meta, 'name', metaNode, ['metadata'], 'add "name: <cluster>", the same as the file name');
      if (n !== undefined) {
        name = r.string(n, ['metadata', 'name'], 'write the name as a string');
        if (name !== undefined && (!DNS_LABEL.test(name) || name.length > 30)) {
          r.report(['metadata', 'name'], n, `"${name}" is not a valid cluster name`, 'use at most 30 lower-case letters, digits and "-", starting and ending with a letter or digit');
          name = undefined;
        } else if (name !== undefined && options.expectName !== undefined && name !== options.expectName) {
          r.report(['metadata', 'name'], n, `"${name}" does not match the file name "${options.expectName}"`, `rename the file to infra/${name}.yaml or set the name to "${options.expectName}"`);
        }
      }
    }
  }

  const specNode = r.required(top, 'spec', root, [], 'add the spec section');
  if (specNode === undefined) return undefined;
  const body = decodeSpec(r, specNode, platforms, name ?? 'cluster');
  if (!body || name === undefined) return undefined;
  return { name, ...body };
}

const SPEC_FIELDS = ['platform', 'metro', 'kubernetesVersion', 'controlPlane', 'workers', 'network', 'policy', 'egress', 'gitops', 'dns', 'sshKeys', 'uplinks', 'machines', 'resolvers'] as const;
const INVENTORY_FIELDS = ['uplinks', 'machines', 'resolvers'] as const;

function decodeSpec(r: Reader, node: Node, platforms: PlatformRules, clusterName: string): Omit<ClusterSpec, 'file' | 'name'> | undefined {
  const path: Path = ['spec'];
  const f = r.fields(node, path, SPEC_FIELDS, misplacedEgress('spec'));
  if (!f) return undefined;

  // platform first: other fields' defaults and rules depend on it.
  const names = [...platforms.keys()].sort();
  let rules: SpecRules | undefined;
  const pNode = r.required(f, 'platform', node, path, `add ${[...platforms.keys()].map((n) => `"platform: ${n}"`).join(' or ')}`);
  if (pNode !== undefined) {
    const p = r.string(pNode, ['spec', 'platform'], `use one of: ${names.join(', ')}`);
    if (p !== undefined) {
      rules = platforms.get(p);
      if (!rules) r.report(['spec', 'platform'], pNode, `"${p}" is not a platform`, `use one of: ${names.join(', ')}`);
    }
  }
  if (!rules) return undefined;
  const platform = rules.name;

  // metro
  let metro: string | undefined;
  const mField = f.get('metro');
  if (mField && !isNull(mField.value)) {
    const m = r.string(mField.value, ['spec', 'metro'], 'write the metro code as a string, e.g. "da"');
    if (m !== undefined && !refuse(r, ['spec', 'metro'], mField.value, rules.metro.check(m))) metro = m;
  } else {
    metro = whenAbsent(r, rules.metro.absent, ['spec', 'metro'], mField?.key ?? node);
  }

  // kubernetesVersion
  let kubernetesVersion: string | undefined;
  const kNode = r.required(f, 'kubernetesVersion', node, path, 'add e.g. "kubernetesVersion: v1.35.4"');
  if (kNode !== undefined) {
    const v = r.string(kNode, ['spec', 'kubernetesVersion'], 'quote it, e.g. "v1.35.4"');
    if (v !== undefined) {
      const m = /^v1\.(\d+)\.(\d+)$/.exec(v);
      if (!m) {
        r.report(['spec', 'kubernetesVersion'], kNode, `"${v}" is not a Kubernetes release version`, 'write it as v1.MINOR.PATCH, e.g. v1.35.4');
      } else {
        const minor = Number(m[1]);
        if (minor < SUPPORTED_MINORS.min || minor > SUPPORTED_MINORS.max) {
          r.report(['spec', 'kubernetesVersion'], kNode, `Kubernetes 1.${minor} is not supported`, `use a release from v1.${SUPPORTED_MINORS.min} to v1.${SUPPORTED_MINORS.max} (kubeadm configuration v1beta4)`);
        } else kubernetesVersion = v;
      }
    }
  }

  let network: NetworkSpec | undefined;
  let controlPlane: NodeGroup | undefined;
  let workers: readonly WorkerPool[] | undefined;
  let inventory: Inventory | undefined;
  let resolvers: readonly string[] | undefined = rules.resolvers;
  if (rules.inventory) {
    // The routers' ASNs are checked against the cluster's: the network first.
    network = decodeNetwork(r, f.get('network'), node, rules);
    const listed = decodeListed(r, f, node, platform, network?.localASN);
    if (listed) ({ controlPlane, workers, inventory, resolvers } = listed);
    else resolvers = undefined;
  } else {
    for (const name of INVENTORY_FIELDS) {
      const given = f.get(name);
      if (!given) continue;
      const where = [...platforms.values()].filter((p) => p.inventory).map((p) => `platform: ${p.name}`);
      r.report(['spec', name], given.key, `is read only where the spec lists the machines (${where.join(', ')}): ${platform} makes its own`, `remove spec.${name}`);
    }
    controlPlane = decodeControlPlane(r, f.get('controlPlane'), node, rules);
    workers = decodeWorkers(r, f.get('workers'), rules);
    network = decodeNetwork(r, f.get('network'), node, rules);
  }
  const policy = decodePolicy(r, f.get('policy'));
  const egress = resolvers ? decodeEgress(r, f.get('egress'), { ...rules, resolvers }) : undefined;
  if (inventory && policy && policy.trustedSources.length === 0) {
    const at = f.get('policy');
    r.report(
      ['spec', 'policy', 'trustedSources'],
      at?.value ?? node,
      `is empty, but apply reaches ${platform} machines over SSH, and once bootstrapped their firewall lets SSH in only from the cluster and these sources`,
      'list the network apply runs from (your self-hosted runner\'s, your operators\'), e.g. "policy: {trustedSources: [2001:db8:ff::/64]}"',
    );
  }
  if (egress?.ipv4 === 'nat64' && inventory) {
    inventory.machines.forEach((m, i) => {
      if (m.ipv4) return;
      const given = f.get('egress') !== undefined;
      r.report(
        ['spec', 'machines', i],
        (f.get('machines')!.value as { items?: Node[] } | null)?.items?.[i] ?? node,
        `has no ipv4, but spec.egress.ipv4 is nat64${given ? '' : " (the platform's default)"}: every node translates its own pods' packets to IPv4-only hosts into its own IPv4 address`,
        `give ${m.name} an "ipv4:" address on its uplink's IPv4 link, or set spec.egress.ipv4: none (pods then reach no IPv4-only host)`,
      );
    });
  }
  const gitops = decodeGitOps(r, f.get('gitops'), node, rules);
  const dns = decodeDns(r, f.get('dns'), rules, clusterName);
  const sshKeys = decodeSshKeys(r, f.get('sshKeys'), rules);

  if (!metro || !kubernetesVersion || !controlPlane || !workers || !network || !policy || !egress || !gitops || !resolvers || dns === null || sshKeys === null) return undefined;
  if (r.problems.length > 0) return undefined;

  // Cross-field rules.
  const nodes = controlPlane.count + workers.reduce((n, w) => n + w.count, 0);
  if (refuse(r, ['spec', 'workers'], f.get('workers')?.key ?? node, rules.machines(nodes))) return undefined;
  const blocks = 1n << BigInt(network.podBlockSize - network.podPoolSize);
  if (blocks < BigInt(nodes)) {
    const netNode = f.get('network')?.value ?? node;
    r.report(['spec', 'network', 'podBlockSize'], netNode, `a /${network.podPoolSize} pod pool holds ${blocks} /${network.podBlockSize} blocks, fewer than the ${nodes} nodes that each need one`, 'use a larger pod pool (smaller podPoolSize) or smaller blocks (larger podBlockSize)');
    return undefined;
  }
  const longest = [`${clusterName}-cp-${controlPlane.count}`, ...workers.map((w) => `${clusterName}-${w.name}-${w.count}`)].reduce((a, b) => (b.length > a.length ? b : a), '');
  if (!inventory && longest.length > 63) {
    r.report(['metadata', 'name'], node, `node name "${longest}" is longer than 63 characters`, 'shorten the cluster or pool names');
    return undefined;
  }
  return {
    platform,
    nodeAddresses: rules.nodeAddresses,
    metro,
    kubernetesVersion,
    controlPlane,
    workers,
    network,
    policy,
    egress,
    resolvers,
    gitops,
    ...(dns ? { dns } : {}),
    ...(sshKeys ? { sshKeys } : {}),
    ...(inventory ? { inventory } : {}),
  };
}

/** spec.uplinks, spec.machines and spec.resolvers, where the platform reads them; spec.controlPlane and spec.workers are refused there. */
function decodeListed(r: Reader, f: Map<string, Field>, node: Node, platform: string, localASN: number | undefined) {
  const fixes = {
    controlPlane: `remove it: the control planes are the machines of spec.machines with "pool: ${CONTROL_PLANE_POOL}"`,
    workers: 'remove it: a worker pool is the machines of spec.machines that name it as their pool',
  } as const;
  for (const [name, fix] of Object.entries(fixes)) {
    const given = f.get(name);
    if (given) r.report(['spec', name], given.key, `is not read on ${platform}: the spec lists the machines themselves (spec.machines)`, fix);
  }
  const d = new InventoryDecoder(r, localASN);
  const uplinks = d.uplinks(f.get('uplinks'), node);
  const machines = uplinks ? d.machines(f.get('machines'), node, uplinks) : undefined;
  const pools = machines ? d.pools(machines, f.get('machines')!.value!) : undefined;
  const resolvers = d.resolvers(f.get('resolvers'), node);
  if (!uplinks || !machines || !pools || !resolvers || !d.valid) return undefined;
  return { ...pools, inventory: { uplinks, machines } satisfies Inventory, resolvers };
}

function decodePlan(r: Reader, fields: Map<string, Field>, parent: Node, path: Path, rules: SpecRules): string | undefined {
  const field = fields.get('plan');
  if (!field || isNull(field.value)) return whenAbsent(r, rules.machinePlan.absent, [...path, 'plan'], field?.key ?? parent);
  const p = r.string(field.value, [...path, 'plan'], rules.machinePlan.notAString);
  if (p === undefined || refuse(r, [...path, 'plan'], field.value, rules.machinePlan.check(p))) return undefined;
  return p;
}

function decodeControlPlane(r: Reader, field: Field | undefined, spec: Node, rules: SpecRules): NodeGroup | undefined {
  const path: Path = ['spec', 'controlPlane'];
  if (!field || isNull(field.value)) return whenAbsent(r, rules.controlPlane, path, field?.key ?? spec);
  const f = r.fields(field.value, path, ['count', 'plan']);
  if (!f) return undefined;
  let count: number | undefined = DEFAULTS.controlPlaneCount;
  const c = f.get('count');
  if (c && !isNull(c.value)) {
    count = r.integer(c.value, [...path, 'count'], 1, 7, 'use 1, 3, 5 or 7');
    if (count !== undefined && count % 2 === 0) {
      r.report([...path, 'count'], c.value, `${count} control planes cannot keep etcd quorum through a failure any better than ${count - 1}`, `use an odd count: ${count - 1} or ${count + 1}`);
      count = undefined;
    }
  }
  const plan = decodePlan(r, f, field.value!, path, rules);
  if (count === undefined || plan === undefined) return undefined;
  return { count, plan };
}

function decodeWorkers(r: Reader, field: Field | undefined, rules: SpecRules): WorkerPool[] | undefined {
  const path: Path = ['spec', 'workers'];
  if (!field || isNull(field.value)) return [];
  const items = r.sequence(field.value, path, 'write workers as a list of pools: "- name: general\\n  count: 2"');
  if (!items) return undefined;
  const pools: WorkerPool[] = [];
  const seen = new Map<string, number>();
  let bad = false;
  items.forEach((item, i) => {
    const p: Path = [...path, i];
    const f = r.fields(item, p, ['name', 'count', 'plan']);
    if (!f) {
      bad = true;
      return;
    }
    const nNode = r.required(f, 'name', item, p, 'give the pool a name, e.g. "name: general"');
    let name = nNode !== undefined ? r.string(nNode, [...p, 'name'], 'write the name as a string') : undefined;
    if (name !== undefined) {
      if (!DNS_LABEL.test(name) || name.length > 20) {
        r.report([...p, 'name'], nNode, `"${name}" is not a valid pool name`, 'use at most 20 lower-case letters, digits and "-", starting and ending with a letter or digit');
        name = undefined;
      } else if (name === 'cp') {
        r.report([...p, 'name'], nNode, '"cp" is the control plane\'s name', 'choose another pool name');
        name = undefined;
      } else if (seen.has(name)) {
        r.report([...p, 'name'], nNode, `"${name}" is already the name of workers[${seen.get(name)}]`, 'give every pool its own name');
        name = undefined;
      } else seen.set(name, i);
    }
    const cNode = r.required(f, 'count', item, p, 'add "count: <machines>"');
    const count = cNode !== undefined ? r.integer(cNode, [...p, 'count'], 0, LIMITS.poolCountMax, `use 0 to ${LIMITS.poolCountMax} machines`) : undefined;
    const plan = decodePlan(r, f, item, p, rules);
    if (name === undefined || count === undefined || plan === undefined) {
      bad = true;
      return;
    }
    pools.push({ name, count, plan });
  });
  return bad ? undefined : pools;
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** spec.dns: undefined when absent, null when wrong (reported). */
function decodeDns(r: Reader, field: Field | undefined, rules: SpecRules, clusterName: string): DnsSpec | undefined | null {
  const path: Path = ['spec', 'dns'];
  if (!field || isNull(field.value)) return undefined;
  if (refuse(r, path, field.key, rules.dns)) return null;
  const f = r.fields(field.value, path, ['zone', 'name']);
  if (!f) return null;
  const z = f.get('zone');
  if (!z || isNull(z.value)) {
    r.report([...path, 'zone'], z?.key ?? field.value, 'is required with spec.dns', 'add the DigitalOcean domain that gets the record, e.g. "zone: example.com"');
    return null;
  }
  let ok = true;
  const zone = r.string(z.value, [...path, 'zone'], 'write the zone as a string');
  if (zone === undefined) ok = false;
  else if (!DNS_NAME.test(zone) || !zone.includes('.')) {
    r.report([...path, 'zone'], z.value, `"${zone}" is not a DNS zone`, 'write a domain in lower case, e.g. example.com');
    ok = false;
  }
  let name = `api.${clusterName}`;
  const n = f.get('name');
  if (n && !isNull(n.value)) {
    const v = r.string(n.value, [...path, 'name'], 'write the record name as a string');
    if (v === undefined) ok = false;
    else if (!DNS_NAME.test(v) || (zone !== undefined && v.endsWith(`.${zone.toLowerCase()}`))) {
      r.report([...path, 'name'], n.value, `"${v}" is not a record name relative to the zone`, `write the name without the zone, e.g. api.${clusterName} for api.${clusterName}.<zone>`);
      ok = false;
    } else name = v;
  }
  return ok && zone !== undefined ? { zone, name } : null;
}

