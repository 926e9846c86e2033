/**
 * A machine's bootstrap when the spec gives only the block's size
 * (spec.network.blockSize: Equinix Metal assigns the project's /56 with its
 * first device, after the user-data is written). The address plan is
 * slot-relative (lib/plan/layout.ts): every address in it is an offset
 * inside the block, whatever the block is. So the bootstrap is rendered
 * inside a stand-in block of the same size, in the documentation range
 * 3fff::/20 (RFC 9637), and the machine moves every address of the
 * stand-in into the block its metadata names (the parent block of its own
 * address), each keeping its offset: native6-relocate, which the boot
 * script runs once, before anything uses an address, and then runs itself
 * again with the addresses moved. No address guessed before the project
 * exists reaches a machine.
 *
 * test/unit/blockRelocation.test.ts runs the script on bootstraps so
 * rendered and checks each is then byte for byte the bootstrap rendered
 * with that block.
 */
import { netmask, type Prefix } from '../net/ipv6.js';
import { BOOT_SCRIPT } from './bootPaths.js';

export const RELOCATE_SCRIPT = '/usr/local/sbin/native6-relocate';
/** The block the machine moved its addresses into, written once they are. */
export const BLOCK_FILE = '/etc/native6/block';

/** The stand-in's bits: 3fff:b10c then b10c again, cut to the block's length (every group of it nonzero down to /60). */
const STAND_IN_BITS = 0x3fffb10cb10cb10cb10cb10cb10cb10cn;
/** How every address of a stand-in block (of /32 to /60) begins, followed by a colon. */
export const STAND_IN_HEAD = '3fff:b10c';

/** The stand-in block of a given size: where a bootstrap is rendered before the provider's block is known. */
export function standInBlock(length: number): Prefix {
  if (length < 32 || length > 64) throw new Error(`a stand-in block is a /32 to /64, not a /${length}`);
  return { address: STAND_IN_BITS & netmask(length), length };
}

/** Whether a rendered file holds an address of the stand-in block. */
export function holdsStandIn(content: string): boolean {
  return content.includes(`${STAND_IN_HEAD}:`);
}

/** The groups of the stand-in block, for the script (hex, one per group of the address). */
function standInGroups(length: number): string {
  const a = standInBlock(length).address;
  return Array.from({ length: 8 }, (_, i) => `0x${((a >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)}`).join(' ');
}

/**
 * The script that moves the stand-in's addresses into the provider's block:
 * `native6-relocate <block> <file>...`, each file rewritten in place (mode
 * kept; sed writes a new file and renames it, so a running script that is
 * one of them reads on from its old text). Run again, it finds nothing left
 * to move. It refuses a block of another size or with host bits set, an
 * address it cannot read, and any address of the stand-in left behind.
 */
export function relocateScript(length: number): string {
  return String.raw`#!/bin/bash
# native6-relocate <block> <file>...: the address plan was rendered inside a stand-in /${length}
# (documentation space, RFC 9637); every address of it in the files is moved into the
# provider's block, keeping its offset (the plan is slot-relative), and written as RFC 5952 does.
set -euo pipefail
length=${length}
stand_in=(${standInGroups(length)})
head='${STAND_IN_HEAD}'
die() { echo "native6-relocate: $*" >&2; exit 1; }

# An IPv6 address (RFC 4291 text, no IPv4 tail) as its eight groups, in decimal.
groups() {
  local a=${'$'}{1,,} head tail g n=0
  local -a hs=() ts=() out=()
  [[ $a =~ ^[0-9a-f:]+$ ]] || return 1
  if [[ $a == *::* ]]; then
    head=${'$'}{a%%::*} tail=${'$'}{a#*::}
    [[ $tail != *::* ]] || return 1
    [ -z "$head" ] || IFS=: read -ra hs <<<"$head"
    [ -z "$tail" ] || IFS=: read -ra ts <<<"$tail"
    n=$((8 - ${'$'}{#hs[@]} - ${'$'}{#ts[@]}))
    ((n >= 1)) || return 1
  else
    IFS=: read -ra hs <<<"$a"
    ((${'$'}{#hs[@]} == 8)) || return 1
  fi
  for g in "${'$'}{hs[@]}"; do [[ $g =~ ^[0-9a-f]{1,4}$ ]] || return 1; out+=($((16#$g))); done
  for ((; n > 0; n--)); do out+=(0); done
  for g in "${'$'}{ts[@]}"; do [[ $g =~ ^[0-9a-f]{1,4}$ ]] || return 1; out+=($((16#$g))); done
  echo "${'$'}{out[*]}"
}

# Eight groups as RFC 5952 text: lower case, no leading zeros, the longest run of two or more
# zero groups (the first on a tie) written "::".
canon() {
  local -a g=("$@")
  local i best=-1 bestlen=1 start=-1 out='' hex
  for ((i = 0; i <= 8; i++)); do
    if ((i < 8 && g[i] == 0)); then
      ((start >= 0)) || start=$i
    elif ((start >= 0)); then
      if ((i - start > bestlen)); then best=$start bestlen=$((i - start)); fi
      start=-1
    fi
  done
  for ((i = 0; i < 8; i++)); do
    if ((i == best)); then out+='::'; i=$((i + bestlen - 1)); continue; fi
    [[ -z $out || $out == *:: ]] || out+=':'
    printf -v hex '%x' "${'$'}{g[i]}"
    out+=$hex
  done
  echo "$out"
}

# Each group's bits that belong to the block.
mask=()
for ((i = 0; i < 8; i++)); do
  bits=$((length - 16 * i))
  bits=$((bits < 0 ? 0 : bits > 16 ? 16 : bits))
  mask+=($(((0xffff << (16 - bits)) & 0xffff)))
done

# An address of the stand-in, moved into the block: the block's bits, then its own.
move() {
  local text i
  local -a g out=()
  text=$(groups "$1") || return 1
  read -ra g <<<"$text"
  for ((i = 0; i < 8; i++)); do
    (((g[i] & mask[i]) == stand_in[i])) || return 1
    out+=($((block[i] | (g[i] & ~mask[i] & 0xffff))))
  done
  canon "${'$'}{out[@]}"
}

[ $# -ge 1 ] || die "usage: native6-relocate <block> <file>..."
[[ $1 =~ ^([0-9a-fA-F:]+)/([0-9]+)$ ]] || die "the provider's block is \"$1\", not an IPv6 prefix"
[ "${'$'}{BASH_REMATCH[2]}" = "$length" ] || die "the provider's block $1 is not a /$length, the size the plan was made for (spec.network.blockSize)"
text=$(groups "${'$'}{BASH_REMATCH[1]}") || die "the provider's block $1 is not an IPv6 prefix"
read -ra block <<<"$text"
for ((i = 0; i < 8; i++)); do
  (((block[i] & ~mask[i] & 0xffff) == 0)) || die "the provider's block $1 has bits set past its /$length"
done
shift
for f in "$@"; do
  [ -f "$f" ] || die "no file $f"
  # Longest first: an address is never the start of a longer one still to move.
  tokens=$(grep -oE "$head:[0-9a-f:]*" "$f" | awk '{ print length($0), $0 }' | sort -u -k1,1nr -k2,2 | cut -d' ' -f2) || true
  edits=()
  for tok in $tokens; do
    real=$(move "$tok") || die "$f: $tok is not an address of the stand-in block"
    edits+=(-e "s|$tok|$real|g")
  done
  [ ${'$'}{#edits[@]} -eq 0 ] || sed -i "${'$'}{edits[@]}" "$f"
  ! grep -qE "$head:" "$f" || die "$f: an address of the stand-in block is left"
done
`;
}

/**
 * The boot script's lines that learn the provider's block (the platform's
 * discovery, which must give it) and move the files' addresses into it,
 * once: then the script runs again, its own addresses moved too.
 */
export function relocationLines(discovery: { readonly block?: readonly string[] }, files: readonly string[]): string[] {
  if (!discovery.block) throw new Error('the platform gives no way for a machine to learn its block, which spec.network.blockSize needs: name the block (spec.network.block)');
  return [
    '# The plan is relative to the block the provider assigned (spec.network.blockSize): its addresses',
    '# are moved into that block (the parent block of this machine\'s address) once, then this script runs again.',
    'block=',
    ...discovery.block,
    '[ -n "$block" ] && [ "$block" != null ] || fail "no parent block for this machine\'s address in the metadata"',
    `if [ ! -e ${BLOCK_FILE} ]; then`,
    '  log "the provider\'s block is $block: the plan\'s addresses moved into it"',
    `  ${RELOCATE_SCRIPT} "$block" ${[...files, BOOT_SCRIPT].join(' ')}`,
    `  echo "$block" > ${BLOCK_FILE}`,
    `  exec ${BOOT_SCRIPT}`,
    'fi',
    `[ "$(cat ${BLOCK_FILE})" = "$block" ] || fail "the addresses were moved into $(cat ${BLOCK_FILE}), the metadata now says $block"`,
  ];
}
