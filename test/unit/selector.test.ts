/**
 * Calico v3 label selectors (lib/calico/selector.ts): every operator, the
 * precedence of && over ||, negation, what an absent key does, the
 * selectors this repository's policies use, and the errors for malformed
 * selectors (each naming the selector, the position and what was expected).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSelector, SelectorError } from '../../lib/platforms/lab/calicoNode/selector.js';

type Labels = Record<string, string>;

/** Asserts that `text` parses and selects every label set in `yes` and none in `no`. */
function check(text: string, yes: readonly Labels[], no: readonly Labels[]): void {
  const s = parseSelector(text);
  assert.equal(s.text, text);
  for (const labels of yes) assert.equal(s.matches(labels), true, `${text} should match ${JSON.stringify(labels)}`);
  for (const labels of no) assert.equal(s.matches(labels), false, `${text} should not match ${JSON.stringify(labels)}`);
}

/** Asserts that `text` is rejected with exactly this position, expectation and finding. */
function rejects(text: string, position: number, expected: string, found: string): void {
  assert.throws(
    () => parseSelector(text),
    (e: unknown) => {
      assert.ok(e instanceof SelectorError, `${JSON.stringify(text)}: not a SelectorError: ${String(e)}`);
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'SelectorError');
      assert.equal(e.selector, text);
      assert.equal(e.position, position, `${JSON.stringify(text)}: ${e.message}`);
      assert.equal(e.expected, expected, `${JSON.stringify(text)}: ${e.message}`);
      assert.equal(e.found, found, `${JSON.stringify(text)}: ${e.message}`);
      return true;
    },
  );
}

test("the repository's policy selectors", () => {
  const dns = { 'k8s-app': 'kube-dns' };
  const publicPod = { 'native6.dev/public': 'true', app: 'echo' };
  const clusterPod = { 'native6.dev/network': 'cluster' };
  const trustedPod = { 'native6.dev/network': 'trusted' };
  const elsewhere = { 'native6.dev/network': 'public' };

  check('all()', [{}, dns, publicPod], []);
  check("native6.dev/public != 'true'", [{}, dns, { 'native6.dev/public': 'false' }, { 'native6.dev/public': '' }], [publicPod]);
  check("native6.dev/public == 'true'", [publicPod], [{}, dns, { 'native6.dev/public': 'True' }]);
  check("native6.dev/network in {'cluster', 'trusted'}", [clusterPod, trustedPod], [{}, elsewhere, dns]);
  check("native6.dev/network in {'cluster', 'trusted', 'public'}", [clusterPod, trustedPod, elsewhere], [{}, { 'native6.dev/network': 'other' }]);
  check("k8s-app == 'kube-dns'", [dns, { ...dns, 'pod-template-hash': 'abc' }], [{}, { 'k8s-app': 'kube-dns-autoscaler' }, { app: 'kube-dns' }]);
  check(
    "projectcalico.org/name == 'kube-system'",
    [{ 'projectcalico.org/name': 'kube-system', 'kubernetes.io/metadata.name': 'kube-system' }],
    [{}, { 'projectcalico.org/name': 'default' }, { 'kubernetes.io/metadata.name': 'kube-system' }],
  );
  check("native6.dev/network == 'trusted'", [trustedPod], [{}, clusterPod, { 'native6.dev/network': 'trusted ' }]);
  // The IPv4 egress guard and allow (policies/baseline/*-ipv4-egress.yaml): labelled workloads and Flux's source-controller;
  // the guard lets CoreDNS through too (its upstream resolvers are IPv4), but not another kube-system pod nor kube-dns's label elsewhere.
  const labelled = { 'native6.dev/ipv4-egress': 'true', 'projectcalico.org/namespace': 'echo' };
  const source = { app: 'source-controller', 'projectcalico.org/namespace': 'flux-system' };
  const elsewhereSource = { app: 'source-controller', 'projectcalico.org/namespace': 'echo' };
  const otherFlux = { app: 'kustomize-controller', 'projectcalico.org/namespace': 'flux-system' };
  const declined = { 'native6.dev/ipv4-egress': 'false' };
  const coreDNS = { 'k8s-app': 'kube-dns', 'pod-template-hash': 'abc', 'projectcalico.org/namespace': 'kube-system' };
  const otherSystem = { 'k8s-app': 'kube-proxy', 'projectcalico.org/namespace': 'kube-system' };
  const elsewhereDNS = { 'k8s-app': 'kube-dns', 'projectcalico.org/namespace': 'echo' };
  check(
    "native6.dev/ipv4-egress != 'true' && !(projectcalico.org/namespace == 'flux-system' && app == 'source-controller') && !(projectcalico.org/namespace == 'kube-system' && k8s-app == 'kube-dns')",
    [{}, elsewhereSource, otherFlux, declined, otherSystem, elsewhereDNS],
    [labelled, source, { ...source, 'native6.dev/ipv4-egress': 'true' }, coreDNS],
  );
  check(
    "native6.dev/ipv4-egress == 'true' || (projectcalico.org/namespace == 'flux-system' && app == 'source-controller')",
    [labelled, source, { ...source, 'native6.dev/ipv4-egress': 'true' }],
    [{}, elsewhereSource, otherFlux, declined],
  );
  check("native6.dev/network == 'nat64'", [{ 'native6.dev/network': 'nat64' }], [{}, clusterPod, { 'native6.dev/network': 'nat64 ' }]);
});

test('== and != with either quote', () => {
  check(`a == "b"`, [{ a: 'b' }, { a: 'b', c: 'd' }], [{}, { a: 'c' }, { c: 'b' }, { a: 'B' }, { a: 'b ' }]);
  check(`a == 'b'`, [{ a: 'b' }], [{ a: 'bb' }]);
  check(`a != 'b'`, [{}, { a: 'c' }, { c: 'b' }, { a: '' }], [{ a: 'b' }]);
  check(`a != "b"`, [{ a: 'c' }], [{ a: 'b' }]);
  // The empty string is a value like any other.
  check(`a == ''`, [{ a: '' }], [{}, { a: 'x' }]);
  check(`a != ""`, [{}, { a: 'x' }], [{ a: '' }]);
  // No escapes: a string ends at the next quote of its own kind, so it may hold the other kind.
  check(`a == "it's"`, [{ a: "it's" }], [{ a: 'its' }]);
  check(`a == '"q"'`, [{ a: '"q"' }], [{ a: 'q' }]);
  // Operators and brackets inside a string are only text.
  check(`a == '&& || ( ) { } , ! == in'`, [{ a: '&& || ( ) { } , ! == in' }], [{}]);
});

test('in and not in, with sets of any size', () => {
  check(`a in {'x', "y"}`, [{ a: 'x' }, { a: 'y' }], [{}, { a: 'z' }, { a: 'x, y' }, { b: 'x' }]);
  check(`a not in {'x', "y"}`, [{}, { a: 'z' }, { b: 'x' }], [{ a: 'x' }, { a: 'y' }]);
  check(`a in {'x'}`, [{ a: 'x' }], [{ a: 'y' }]);
  check(`a in {}`, [], [{}, { a: '' }, { a: 'x' }]);
  check(`a not in {}`, [{}, { a: '' }, { a: 'x' }], []);
  check(`a in {''}`, [{ a: '' }], [{}, { a: 'x' }]);
  check(`a in {"'", '"', 'c'}`, [{ a: "'" }, { a: '"' }, { a: 'c' }], [{}, { a: 'e' }]);
  // As in Calico: a trailing comma is allowed, and the space in `not in` is optional.
  check(`a in {'x', 'y',}`, [{ a: 'y' }], [{ a: '' }]);
  check(`a notin {'x'}`, [{ a: 'y' }], [{ a: 'x' }]);
  check(`a in{'x'}`, [{ a: 'x' }], [{}]);
});

test('contains, starts with and ends with', () => {
  check(`a contains 'ub'`, [{ a: 'kube' }, { a: 'ub' }], [{}, { a: 'u b' }, { a: 'UB' }]);
  check(`a contains ''`, [{ a: '' }, { a: 'x' }], [{}]);
  check(`a starts with 'kube-'`, [{ a: 'kube-dns' }, { a: 'kube-' }], [{}, { a: 'kube' }, { a: 'x-kube-dns' }]);
  check(`a ends with '.local'`, [{ a: 'svc.local' }, { a: '.local' }], [{}, { a: 'local' }, { a: 'svc.local.' }]);
  // Calico also accepts these operators without the space, and without one before the string.
  check(`a startswith"x"`, [{ a: 'xy' }], [{ a: 'yx' }]);
  check(`a endswith 'x'`, [{ a: 'yx' }], [{ a: 'xy' }]);
  check(`a contains'x'`, [{ a: 'yxy' }], [{ a: 'y' }]);
});

test('has(), !has(), all(), global() and the empty selector', () => {
  check('has(a)', [{ a: '' }, { a: 'x' }], [{}, { b: 'a' }]);
  check('has( native6.dev/network )', [{ 'native6.dev/network': 'cluster' }], [{}]);
  check('!has(a)', [{}, { b: 'a' }], [{ a: '' }]);
  check('all()', [{}, { a: 'x' }], []);
  check('all( )', [{}], []);
  // global() is what Calico makes of it in a namespaceSelector: no namespace label.
  check('global()', [{}, { a: 'x' }], [{ 'projectcalico.org/namespace': 'default' }]);
  check('!global()', [{ 'projectcalico.org/namespace': 'default' }], [{}]);
  // "" and a selector of spaces and tabs select everything, as all() does.
  for (const blank of ['', ' ', '\t', ' \t  ']) check(blank, [{}, { a: 'x' }], []);
});

test('when a key is absent, only != and not in are true', () => {
  const absent: Labels = { other: 'v' };
  const cases: [string, boolean][] = [
    [`key == 'v'`, false],
    [`key != 'v'`, true],
    [`key in {'v'}`, false],
    [`key not in {'v'}`, true],
    [`key contains 'v'`, false],
    [`key contains ''`, false],
    [`key starts with ''`, false],
    [`key ends with ''`, false],
    [`has(key)`, false],
    [`!has(key)`, true],
    [`!key == 'v'`, true],
    [`!key != 'v'`, false],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseSelector(text).matches(absent), expected, text);
    assert.equal(parseSelector(text).matches({}), expected, `${text} on no labels`);
  }
  // Only own keys are labels: nothing from Object.prototype.
  check(`constructor == 'x'`, [{ constructor: 'x' }], [{}]);
  check(`toString != 'x'`, [{}], [{ toString: 'x' }]);
  check('has(__proto__)', [], [{}]);
  check(`hasOwnProperty not in {'x'}`, [{}], []);
});

test('&& binds tighter than ||', () => {
  const text = `a == 'x' || b == 'y' && c == 'z'`;
  // a == 'x' || (b == 'y' && c == 'z')
  check(text, [{ a: 'x' }, { a: 'x', b: 'n' }, { b: 'y', c: 'z' }, { a: 'n', b: 'y', c: 'z' }], [{}, { b: 'y' }, { c: 'z' }, { a: 'n', b: 'y' }]);
  check(`b == 'y' && c == 'z' || a == 'x'`, [{ a: 'x' }, { b: 'y', c: 'z' }], [{ b: 'y' }]);
  // Parentheses override it.
  check(`(a == 'x' || b == 'y') && c == 'z'`, [{ a: 'x', c: 'z' }, { b: 'y', c: 'z' }], [{ a: 'x' }, { b: 'y' }, { c: 'z' }]);
  // Chains of the same operator, and nesting.
  check(`has(a) && has(b) && has(c)`, [{ a: '', b: '', c: '' }], [{ a: '', b: '' }, { b: '', c: '' }]);
  check(`has(a) || has(b) || has(c)`, [{ a: '' }, { b: '' }, { c: '' }], [{}, { d: '' }]);
  check(`((has(a)) && ((has(b) || (has(c)))))`, [{ a: '', b: '' }, { a: '', c: '' }], [{ a: '' }, { b: '', c: '' }]);
});

test('negation applies to the term it precedes, and repeats', () => {
  check(`!a == 'x'`, [{}, { a: 'y' }], [{ a: 'x' }]);
  check(`!a != 'x'`, [{ a: 'x' }], [{}, { a: 'y' }]);
  check(`!a in {'x'}`, [{}, { a: 'y' }], [{ a: 'x' }]);
  check(`!!has(a)`, [{ a: '' }], [{}]);
  check(`!!!has(a)`, [{}], [{ a: '' }]);
  check(`! ! has(a)`, [{ a: '' }], [{}]);
  check(`!all()`, [], [{}, { a: 'x' }]);
  // ! binds tighter than && and ||.
  check(`!has(a) && has(b)`, [{ b: '' }], [{ a: '', b: '' }, {}]);
  check(`!has(a) || has(b)`, [{}, { a: '', b: '' }], [{ a: '' }]);
  // De Morgan, over every combination of two labels.
  const both = parseSelector(`!(a == 'x' || b == 'y')`);
  const each = parseSelector(`!(a == 'x') && !(b == 'y')`);
  for (const a of [undefined, 'x', 'n']) {
    for (const b of [undefined, 'y', 'n']) {
      const labels: Labels = {};
      if (a !== undefined) labels.a = a;
      if (b !== undefined) labels.b = b;
      assert.equal(both.matches(labels), each.matches(labels), JSON.stringify(labels));
      assert.equal(both.matches(labels), a !== 'x' && b !== 'y', JSON.stringify(labels));
    }
  }
});

test('whitespace: spaces and tabs anywhere between tokens, or none', () => {
  check(`  a=='x'&&b!='y'||!has(c)  `, [{ a: 'x' }, {}], [{ c: '' }, { a: 'x', b: 'y', c: '' }]);
  check(`\ta\t==\t'x'\t`, [{ a: 'x' }], [{}]);
  check(`( a   in   { 'x' ,'y' } )`, [{ a: 'y' }], [{}]);
  check(`a  not   in {'x'}`, [{}], [{ a: 'x' }]);
  check(`a starts   with 'x'`, [{ a: 'x1' }], [{}]);
  check(`has(   a   )`, [{ a: '' }], [{}]);
  check(`all(   )&&global(  )`, [{}], [{ 'projectcalico.org/namespace': 'x' }]);
});

test('label keys: letters, digits, dots, slashes, dashes and underscores; keywords are keys too', () => {
  check(`projectcalico.org/name == 'x'`, [{ 'projectcalico.org/name': 'x' }], [{ name: 'x' }]);
  check(`native6.dev/network == 'x'`, [{ 'native6.dev/network': 'x' }], [{}]);
  check(`k8s-app == 'x'`, [{ 'k8s-app': 'x' }], [{ k8s: 'x' }]);
  check(`app.kubernetes.io/part-of_2 == 'x'`, [{ 'app.kubernetes.io/part-of_2': 'x' }], [{}]);
  check(`K8S_App-9 == 'x'`, [{ 'K8S_App-9': 'x' }], [{ 'k8s_app-9': 'x' }]);
  // all, has, global, in, not, contains are keywords only where Calico reads them as such.
  check(`all == 'x'`, [{ all: 'x' }], [{}]);
  check(`has == 'x' && in == 'y'`, [{ has: 'x', in: 'y' }], [{ has: 'x' }]);
  check(`global != 'x'`, [{}], [{ global: 'x' }]);
  check(`not in {'x'}`, [{ not: 'x' }], [{}]);
  check(`contains contains 'x'`, [{ contains: 'yxy' }], [{}]);
  check(`has(has)`, [{ has: '' }], [{}]);
  // Keys are up to 512 characters.
  const longest = 'k'.repeat(512);
  check(`${longest} == 'x'`, [{ [longest]: 'x' }], [{}]);
  check(`has(${longest})`, [{ [longest]: '' }], [{}]);
});

test('a selector keeps its text and can be reused', () => {
  const text = " native6.dev/network in {'cluster', 'trusted'} ";
  const s = parseSelector(text);
  assert.equal(s.text, text);
  assert.equal(String(s), text);
  assert.equal(s.matches({ 'native6.dev/network': 'cluster' }), true);
  assert.equal(s.matches({ 'native6.dev/network': 'public' }), false);
  assert.equal(s.matches({ 'native6.dev/network': 'trusted' }), true);
});

test('malformed selectors: SelectorError with the selector, the position and what was expected', () => {
  const term = "a term (a label key, has(key), all(), global(), '!' or '(')";
  const operator = (key: string): string => `an operator (==, !=, in, not in, contains, starts with or ends with) after label '${key}'`;
  const end = "'&&', '||' or the end of the selector";

  // The message names all three.
  assert.throws(() => parseSelector(`k8s-app = 'kube-dns'`), {
    name: 'SelectorError',
    message: `invalid selector "k8s-app = 'kube-dns'": at position 8, expected ${operator('k8s-app')}, found '='`,
  });
  assert.throws(() => parseSelector(`a == 'b`), {
    message: `invalid selector "a == 'b": at position 5, expected a closing ' to end the string that starts here, found end of selector`,
  });

  // Unknown tokens.
  rejects('%', 0, term, "'%'");
  rejects(`a == 'b' && %`, 12, term, "'%'");
  rejects(`a == 'b' & c == 'd'`, 9, end, "'&'");
  rejects(`a == 'b' | c == 'd'`, 9, end, "'|'");
  rejects(`a is 'b'`, 2, operator('a'), "'is'");
  rejects(`a b`, 2, operator('a'), "'b'");
  rejects(`a == 'é' && é`, 12, term, "'é'");
  // Calico separates tokens with spaces and tabs only.
  rejects(`a == 'b'\n`, 8, end, '"\\n"');
  rejects('\n', 0, term, '"\\n"');

  // Unterminated strings.
  rejects(`"FOO`, 0, 'a closing " to end the string that starts here', 'end of selector');
  rejects(`a in {'x', "y'}`, 11, 'a closing " to end the string that starts here', 'end of selector');

  // Missing operands and operators.
  rejects('b', 1, operator('b'), 'end of selector');
  rejects(`b == b`, 5, "a quoted string after '=='", "label 'b'");
  rejects(`b != ||`, 5, "a quoted string after '!='", "'||'");
  rejects(`b contains b`, 11, "a quoted string after 'contains'", "label 'b'");
  rejects(`b starts with 1`, 14, "a quoted string after 'starts with'", "label '1'");
  rejects(`b ends with`, 11, "a quoted string after 'ends with'", 'end of selector');
  rejects(`'b' == b`, 0, term, "string 'b'");
  rejects('!', 1, term, 'end of selector');
  rejects(`has(a) &&`, 9, term, 'end of selector');
  rejects(`|| has(a)`, 0, term, "'||'");
  rejects(`has(a) || || has(b)`, 10, term, "'||'");

  // Sets.
  rejects(`a in "x"`, 5, "'{' to start the set of values after 'in'", `string "x"`);
  rejects(`a not in 'x'`, 9, "'{' to start the set of values after 'not in'", "string 'x'");
  rejects(`a in {'x' 'y'}`, 10, "',' or '}'", "string 'y'");
  rejects(`a in {'x', 'y'`, 14, "',' or '}'", 'end of selector');
  rejects(`a in {,}`, 6, "a quoted string or '}'", "','");
  rejects(`a in {'x',,}`, 10, "a quoted string or '}'", "','");
  rejects(`a in {x}`, 6, "a quoted string or '}'", "label 'x'");
  rejects(`a inx {'x'}`, 2, operator('a'), "'inx'");

  // Parentheses.
  rejects('(', 1, term, 'end of selector');
  rejects(`(a == 'x'`, 9, "'&&', '||' or ')' to close the '(' at position 0", 'end of selector');
  rejects(`((a == 'x') || has(b)`, 21, "'&&', '||' or ')' to close the '(' at position 0", 'end of selector');
  rejects(')', 0, term, "')'");
  rejects('()', 1, term, "')'");
  rejects(`a == 'x')`, 8, end, "')'");

  // Trailing garbage.
  rejects(`a == 'x' b == 'y'`, 9, end, "label 'b'");
  rejects(`has(a) has(b)`, 7, end, "'has(b)'");
  rejects(`all() all()`, 6, end, "'all()'");

  // has(), all(), global() written wrongly.
  rejects('has()', 4, 'a label key inside has(...)', "')'");
  rejects('has(a b)', 6, "')' to close has(", "'b'");
  rejects('has(a', 5, "')' to close has(", 'end of selector');
  rejects('has (a)', 4, operator('has'), "'('");
  rejects('all(x)', 4, "')' to complete all()", "'x'");
  rejects('global(', 7, "')' to complete global()", 'end of selector');
  rejects(`has(${'k'.repeat(513)})`, 4, 'a label key of at most 512 characters', 'a key of 513 characters');
  rejects(`${'k'.repeat(513)} == 'x'`, 512, operator('k'.repeat(512)), "'k'");

  // Nesting is bounded (Calico's is not, but no policy comes near).
  const deep = (n: number): string => `${'('.repeat(n)}has(a)${')'.repeat(n)}`;
  check(deep(1000), [{ a: '' }], [{}]);
  rejects(deep(1001), 1000, 'at most 1000 nested parentheses', "'('");
  // The limit is on nesting, not on the number of groups: 1,001 groups side by side are fine.
  const sideBySide = Array.from({ length: 1001 }, () => "(a == '')").join(' && ');
  check(sideBySide, [{ a: '' }], [{ a: 'x' }, {}]);
});
