/**
 * A plan's addresses as text while its block is not known (the spec gives
 * only the block's size, and apply has not recorded the provider's block
 * yet): each relative to the block, the block's own bits written `x`, so a
 * range reads as it will once the block is known, e.g. the Service range of
 * a /56 `xxxx:xxxx:xxxx:xx01::/112` (the first /112 of the block's second
 * /64). Known groups are written as RFC 5952 writes them (no leading zeros,
 * the longest run of two or more zero groups as `::`); a group with `x` in
 * it keeps its digits. A block whose length is not a multiple of 4 bits has
 * a digit shared by the block and the offset: its ranges are written
 * `<block>+<offset>` instead.
 */
import { containsAddress, formatAddress, formatPrefix, type Prefix } from '../net/ipv6.js';

/** What of an address plan (AddressPlan) the text needs: whether its block is known, and the block (::/length while it is not). */
interface PlanBlock {
  readonly resolved: boolean;
  readonly block: Prefix;
  readonly ranges: ReadonlyArray<{ readonly name: string; readonly prefix: Prefix }>;
}

/** An offset inside a /blockLength block, written with the block's bits as x. */
export function relativeAddress(offset: bigint, blockLength: number): string {
  if (blockLength % 4 !== 0) return `<block>+${formatAddress(offset)}`;
  const digits = offset.toString(16).padStart(32, '0').split('');
  for (let i = 0; i < blockLength / 4; i++) digits[i] = 'x';
  const groups = Array.from({ length: 8 }, (_, g) => digits.slice(4 * g, 4 * g + 4).join(''));
  const text = groups.map((g) => (g.includes('x') ? g : g.replace(/^0+(?=.)/, '')));
  // The longest run of two or more known zero groups (the first on a tie) becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (text[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && text[j] === '0') j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  if (best < 0) return text.join(':');
  return `${text.slice(0, best).join(':')}::${text.slice(best + bestLength).join(':')}`;
}

/** Whether a prefix of the plan is relative to a block not known yet (a prefix the spec gives, e.g. a NAT64 /96, is not). */
function isRelative(plan: PlanBlock, address: bigint): boolean {
  return !plan.resolved && containsAddress(plan.block, address);
}

/** A prefix of the plan as text: itself, or relative to the block while the block is not known. */
export function prefixText(plan: PlanBlock, prefix: Prefix): string {
  return isRelative(plan, prefix.address) ? `${relativeAddress(prefix.address, plan.block.length)}/${prefix.length}` : formatPrefix(prefix);
}

/** An address of the plan as text, as prefixText. */
export function addressText(plan: PlanBlock, address: bigint): string {
  return isRelative(plan, address) ? relativeAddress(address, plan.block.length) : formatAddress(address);
}

/**
 * What a reader of the plan is told while the block is not known: who
 * assigns it and where apply records it, and how to read the ranges.
 */
export function relativeNote(plan: PlanBlock, provider: string, factsFile: string): string | undefined {
  if (plan.resolved) return undefined;
  const example = plan.ranges.find((r) => r.name === 'services');
  return (
    `The block is not known yet: ${provider} assigns the /${plan.block.length} with the project's first device, and apply records it in ${factsFile}. ` +
    `Until then the ranges are relative to it, x standing for its bits${example ? ` (${prefixText(plan, example.prefix)}: the Service range, in the block's second /64)` : ''}; the machines compute theirs from it when they boot.`
  );
}
