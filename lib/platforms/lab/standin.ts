/**
 * STAND-IN, until Calico runs in the lab (the Calico issue): each machine
 * announces a pod block and the Service ranges with BIRD 1.6 (bird6, the
 * same BIRD Calico ships), configured from the Calico resources this
 * repository renders for the cluster — BGPConfiguration (ASN, Service
 * ranges), the machine's BGPPeers (peer, ASN, reachableBy, password
 * reference) and the IPPool (pod pool, block size). What Calico would add
 * and this does not: IPAM (the block is computed, not allocated), Felix
 * (routes and policy for pods), confd (config follows the datastore live).
 */
import { formatPrefix, parseAddress, parsePrefix, formatAddress, type Prefix } from '../../net/ipv6.js';
import { poolSlot, type Machine } from '../../plan/addressPlan.js';
import type { Manifest } from '../../render/yaml.js';
import type { MachineNode } from './topology.js';

export interface StandinInputs {
  readonly node: MachineNode;
  /** Every object of clusters/<name>/fabric/. */
  readonly fabric: readonly Manifest[];
  /** Secret data the BGPPeers reference: secret name -> key -> value. */
  readonly secrets: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly bfd?: { readonly intervalMs: number; readonly multiplier: number };
  /** BGP hold time (s); BIRD's default is 240. */
  readonly holdTime?: number;
  /** More prefixes to announce from this machine (the first control plane's bootstrap API endpoint). */
  readonly extraAnnounce?: readonly string[];
}

type Obj = { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown> };

function one(fabric: readonly Manifest[], kind: string, name: string): Obj {
  const found = (fabric as Obj[]).find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found?.spec) throw new Error(`the rendered fabric has no ${kind} "${name}"; run npm run render`);
  return found;
}

/** The stand-in's pod block for a machine: stable per machine name, unique in the pool. */
export function standinPodBlock(pool: Prefix, blockSize: number, machine: Machine): Prefix {
  const index = (poolSlot(machine.pool) << 16n) | BigInt(machine.index);
  const blocks = 1n << BigInt(blockSize - pool.length);
  if (index >= blocks) throw new Error(`the stand-in needs a pod pool of at least a /${blockSize - 48}; ${formatPrefix(pool)} is too small`);
  return { address: pool.address + index * (1n << BigInt(128 - blockSize)), length: blockSize };
}

export interface StandinConfig {
  readonly config: string;
  readonly podBlock: Prefix;
  readonly announced: readonly string[];
  readonly peers: ReadonlyArray<{ readonly name: string; readonly ip: string }>;
}

export function standinBird(inputs: StandinInputs): StandinConfig {
  const { node, fabric } = inputs;
  const bgp = one(fabric, 'BGPConfiguration', 'default').spec!;
  const pool = one(fabric, 'IPPool', 'pods').spec!;
  const asNumber = Number(bgp.asNumber);
  const podBlock = standinPodBlock(parsePrefix(String(pool.cidr)), Number(pool.blockSize), node.machine);
  const serviceRanges = ['serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs'].flatMap((k) =>
    ((bgp[k] as Array<{ cidr: string }> | undefined) ?? []).map((c) => formatPrefix(parsePrefix(c.cidr))),
  );
  const announced = [formatPrefix(podBlock), ...serviceRanges, ...(inputs.extraAnnounce ?? [])];
  const peers = (fabric as Obj[]).filter((o) => o.kind === 'BGPPeer' && o.spec?.node === node.machine.name);
  if (peers.length === 0) throw new Error(`the rendered fabric has no BGPPeer for ${node.machine.name}; run npm run render`);

  const out: string[] = [
    `# ${node.machine.name}: STAND-IN for Calico's BIRD (see lib/platforms/lab/standin.ts)`,
    `router id ${node.routerId};`,
    'protocol device { scan time 10; }',
    // The kernel gets the routes to the peers and what BGP learned (the downward default, ECMP over
    // both routers); the announced blackholes stay in BIRD.
    'protocol kernel { scan time 10; import none; export where source = RTS_BGP || proto = "peers"; merge paths on; }',
    'protocol static announce {',
    ...announced.map((p) => `  route ${p} blackhole;`),
    '}',
  ];
  const reach = peers.filter((p) => typeof p.spec!.reachableBy === 'string');
  if (reach.length > 0) {
    // reachableBy: an exact route to each multihop peer through the gateway, as Calico installs it.
    out.push('protocol static peers {', ...reach.map((p) => `  route ${formatAddress(parseAddress(String(p.spec!.peerIP)))}/128 via ${formatAddress(parseAddress(String(p.spec!.reachableBy)))};`), '}');
  }
  if (inputs.bfd) {
    out.push(
      'protocol bfd {',
      `  multihop { interval ${inputs.bfd.intervalMs} ms; multiplier ${inputs.bfd.multiplier}; };`,
      ...peers.map((p) => `  neighbor ${formatAddress(parseAddress(String(p.spec!.peerIP)))} local ${node.address} multihop;`),
      '}',
    );
  }
  const peerList: Array<{ name: string; ip: string }> = [];
  peers.forEach((p, i) => {
    const spec = p.spec!;
    const ip = formatAddress(parseAddress(String(spec.peerIP)));
    const name = `peer${i + 1}`;
    peerList.push({ name, ip });
    const ref = (spec.password as { secretKeyRef?: { name: string; key: string } } | undefined)?.secretKeyRef;
    let password: string | undefined;
    if (ref) {
      password = inputs.secrets.get(ref.name)?.get(ref.key);
      if (password === undefined) throw new Error(`BGPPeer ${p.metadata?.name}: secret ${ref.name} has no key ${ref.key}`);
      if (/["\\\n]/.test(password)) throw new Error(`BGPPeer ${p.metadata?.name}: the password has characters BIRD cannot quote`);
    }
    out.push(
      `protocol bgp ${name} {`,
      `  description "${p.metadata?.name}";`,
      `  local ${node.address} as ${asNumber};`,
      `  neighbor ${ip} as ${Number(spec.asNumber)};`,
      '  multihop;',
      '  gateway recursive;',
      // Come back quickly after a session drops (BIRD waits 60 s to 300 s by default).
      '  connect retry time 5;',
      '  error wait time 1, 10;',
      ...(password !== undefined ? [`  password "${password}";`] : []),
      ...(inputs.bfd ? ['  bfd on;'] : []),
      ...(inputs.holdTime !== undefined ? [`  hold time ${inputs.holdTime};`] : []),
      '  import where net = ::/0;',
      '  export where proto = "announce";',
      '}',
    );
  });
  return { config: `${out.join('\n')}\n`, podBlock, announced, peers: peerList };
}
