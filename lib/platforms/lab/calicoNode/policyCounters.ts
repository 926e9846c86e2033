/**
 * The lab's policy table read back: which rule dropped what. The policy
 * compiler (policy.ts) gives every rule that drops a counter and a comment
 * naming it ("deny: <policy> <direction> rule <n>", "end of tier: <direction>");
 * this parses a node's `nft -j list table ip6 n6-felix-policy` (or the text
 * of `nft [-a] list table …`) into those counters, per chain, with the
 * chain each local workload's egress jumps to, so that verify can say which
 * rule denied a pod's flow instead of seeing only "no answer".
 *
 * Pure: the caller runs nft on the node. The agent re-applies the table
 * (delete and create) whenever the policy changes and every 30 s, which
 * resets every counter; a listing carries the table's handle, new at each
 * re-application, so that two listings tell whether they can be compared
 * (dropsBetween).
 */
import { formatAddress, parseAddress } from '../../../net/ipv6.js';

/** A rule with a counter and a comment. */
export interface RuleCounter {
  readonly chain: string;
  readonly comment: string;
  readonly packets: number;
  readonly bytes: number;
}

export interface PolicyListing {
  /** The table's handle (a new one at each re-application); undefined in a text listing without -a. */
  readonly handle: number | undefined;
  /** Every rule with a counter and a comment, in the listing's order. */
  readonly counters: readonly RuleCounter[];
  /** Each local workload's address (canonical text) to its egress chain: the `ip6 saddr vmap` of the hooks. */
  readonly egressChains: ReadonlyMap<string, string>;
}

export class ListingError extends Error {
  override name = 'ListingError';
}

/** Parses `nft -j list table …` (JSON, detected by its opening brace) or `nft [-a] list table …` (text). */
export function parsePolicyListing(output: string): PolicyListing {
  const text = output.trim();
  if (text === '') throw new ListingError('nft listing: empty (is the table there?)');
  return text.startsWith('{') ? parseJson(text) : parseText(text);
}

/** Packets by comment, summed over the rules that share one (every workload's chain has its copy), or of one chain only. */
export function packetsByComment(counters: readonly RuleCounter[], chain?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of counters) if (chain === undefined || c.chain === chain) out.set(c.comment, (out.get(c.comment) ?? 0) + c.packets);
  return out;
}

/**
 * What one chain's counters counted between two listings, by comment (those
 * that grew, in the order of the later listing), or `reapplied` when the
 * table was made anew in between (another handle, or a counter that went
 * down): then its counters started again from 0 and say nothing.
 */
export function dropsBetween(before: PolicyListing, after: PolicyListing, chain: string): { reapplied: true } | { reapplied: false; grew: Array<{ comment: string; packets: number }> } {
  if (before.handle !== after.handle) return { reapplied: true };
  const was = packetsByComment(before.counters, chain);
  const now = packetsByComment(after.counters, chain);
  const grew: Array<{ comment: string; packets: number }> = [];
  for (const [comment, packets] of now) {
    const delta = packets - (was.get(comment) ?? 0);
    if (delta < 0 || !was.has(comment)) return { reapplied: true };
    if (delta > 0) grew.push({ comment, packets: delta });
  }
  if ([...was.keys()].some((c) => !now.has(c))) return { reapplied: true };
  return { reapplied: false, grew };
}

/** A drop comment as a reader wants it: "baseline-guard-ipv4-egress (egress rule 0)"; any other comment as it is. */
export function describeDrop(comment: string): string {
  const m = /^deny: (\S+) (ingress|egress) rule (\d+)$/.exec(comment);
  return m ? `${m[1]} (${m[2]} rule ${m[3]})` : comment;
}

function canonical(address: string): string {
  try {
    return formatAddress(parseAddress(address));
  } catch (e) {
    throw new ListingError(`nft listing: "${address}" in an egress vmap is not one IPv6 address: ${(e as Error).message}`);
  }
}

type JsonExpr = Record<string, unknown>;

function parseJson(text: string): PolicyListing {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ListingError(`nft -j listing: not JSON: ${(e as Error).message}`);
  }
  const items = (doc as { nftables?: unknown }).nftables;
  if (!Array.isArray(items)) throw new ListingError('nft -j listing: no "nftables" array at the top');
  const tables = items.flatMap((i: { table?: { name?: string; handle?: number } }) => (i.table ? [i.table] : []));
  if (tables.length !== 1) throw new ListingError(`nft -j listing: ${tables.length} tables (${tables.map((t) => t.name).join(', ') || 'none'}); list one table`);
  const counters: RuleCounter[] = [];
  const egressChains = new Map<string, string>();
  for (const item of items as Array<{ rule?: { chain?: string; comment?: string; expr?: JsonExpr[] } }>) {
    const rule = item.rule;
    if (!rule) continue;
    const where = `nft -j listing: a rule of chain ${rule.chain ?? '(none)'}`;
    if (typeof rule.chain !== 'string') throw new ListingError(`${where} names no chain`);
    if (!Array.isArray(rule.expr)) throw new ListingError(`${where} has no "expr" list`);
    for (const expr of rule.expr) {
      const counter = expr.counter as { packets?: unknown; bytes?: unknown } | string | undefined;
      // A named counter ({"counter": "name"}) is no rule's own: not the compiler's.
      if (counter && typeof counter === 'object' && rule.comment !== undefined) {
        if (typeof counter.packets !== 'number' || typeof counter.bytes !== 'number') throw new ListingError(`${where} ("${rule.comment}") has a counter without packets and bytes`);
        counters.push({ chain: rule.chain, comment: rule.comment, packets: counter.packets, bytes: counter.bytes });
      }
      const vmap = expr.vmap as { key?: { payload?: { protocol?: string; field?: string } }; data?: { set?: unknown[] } } | undefined;
      if (vmap?.key?.payload?.protocol === 'ip6' && vmap.key.payload.field === 'saddr') {
        for (const element of vmap.data?.set ?? []) {
          const [address, verdict] = element as [unknown, { jump?: { target?: string } } | undefined];
          if (typeof address === 'string' && verdict?.jump?.target) egressChains.set(canonical(address), verdict.jump.target);
        }
      }
    }
  }
  return { handle: tables[0]!.handle, counters, egressChains };
}

function parseText(text: string): PolicyListing {
  const lines = text.split('\n').map((l) => l.trim());
  const table = /^table \S+ \S+ \{(?: # handle (\d+))?$/.exec(lines[0]!);
  if (!table) throw new ListingError(`nft listing: the first line is not a table's ("${lines[0]!.slice(0, 80)}")`);
  const counters: RuleCounter[] = [];
  const egressChains = new Map<string, string>();
  let chain: string | undefined;
  for (const line of lines.slice(1)) {
    const start = /^chain (\S+) \{/.exec(line);
    if (start) {
      chain = start[1];
      continue;
    }
    if (/^(set|map|flowtable|counter|quota|limit|ct) \S+ \{/.test(line)) {
      chain = undefined;
      continue;
    }
    if (!chain) continue;
    const counter = /(?:^| )counter packets (\d+) bytes (\d+)(?: |$)/.exec(line);
    const comment = / comment "([^"]*)"(?: # handle \d+)?$/.exec(line);
    if (counter && comment) counters.push({ chain, comment: comment[1]!, packets: Number(counter[1]), bytes: Number(counter[2]) });
    const vmap = /^ip6 saddr vmap \{ (.*) \}(?: # handle \d+)?$/.exec(line);
    if (vmap) {
      for (const element of vmap[1]!.split(', ')) {
        const m = /^(\S+) : jump (\S+)$/.exec(element);
        if (!m) throw new ListingError(`nft listing: chain ${chain}: a vmap element "${element}" is not "<address> : jump <chain>"`);
        egressChains.set(canonical(m[1]!), m[2]!);
      }
    }
  }
  return { handle: table[1] === undefined ? undefined : Number(table[1]), counters, egressChains };
}
