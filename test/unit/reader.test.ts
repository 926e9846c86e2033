/**
 * The strict reader under the spec decoder (lib/cluster/reader.ts), on its
 * own: each kind of value named as a problem names it, with its line and
 * column; whole numbers only, in range; a required field that is null is
 * missing; unknown fields with the closest known name.
 */
import assert from 'node:assert/strict';
import { describe as suite, it } from 'node:test';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { closest, describe, isNull, Reader } from '../../lib/cluster/reader.js';

/** A document's root mapping, its fields by name, and a reader for it. */
function read(text: string) {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const reader = new Reader('spec.yaml', lines);
  const node = (name: string) => doc.get(name, true) as Node | null;
  return { reader, root: doc.contents as Node, node };
}

suite('the spec reader', () => {
  it('names each kind of value', () => {
    const { node } = read('s: text\nn: 42\nb: true\nf: false\nz: ~\nm: {a: 1}\nl: [1]\nd: 2001-12-14\n');
    assert.equal(describe(node('s')), 'the string "text"');
    assert.equal(describe(node('n')), 'the number 42');
    assert.equal(describe(node('b')), 'the boolean true');
    assert.equal(describe(node('f')), 'the boolean false');
    assert.equal(describe(node('z')), 'nothing');
    assert.equal(describe(null), 'nothing');
    assert.equal(describe(undefined), 'nothing');
    assert.equal(describe(node('m')), 'a mapping');
    assert.equal(describe(node('l')), 'a list');
    // YAML 1.2's core schema reads a date as a string; a scalar of another type is shown as itself.
    assert.equal(describe(node('d')), 'the string "2001-12-14"');
    const big = read('n: 1\n').node('n') as Node & { value: unknown };
    big.value = 12n;
    assert.equal(describe(big), '12');
    assert.equal(describe({} as Node), 'an unsupported value');
  });

  it('null, absent and a YAML null are nothing; zero, false and the empty string are not', () => {
    const { node } = read('z: ~\nn: null\ne:\nzero: 0\nf: false\ns: ""\n');
    for (const v of [null, undefined, node('z'), node('n'), node('e')]) assert.equal(isNull(v), true, String(v));
    for (const name of ['zero', 'f', 's']) assert.equal(isNull(node(name)), false, name);
    assert.equal(isNull(read('m: {}\n').node('m')), false);
  });

  it('integer: whole numbers in range only; anything else reported at its line and column, with what was found', () => {
    const { reader, node } = read('ok: 3\nlow: 0\nhigh: 11\nhalf: 1.5\ntext: "3"\nword: abc\nlist: [3]\n');
    assert.equal(reader.integer(node('ok'), ['ok'], 1, 10, 'fix'), 3);
    assert.equal(reader.integer(node('low'), ['low'], 0, 10, 'fix'), 0, 'the bounds are in range');
    assert.equal(reader.integer(node('high'), ['high'], 1, 11, 'fix'), 11);
    assert.equal(reader.problems.length, 0);
    for (const name of ['half', 'text', 'word', 'list']) assert.equal(reader.integer(node(name), [name], 1, 10, 'fix'), undefined, name);
    assert.equal(reader.integer(node('low'), ['low'], 1, 10, 'fix'), undefined);
    assert.equal(reader.integer(node('high'), ['high'], 1, 10, 'fix'), undefined);
    assert.deepEqual(
      reader.problems.map((p) => `${p.line}:${p.column} ${p.field} ${p.message}`),
      [
        '4:7 half must be a whole number, found the number 1.5',
        '5:7 text must be a whole number, found the string "3"',
        '6:7 word must be a whole number, found the string "abc"',
        '7:7 list must be a whole number, found a list',
        '2:6 low 0 is out of range (1 to 10)',
        '3:7 high 11 is out of range (1 to 10)',
      ],
    );
  });

  it('string and sequence: the right kind or a problem naming what was found', () => {
    const { reader, node } = read('s: text\nn: 4\nl: [a]\nm: {a: 1}\n');
    assert.equal(reader.string(node('s'), ['s'], 'fix'), 'text');
    assert.equal(reader.string(node('n'), ['n'], 'fix'), undefined);
    assert.equal(reader.sequence(node('l'), ['l'], 'fix')?.length, 1);
    assert.equal(reader.sequence(node('m'), ['m'], 'fix'), undefined);
    assert.deepEqual(
      reader.problems.map((p) => `${p.line}:${p.column} ${p.field} ${p.message} / ${p.fix}`),
      ['2:4 n must be a string, found the number 4 / fix', '4:4 m must be a list, found a mapping / fix'],
    );
  });

  it('a problem without a node has no position', () => {
    const { reader } = read('a: 1\n');
    reader.report(['a', 'b'], undefined, 'is wrong', 'fix it');
    reader.report(['c'], null, 'is wrong', 'fix it');
    assert.deepEqual(reader.problems, [
      { file: 'spec.yaml', field: 'a.b', message: 'is wrong', fix: 'fix it' },
      { file: 'spec.yaml', field: 'c', message: 'is wrong', fix: 'fix it' },
    ]);
  });

  it('fields: the known ones; unknown ones reported with the closest known name, or the list; a key that is not a string', () => {
    const { reader, root } = read('name: a\nnmae: b\nzzzz: c\n1: d\n');
    const fields = reader.fields(root, ['spec'], ['name', 'count']);
    assert.deepEqual([...fields!.keys()], ['name']);
    assert.deepEqual(
      reader.problems.map((p) => `${p.line}:${p.column} ${p.field} ${p.message} / ${p.fix}`),
      [
        '2:1 spec.nmae unknown field "nmae" / did you mean "name"? Known fields here: name, count',
        '3:1 spec.zzzz unknown field "zzzz" / remove it; known fields here: name, count',
        '4:1 spec has a key that is not a string / use plain field names as keys',
      ],
    );
    assert.equal(reader.fields(read('- a\n').root, ['spec'], ['name']), undefined);
    assert.match(reader.problems.at(-1)!.message, /^must be a mapping, found a list$/);
  });

  it('fields: an unknown name that belongs elsewhere says where, instead of the closest known name', () => {
    const { reader, root } = read('name: a\nnat64Prefix: b\nnmae: c\nconstructor: d\n');
    const misplaced = new Map([['nat64Prefix', { why: 'it is read elsewhere', fix: 'move it there' }]]);
    const fields = reader.fields(root, ['spec'], ['name', 'count'], misplaced);
    assert.deepEqual([...fields!.keys()], ['name']);
    assert.deepEqual(
      reader.problems.map((p) => `${p.line}:${p.column} ${p.field} ${p.message} / ${p.fix}`),
      [
        '2:1 spec.nat64Prefix unknown field "nat64Prefix": it is read elsewhere / move it there',
        '3:1 spec.nmae unknown field "nmae" / did you mean "name"? Known fields here: name, count',
        // A name of Object's prototype is an unknown field like any other.
        '4:1 spec.constructor unknown field "constructor" / remove it; known fields here: name, count',
      ],
    );
  });

  it('required: a field that is absent or null is reported missing (at its key, or at the parent when absent)', () => {
    const { reader, root } = read('spec:\n  a: 1\n  b: ~\n');
    const spec = (root as unknown as { get(k: string, keep: true): Node }).get('spec', true);
    const fields = reader.fields(spec, ['spec'], ['a', 'b', 'c'])!;
    assert.equal((reader.required(fields, 'a', spec, ['spec'], 'fix') as unknown as { value: number }).value, 1);
    assert.equal(reader.required(fields, 'b', spec, ['spec'], 'fix b'), undefined);
    assert.equal(reader.required(fields, 'c', spec, ['spec'], 'fix c'), undefined);
    assert.deepEqual(
      reader.problems.map((p) => `${p.line}:${p.column} ${p.field} ${p.message} / ${p.fix}`),
      ['3:3 spec.b is required / fix b', '2:3 spec.c is required / fix c'],
    );
  });

  it('closest: the known name within two edits, case aside; the first of equally close ones; none further', () => {
    assert.equal(closest('nmae', ['name', 'count']), 'name');
    assert.equal(closest('NAME', ['name']), 'name');
    assert.equal(closest('ab', ['ac', 'ad']), 'ac');
    assert.equal(closest('abcd', ['abxy', 'abcx']), 'abcx', 'the closer one, though later');
    assert.equal(closest('abcdef', ['abcxyz']), undefined, 'three edits away');
    assert.equal(closest('abcdef', ['abcdxy']), 'abcdxy', 'two edits away');
  });
});
