/**
 * A strict reader over a parsed YAML document: every value is read through
 * it, so every problem carries the file, the line and the field path, and
 * unknown fields are reported instead of ignored.
 */
import { isMap, isNode, isScalar, isSeq, type LineCounter, type Node, type Pair } from 'yaml';
import { editDistance } from '../text/suggest.js';
import { fieldPath, type Problem } from './problems.js';

export type Path = ReadonlyArray<string | number>;

export interface Field {
  readonly key: Node;
  readonly value: Node | null;
}

/**
 * What to say of an unknown field that is a known one in the wrong place
 * (e.g. an egress option under spec.network): why it is not read here, and
 * where it goes.
 */
export interface Misplaced {
  readonly why: string;
  readonly fix: string;
}

/** A field path as a chain back to the root: built only when a problem needs it. */
interface PathLink {
  readonly up: PathLink | undefined;
  readonly part: string | number;
}

function pathOf(link: PathLink | undefined): Path {
  const out: Array<string | number> = [];
  for (let l = link; l; l = l.up) out.push(l.part);
  return out.reverse();
}

export class Reader {
  readonly problems: Problem[] = [];

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  report(path: Path, node: Node | null | undefined, message: string, fix: string): void {
    const offset = node?.range?.[0];
    const pos = offset !== undefined ? this.lines.linePos(offset) : undefined;
    this.problems.push({
      file: this.file,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
      field: fieldPath(path),
      message,
      fix,
    });
  }

  /**
   * Every key repeated in a mapping, anywhere under `root`, reported at the
   * repeat with the line of the first. One Set per mapping, so linear in the
   * size of the document: the parser's own check (uniqueKeys) compares each
   * key with every earlier one of its mapping, quadratic in the mapping's
   * size. Keys compare as the parser's check does: scalars by value, other
   * keys (a mapping as a key) by identity. Iterative, so that no nesting
   * depth the parser accepted overflows the stack here. Returns how many
   * were reported.
   */
  duplicateKeys(root: Node | null): number {
    const found: Array<{ offset: number; path: Path; key: Node; first: Node }> = [];
    const stack: Array<{ node: unknown; at: PathLink | undefined }> = [{ node: root, at: undefined }];
    while (stack.length > 0) {
      const { node, at } = stack.pop()!;
      if (isMap(node)) {
        const seen = new Map<unknown, Node>();
        for (const pair of node.items as Pair<unknown, unknown>[]) {
          const key = pair.key;
          const id = isScalar(key) ? key.value : key;
          const part = isScalar(key) ? String(key.value) : '?';
          const first = seen.get(id);
          if (first !== undefined && isNode(key)) found.push({ offset: key.range?.[0] ?? 0, path: pathOf({ up: at, part }), key, first });
          else if (first === undefined && isNode(key)) seen.set(id, key);
          if (isNode(key) && !isScalar(key)) stack.push({ node: key, at });
          stack.push({ node: pair.value, at: { up: at, part } });
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => stack.push({ node: item, at: { up: at, part: i } }));
      }
    }
    found.sort((a, b) => a.offset - b.offset);
    for (const d of found) {
      const offset = d.first.range?.[0];
      const pos = offset !== undefined ? this.lines.linePos(offset) : undefined;
      this.report(d.path, d.key, `is repeated${pos ? ` (first at line ${pos.line})` : ''}`, 'keep one of the repeated keys');
    }
    return found.length;
  }

  /**
   * The fields of a mapping. Keys not in `known` are reported as unknown,
   * with where they belong when `misplaced` names them, else with the
   * closest known name suggested.
   */
  fields(node: Node | null, path: Path, known: readonly string[], misplaced: ReadonlyMap<string, Misplaced> = new Map()): Map<string, Field> | undefined {
    const out = new Map<string, Field>();
    if (!isMap(node)) {
      this.report(path, node, `must be a mapping, found ${describe(node)}`, `write ${fieldPath(path)} as "key: value" lines`);
      return undefined;
    }
    for (const pair of node.items as Pair<unknown, unknown>[]) {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.report(path, key, 'has a key that is not a string', 'use plain field names as keys');
        continue;
      }
      const name = key.value;
      if (!known.includes(name)) {
        const elsewhere = misplaced.get(name);
        if (elsewhere) {
          this.report([...path, name], key, `unknown field "${name}": ${elsewhere.why}`, elsewhere.fix);
          continue;
        }
        const close = closest(name, known);
        this.report(
          [...path, name],
          key,
          `unknown field "${name}"`,
          close ? `did you mean "${close}"? Known fields here: ${known.join(', ')}` : `remove it; known fields here: ${known.join(', ')}`,
        );
        continue;
      }
      out.set(name, { key, value: (pair.value as Node | null) ?? null });
    }
    return out;
  }

  /** A required field; reports it missing (at the parent) when absent. */
  required(fields: Map<string, Field>, name: string, parent: Node | null, path: Path, fix: string): Node | undefined {
    const f = fields.get(name);
    if (!f || isNull(f.value)) {
      this.report([...path, name], f?.key ?? parent, `is required`, fix);
      return undefined;
    }
    return f.value ?? undefined;
  }

  string(node: Node | null, path: Path, fix: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.report(path, node, `must be a string, found ${describe(node)}`, fix);
    return undefined;
  }

  integer(node: Node | null, path: Path, min: number, max: number, fix: string): number | undefined {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
      this.report(path, node, `must be a whole number, found ${describe(node)}`, fix);
      return undefined;
    }
    if (node.value < min || node.value > max) {
      this.report(path, node, `${node.value} is out of range (${min} to ${max})`, fix);
      return undefined;
    }
    return node.value;
  }

  sequence(node: Node | null, path: Path, fix: string): Node[] | undefined {
    if (isSeq(node)) return node.items as Node[];
    this.report(path, node, `must be a list, found ${describe(node)}`, fix);
    return undefined;
  }
}

export function isNull(node: Node | null | undefined): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

export function describe(node: Node | null | undefined): string {
  if (isNull(node)) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
    if (typeof v === 'number') return `the number ${v}`;
    if (typeof v === 'boolean') return `the boolean ${v}`;
    return `${String(v)}`;
  }
  return 'an unsupported value';
}

/** The known name within edit distance 2 of `name` (case-insensitive), if any. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}
