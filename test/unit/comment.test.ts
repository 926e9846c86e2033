/** The plan action's PR comment (lib/workflows/comment.ts): exact body, ANSI, the size limit, Mermaid quoting, determinism, problems. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMENT_LIMIT, commentMarker, renderPlanComment, stripAnsi, type PlanCommentInput, type PlanView } from '../../lib/workflows/comment.js';
import type { ResourceChange } from '../../lib/pulumi/stack.js';
import { assertGolden } from '../golden.js';

/** GitHub refuses an issue or pull-request comment whose body is longer than this (its REST API: "body is too long (maximum is 65536 characters)"). */
const GITHUB_LIMIT = 65_536;

const DEVICE = 'equinix:metal/device:Device';
const urn = (type: string, name: string) => `urn:pulumi:dfw::native6::${type}::${name}`;
/** 12345 as 12,345, as the comment writes counts. */
const count = (n: number) => n.toLocaleString('en-US');
const change = (op: ResourceChange['op'], type: string, name: string, diffs?: string[]): ResourceChange => ({ urn: urn(type, name), type, name, op, ...(diffs ? { diffs } : {}) });

const before: PlanView = {
  ranges: [
    { name: 'block', prefix: '2604:1380:4641:c500::/56', purpose: 'reserved block (spec.network.block)' },
    { name: 'nodes', prefix: '2604:1380:4641:c500::/64', purpose: 'node addresses: one /127 per machine' },
    { name: 'services', prefix: '2604:1380:4641:c501::/112', purpose: 'Service ClusterIPs' },
    { name: 'pods', prefix: '2604:1380:4641:c580::/57', purpose: 'pod pool: Calico IPAM blocks of /122' },
  ],
  machines: [
    { name: 'dfw-cp-1', role: 'control-plane', pool: 'cp', address: '2604:1380:4641:c500::3' },
    { name: 'dfw-w-1', role: 'worker', pool: 'w', address: '2604:1380:4641:c500:1::3' },
    { name: 'dfw-w-2', role: 'worker', pool: 'w', address: '2604:1380:4641:c500:1::5' },
  ],
};
const after: PlanView = {
  ranges: [
    { name: 'block', prefix: '2604:1380:4641:c500::/56', purpose: 'reserved block (spec.network.block)' },
    { name: 'nodes', prefix: '2604:1380:4641:c500::/64', purpose: 'node addresses: one /127 per machine' },
    { name: 'services', prefix: '2604:1380:4641:c501::/108', purpose: 'Service ClusterIPs' },
    { name: 'load-balancers', prefix: '2604:1380:4641:c503::/120', purpose: 'LoadBalancer IPs' },
    { name: 'pods', prefix: '2604:1380:4641:c580::/57', purpose: 'pod pool: Calico IPAM blocks of /122' },
  ],
  machines: [
    { name: 'dfw-cp-1', role: 'control-plane', pool: 'cp', address: '2604:1380:4641:c500::3' },
    { name: 'dfw-w-1', role: 'worker', pool: 'w', address: '2604:1380:4641:c500:1::3' },
    { name: 'dfw-gpu-1', role: 'worker', pool: 'gpu', address: '2604:1380:4641:c500:2::3' },
  ],
};

const small: PlanCommentInput = {
  stack: 'dfw',
  specFile: 'infra/dfw.yaml',
  commitSha: '0123456789abcdef0123456789abcdef01234567',
  runUrl: 'https://github.com/acme/native6/actions/runs/42',
  changes: [
    change('same', DEVICE, 'dfw-cp-1'),
    change('delete', DEVICE, 'dfw-w-2'),
    change('create', DEVICE, 'dfw-gpu-1'),
    change('update', 'kubernetes:core/v1:ConfigMap', 'calico-config', ['metadata', 'data', 'data']),
    change('replace', 'equinix:metal/bgpSession:BgpSession', 'dfw-w-1-bgp', ['deviceId']),
    change('read', 'equinix:metal/project:Project', 'lab'),
  ],
  before,
  after,
  problems: [{ file: 'infra/dfw.yaml', line: 21, field: 'spec.workers[1].plan', message: 'plan "m3.huge" is not offered in dfw', fix: 'use one of m3.large.x86, m3.small.x86' }],
  rawOutput:
    '\u001b[1mPreviewing update (dfw)\u001b[0m\n\n' +
    '    \u001b[32m+ \u001b[0mequinix:metal:Device dfw-gpu-1 \u001b[1;32mcreate\u001b[0m\n' +
    '    \u001b[31m- \u001b[0mequinix:metal:Device dfw-w-2 \u001b[31mdelete\u001b[0m\r\n' +
    '\u001b[1mResources:\u001b[0m\n    \u001b[32m+ 1 to create\u001b[0m\n',
};

test('comment: the exact body of a small plan (golden)', () => {
  const body = renderPlanComment(small);
  assertGolden('comment/dfw.md', body);
  assert.ok(body.startsWith('<!-- native6:plan stack=dfw -->\n## Plan for `dfw`: `infra/dfw.yaml` at `0123456`\n'));
  // One row per changed resource, most disruptive first; reads and unchanged resources are only counted.
  assert.match(
    body,
    /\| `\+-` replace \| `equinix:metal\/bgpSession:BgpSession` \| `dfw-w-1-bgp` \| `deviceId` \|\n\| `-` delete \| `equinix:metal\/device:Device` \| `dfw-w-2` \|  \|\n\| `\+` create \| `equinix:metal\/device:Device` \| `dfw-gpu-1` \|  \|\n\| `~` update \| `kubernetes:core\/v1:ConfigMap` \| `calico-config` \| `data`, `metadata` \|\n\n/,
  );
  assert.match(body, /\| `>` read \| 1 \|\n\| `·` same \| 1 \|\n\| \*\*total\*\* \| \*\*6\*\* \|/);
  assert.match(body, /\| `~` changed \| `services` \| `2604:1380:4641:c501::\/112` \| `2604:1380:4641:c501::\/108` \| Service ClusterIPs \|/);
  assert.match(body, /\| `\+` added \| `load-balancers` \| — \| `2604:1380:4641:c503::\/120` \| LoadBalancer IPs \|/);
  assert.match(body, /- `\+` `dfw-gpu-1`: worker in pool `gpu`, `2604:1380:4641:c500:2::3`\n- `-` `dfw-w-2`: worker in pool `w`, `2604:1380:4641:c500:1::5`/);
  assert.match(body, /\n {2}class m1,g3 added\n {2}class m3 removed\n {2}class g2 changed\n```/);
  assert.ok(body.endsWith('```text\nPreviewing update (dfw)\n\n    + equinix:metal:Device dfw-gpu-1 create\n    - equinix:metal:Device dfw-w-2 delete\nResources:\n    + 1 to create\n```\n\n</details>\n'));
});

test('comment: a preview that failed on a spec that did not load (exact body)', () => {
  const body = renderPlanComment({
    stack: 'ams',
    specFile: 'infra/ams.yaml',
    commitSha: 'fedcba9876543210',
    changes: [],
    before,
    problems: [
      { file: 'infra/ams.yaml', field: 'spec.name', message: 'is required', fix: 'add name: ams' },
      { file: 'infra/ams.yaml', line: 4, field: 'spec.network.podPoolSize', message: 'a /40 pool is larger than the /56 block', fix: 'use a /57 or smaller pool' },
    ],
    rawOutput: '',
    failed: '\u001b[31merror:\u001b[0m the spec did not load',
  });
  const expected = [
    '<!-- native6:plan stack=ams -->',
    '## Plan for `ams`: `infra/ams.yaml` at `fedcba9`',
    '',
    '**The preview failed:**',
    '',
    '```text',
    'error: the spec did not load',
    '```',
    '',
    '### Changes',
    '',
    'No resource steps were reported.',
    '',
    '### Address plan',
    '',
    '_The spec on this branch did not load, so there is no plan to compare._',
    '',
    '### Problems in the spec (2)',
    '',
    '- `infra/ams.yaml` `spec.name`: is required. **Fix:** add name: ams',
    '- `infra/ams.yaml:4` `spec.network.podPoolSize`: a /40 pool is larger than the /56 block. **Fix:** use a /57 or smaller pool',
    '',
    '<details><summary>Pulumi preview output</summary>',
    '',
    '_The preview printed nothing._',
    '',
    '</details>',
    '',
  ].join('\n');
  assert.equal(body, expected);
});

test('comment: the marker is one hidden line per stack that nothing in the name can end', () => {
  assert.equal(commentMarker('dfw'), '<!-- native6:plan stack=dfw -->');
  assert.equal(commentMarker('acme/native6/dfw'), '<!-- native6:plan stack=acme/native6/dfw -->');
  assert.equal(commentMarker('x --> y'), '<!-- native6:plan stack=x%20--%3E%20y -->');
  assert.notEqual(commentMarker('dfw'), commentMarker('dfw2'));
  assert.ok(!commentMarker('dfw2').includes(commentMarker('dfw')));
});

test('comment: ANSI escapes are stripped (colours, cursor movement, OSC 8 links), carriage-return overwrites resolved', () => {
  assert.equal(stripAnsi('\u001b[1;32m+ create\u001b[0m'), '+ create');
  assert.equal(stripAnsi('\u001b[2K\u001b[1Aline\u001b[?25l'), 'line');
  assert.equal(stripAnsi('\u001b]8;;https://app.pulumi.com/x\u0007View Live\u001b]8;;\u0007'), 'View Live');
  assert.equal(stripAnsi('\u001b]8;;https://x\u001b\\link\u001b]8;;\u001b\\'), 'link');
  assert.equal(stripAnsi('\u009b31mred\u009b0m'), 'red');
  assert.equal(stripAnsi('\u001b(Bplain\u001b7'), 'plain');
  assert.equal(stripAnsi('no escapes: 2604::1/64'), 'no escapes: 2604::1/64');

  const body = renderPlanComment({ ...small, rawOutput: '\u001b[32mRefreshing (1/3)\rRefreshing (3/3)\u001b[0m\nok\u0007\n', failed: '\u001b[31mboom\u001b[0m' });
  assert.ok(!/[\u001b\u009b\u0007]/.test(body));
  assert.match(body, /```text\nRefreshing \(3\/3\)\nok\n```/);
  assert.match(body, /```text\nboom\n```/);
});

test('comment: ``` in the output cannot close the fence', () => {
  const body = renderPlanComment({ ...small, rawOutput: 'before\n```\nafter ````x\n' });
  const details = body.slice(body.indexOf('<details>'));
  assert.equal((details.match(/^```/gm) ?? []).length, 2, 'only the fence itself starts a line with ```');
  assert.ok(details.includes('`\u200b`\u200b`\nafter `\u200b`\u200b`\u200b`x'));
});

test('comment: the product keeps under GitHub\'s limit', () => {
  assert.ok(COMMENT_LIMIT <= GITHUB_LIMIT, `COMMENT_LIMIT ${COMMENT_LIMIT} is above GitHub's ${GITHUB_LIMIT}`);
});

test('comment: a huge output keeps its tail and says how much was cut', () => {
  const lines = Array.from({ length: 40_000 }, (_, i) => `    + kubernetes:core/v1:ConfigMap cm-${i} create`);
  const raw = `${lines.join('\n')}\n`;
  const body = renderPlanComment({ ...small, rawOutput: raw });
  assert.ok(body.length <= GITHUB_LIMIT, `${body.length} > ${GITHUB_LIMIT}: GitHub would refuse it`);
  assert.ok(body.length > 60_000, `${body.length}: most of GitHub's room is used`);
  assert.ok(body.length > COMMENT_LIMIT - 200, 'as much of the tail as fits is kept');
  assert.ok(body.startsWith(commentMarker('dfw')));
  assert.match(body, /\| \*\*total\*\* \| \*\*6\*\* \|/, 'the summary is whole');
  assert.match(body, /\| `~` update \| `kubernetes:core\/v1:ConfigMap` \| `calico-config` \|/, 'the rows are whole');
  assert.match(body, /```mermaid\n/);
  const kept = /```text\n([\s\S]*)\n```\n\n<\/details>\n$/.exec(body)?.[1];
  assert.ok(kept !== undefined);
  assert.ok(kept.startsWith('    + kubernetes'), 'cut at a line');
  assert.ok(kept.endsWith('cm-39999 create'));
  const clean = raw.trimEnd();
  assert.ok(clean.endsWith(kept));
  const cut = Number(/_The first ([\d,]+) characters of the output were cut/.exec(body)?.[1]?.replace(/,/g, ''));
  assert.equal(cut, clean.length - kept.length);
  // Whole lines, and as many as fit: with the line before them the body would be too long.
  const first = Number(/cm-(\d+) create/.exec(kept)?.[1]);
  assert.equal(kept, lines.slice(first).join('\n'));
  const withOneMore = body.replace(`${count(cut)} characters`, `${count(cut - lines[first - 1]!.length - 1)} characters`).replace(kept, `${lines[first - 1]}\n${kept}`);
  assert.ok(withOneMore.length > COMMENT_LIMIT, `one more line (${withOneMore.length} characters) would have fitted`);
});

test('comment: an output whose kept tail starts exactly at a line keeps that line, blank lines included', () => {
  // Blank lines make whole-line tails of every length, so the cut can land exactly at a line start.
  const lines = Array.from({ length: 30_000 }, (_, i) => (i % 3 === 1 ? '' : `row ${i}`));
  const raw = lines.join('\n');
  const body = renderPlanComment({ ...small, rawOutput: raw });
  assert.ok(body.length <= GITHUB_LIMIT);
  const kept = /```text\n([\s\S]*)\n```\n\n<\/details>\n$/.exec(body)?.[1];
  assert.ok(kept !== undefined);
  const cut = Number(/_The first ([\d,]+) characters of the output were cut/.exec(body)?.[1]?.replace(/,/g, ''));
  // What is shown is exactly the output from a line start on, and it says how many characters came before.
  assert.equal(raw.slice(cut), kept);
  assert.equal(raw[cut - 1], '\n');
  // And it is as much as fits: from the previous line's start on, the body would be too long.
  const previous = raw.lastIndexOf('\n', cut - 2) + 1;
  const longer = body.replace(`${count(cut)} characters`, `${count(previous)} characters`).replace(`\`\`\`text\n${kept}`, `\`\`\`text\n${raw.slice(previous)}`);
  assert.ok(longer.length > COMMENT_LIMIT, `the output from character ${previous} on (${longer.length} characters) would have fitted`);
});

test('comment: 5,000 resources: the output goes first, then rows, and the body says how many were left out', () => {
  const changes = Array.from({ length: 5000 }, (_, i) => change('create', 'kubernetes:core/v1:ConfigMap', `app-config-${String(i).padStart(4, '0')}`, ['data', 'metadata']));
  const body = renderPlanComment({ ...small, changes, rawOutput: 'x'.repeat(10_000) });
  assert.ok(body.length <= GITHUB_LIMIT, `${body.length} > ${GITHUB_LIMIT}: GitHub would refuse it`);
  assert.ok(body.length > 60_000, `${body.length}: most of GitHub's room is used`);
  assert.ok(body.startsWith(commentMarker('dfw')));
  assert.match(body, /\| `\+` create \| 5,000 \|\n\| \*\*total\*\* \| \*\*5,000\*\* \|/);
  const shown = (body.match(/^\| `\+` create \| `kubernetes:core\/v1:ConfigMap` \|/gm) ?? []).length;
  const left = Number(/_…and ([\d,]+) more resources not shown/.exec(body)?.[1]?.replace(/,/g, ''));
  assert.ok(shown > 100, `only ${shown} rows shown`);
  assert.equal(shown + left, 5000);
  assert.match(body, /`app-config-0000`/, 'the first rows in order are the ones kept');
  assert.match(body, /_All 10,000 characters of the output were cut/);
  assert.match(body, /### Address plan/);
  assert.match(body, /- `infra\/dfw.yaml:21` `spec.workers\[1\].plan`/);
});

test('comment: when even the plan is too long, the picture goes, then the plan is cut; the marker and summary stay', () => {
  const machines = Array.from({ length: 3000 }, (_, i) => ({ name: `dfw-w-${i + 1}`, role: 'worker' as const, pool: 'w', address: `2604:1380:4641:c500:1::${(2 * i + 3).toString(16)}` }));
  const big = { ranges: after.ranges, machines };
  const body = renderPlanComment({ ...small, before: undefined, after: big, changes: small.changes });
  assert.ok(body.length <= GITHUB_LIMIT, `${body.length} > ${GITHUB_LIMIT}: GitHub would refuse it`);
  assert.ok(body.length > 60_000, `${body.length}: most of GitHub's room is used`);
  assert.ok(body.startsWith(commentMarker('dfw')));
  assert.match(body, /\| \*\*total\*\* \| \*\*6\*\* \|/);
  assert.ok(!body.includes('```mermaid'));
  assert.match(body, /of the plan and problems cut to keep this comment under GitHub's size limit/);
  assert.ok(body.trimEnd().endsWith('</details>'));
});

test('comment: Mermaid labels are quoted and escaped, ids are plain', () => {
  const odd: PlanView = {
    ranges: [{ name: 'pods', prefix: '2001:db8::/56', purpose: 'p' }],
    machines: [
      { name: 'cp "one"', role: 'control-plane', pool: 'cp', address: '2001:db8::3' },
      { name: 'w#1 <b>`x`', role: 'worker', pool: 'edge/1: a', address: 'assigned by the provider' },
    ],
  };
  const body = renderPlanComment({ ...small, before: undefined, after: odd });
  const diagram = /```mermaid\n([\s\S]*?)\n```/.exec(body)?.[1];
  assert.ok(diagram !== undefined);
  for (const line of diagram.split('\n').slice(1)) {
    const t = line.trim();
    if (/^(direction|end$|classDef|class |rt ~~~)/.test(t)) continue;
    const node = /^([A-Za-z][A-Za-z0-9]*)(\[\[|\[|\(\[)("[^"]*")(\]\]|\]|\]\))$/.exec(t);
    const sub = /^subgraph ([A-Za-z][A-Za-z0-9]*)\[("[^"]*")\]$/.exec(t);
    const edge = /^rt ---\|"BGP"\| pool\d+$/.exec(t);
    assert.ok(node || sub || edge, `unexpected Mermaid line: ${t}`);
  }
  assert.match(diagram, /m0\["cp #quot;one#quot;<br\/>2001:db8::3"\]/);
  assert.match(diagram, /subgraph pool1\["worker pool edge\/1: a"\]/);
  assert.match(diagram, /m1\["w#35;1 #lt;b#gt;#96;x#96;<br\/>assigned by the provider"\]/);
  assert.match(diagram, /g0\(\["pods<br\/>2001:db8::\/56"\]\)/);
  assert.match(diagram, /class m0,m1,g0 added/, 'a new cluster: everything is added');
  assert.match(body, /_A new cluster: there is no plan on the base branch._/);
});

test('comment: deterministic: the same input in another order gives the same bytes', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  const changes = [
    ...small.changes,
    ...Array.from({ length: 30 }, (_, i) => change(i % 2 ? 'create' : 'update', i % 3 ? DEVICE : 'kubernetes:core/v1:Secret', `n-${i}`, i % 2 ? undefined : ['b', 'a', 'c'])),
  ];
  const problems = [
    { file: 'infra/dfw.yaml', line: 9, field: 'spec.a', message: 'm1', fix: 'f1' },
    { file: 'infra/dfw.yaml', line: 3, field: 'spec.b', message: 'm2', fix: 'f2' },
    { file: 'infra/common.yaml', field: 'spec.c', message: 'm3', fix: 'f3' },
  ];
  const input: PlanCommentInput = { ...small, changes, problems };
  const reference = renderPlanComment(input);
  for (let round = 0; round < 5; round++) {
    const shuffled: PlanCommentInput = {
      ...input,
      changes: shuffle(changes).map((c) => (c.diffs ? { ...c, diffs: shuffle(c.diffs) } : c)),
      before: { ranges: shuffle(before.ranges), machines: shuffle(before.machines) },
      after: { ranges: shuffle(after.ranges), machines: shuffle(after.machines) },
      problems: shuffle(problems),
    };
    assert.equal(renderPlanComment(shuffled), reference);
  }
});

test('comment: problems name file:line, field, message and fix, sorted', () => {
  const body = renderPlanComment({
    ...small,
    after: undefined,
    problems: [
      { file: 'infra/dfw.yaml', line: 30, field: 'spec.workers[0].count', message: 'must be at least 1 <got 0>', fix: 'set count: 1' },
      { file: 'infra/dfw.yaml', line: 7, field: 'spec.network.block', message: '2604::/40 is not a /56', fix: 'reserve a /56' },
    ],
  });
  assert.match(
    body,
    /### Problems in the spec \(2\)\n\n- `infra\/dfw.yaml:7` `spec.network.block`: 2604::\/40 is not a \/56. \*\*Fix:\*\* reserve a \/56\n- `infra\/dfw.yaml:30` `spec.workers\[0\].count`: must be at least 1 &lt;got 0&gt;. \*\*Fix:\*\* set count: 1\n/,
  );
  assert.ok(!body.includes('```mermaid'), 'no picture without a plan');
  assert.ok(!renderPlanComment({ ...small, problems: [] }).includes('### Problems'));
});

// ---------------------------------------------------------------------------
// Every part of the layout, exactly (from the first mutation run of comment.ts).

const T = 'equinix:metal/device:Device';
const CM = 'kubernetes:v1:ConfigMap';
const step = (op: ResourceChange['op'], name: string, diffs?: string[], type = T, stepUrn = `urn:${type}::${name}`): ResourceChange => ({ urn: stepUrn, type, name, op, ...(diffs ? { diffs } : {}) });

const everyBefore: PlanView = {
  ranges: [
    { name: 'legacy', prefix: '2001:db8:9::/64', purpose: 'old' },
    { name: 'pods', prefix: '2001:db8:1:8::/64', purpose: 'pod pool' },
    { name: 'load-balancers', prefix: '2001:db8:1:2::/120', purpose: 'LB' },
    { name: 'services', prefix: '2001:db8:1:1::/112', purpose: 'Service ClusterIPs' },
    { name: 'block', prefix: '2001:db8:1::/56', purpose: 'block' },
  ],
  machines: [
    { name: 'c-cp-1', role: 'control-plane', pool: 'cp', address: '2001:db8:1::3' },
    { name: 'c-w-1', role: 'worker', pool: 'w', address: '2001:db8:1::1:3' },
    { name: 'c-w-2', role: 'worker', pool: 'w', address: '2001:db8:1::1:5' },
    { name: 'c-w-10', role: 'worker', pool: 'w', address: '2001:db8:1::1:15' },
    { name: 'c-g-1', role: 'worker', pool: 'gpu', address: '2001:db8:1::2:3' },
    { name: 'c-x-1', role: 'worker', pool: 'x', address: '2001:db8:1::3:3' },
  ],
};
const everyAfter: PlanView = {
  ranges: [
    { name: 'block', prefix: '2001:db8:1::/56', purpose: 'block' },
    { name: 'services', prefix: '2001:db8:1:1::/112', purpose: 'Service ClusterIPs, announced' },
    { name: 'external-ips', prefix: '2001:db8:1:3::/120', purpose: 'external <IPs> & more' },
    { name: 'pods', prefix: '2001:db8:1:80::/57', purpose: 'pod pool' },
    { name: 'legacy', prefix: '2001:db8:9::/64', purpose: 'old' },
    { name: 'extra', prefix: '2001:db8:a::/64', purpose: 'new | piped' },
  ],
  machines: [
    { name: 'c-w-3', role: 'worker', pool: 'w', address: '2001:db8:1::1:7' },
    { name: 'c-cp-1', role: 'control-plane', pool: 'cp', address: '2001:db8:1::3' },
    { name: 'c-w-1', role: 'worker', pool: 'w', address: '2001:db8:1::1:9' },
    { name: 'c-w-10', role: 'worker', pool: 'w', address: '2001:db8:1::1:15' },
    { name: 'c-g-1', role: 'worker', pool: 'edge', address: '2001:db8:1::2:3' },
    { name: 'c-x-1', role: 'control-plane', pool: 'cp', address: '2001:db8:1::3:3' },
  ],
};

test('comment: every operation, name order, quoting, range and machine change, and output clean-up (exact body)', () => {
  const body = renderPlanComment({
    stack: 'st',
    specFile: 'infra/st.yaml',
    commitSha: 'abcdef1234567',
    changes: [
      step('refresh', 'r-1'),
      step('same', 's-1'),
      step('import', 'imp-1'),
      step('discard', 'dis-1'),
      step('read', 'rd-1'),
      ...['n-10', 'n-9', 'n-1', 'n-01', 'n', 'n-2b', 'n-2a', 'n-1-1'].map((n) => step('create', n)),
      step('update', 'same-name', ['b'], T, 'urn:z'),
      step('update', 'same-name', ['a'], T, 'urn:z'),
      step('update', 'same-name', undefined, T, 'urn:a'),
      step('create', 'a`b', undefined, CM),
      step('create', '`tick', undefined, CM),
      step('create', 'pi|pe', ['x|y', 'x|y'], CM),
    ],
    before: everyBefore,
    after: everyAfter,
    rawOutput: '\n\n\nstep 1\rstep 2\r\nnext\r\n\tindented\u0000\u0007 end   \n\ndone\r',
  });
  const expected = [
    '<!-- native6:plan stack=st -->',
    '## Plan for `st`: `infra/st.yaml` at `abcdef1`',
    '',
    '### Changes',
    '',
    '| Operation | Resources |',
    '| --- | ---: |',
    '| `+` create | 11 |',
    '| `~` update | 3 |',
    '| `=` import | 1 |',
    '| `<` discard | 1 |',
    '| `>` read | 1 |',
    '| `↺` refresh | 1 |',
    '| `·` same | 1 |',
    '| **total** | **19** |',
    '',
    '| Op | Type | Name | Changed properties |',
    '| --- | --- | --- | --- |',
    // By type, then names in natural order: numbers by value, "01" before "1", a prefix before its extensions.
    ...['n', 'n-01', 'n-1', 'n-1-1', 'n-2a', 'n-2b', 'n-9', 'n-10'].map((n) => `| \`+\` create | \`${T}\` | \`${n}\` |  |`),
    // Backticks in a name: a longer fence, padded when the name starts or ends with one; pipes escaped; diffs once.
    `| \`+\` create | \`${CM}\` | \`\` \`tick \`\` |  |`,
    `| \`+\` create | \`${CM}\` | \`\`a\`b\`\` |  |`,
    `| \`+\` create | \`${CM}\` | \`pi\\|pe\` | \`x\\|y\` |`,
    // The same name: by URN, then by the changed properties.
    `| \`~\` update | \`${T}\` | \`same-name\` |  |`,
    `| \`~\` update | \`${T}\` | \`same-name\` | \`a\` |`,
    `| \`~\` update | \`${T}\` | \`same-name\` | \`b\` |`,
    `| \`=\` import | \`${T}\` | \`imp-1\` |  |`,
    `| \`<\` discard | \`${T}\` | \`dis-1\` |  |`,
    '',
    '### Address plan',
    '',
    'Ranges: 2 added, 1 removed, 2 changed, 2 unchanged.',
    '',
    '| | Range | Before | After | Purpose |',
    '| --- | --- | --- | --- | --- |',
    '|  | `block` | `2001:db8:1::/56` | `2001:db8:1::/56` | block |',
    '| `~` changed | `services` | `2001:db8:1:1::/112` | `2001:db8:1:1::/112` | Service ClusterIPs, announced (was: Service ClusterIPs) |',
    '| `-` removed | `load-balancers` | `2001:db8:1:2::/120` | — | LB |',
    '| `+` added | `external-ips` | — | `2001:db8:1:3::/120` | external &lt;IPs&gt; &amp; more |',
    '| `~` changed | `pods` | `2001:db8:1:8::/64` | `2001:db8:1:80::/57` | pod pool |',
    // Ranges the layout does not know come last, by name.
    '| `+` added | `extra` | — | `2001:db8:a::/64` | new \\| piped |',
    '|  | `legacy` | `2001:db8:9::/64` | `2001:db8:9::/64` | old |',
    '',
    'Machines: 1 added, 1 removed, 3 changed, 2 unchanged.',
    '',
    '- `~` `c-x-1`: worker in pool `x` → control plane, `2001:db8:1::3:3`',
    '- `~` `c-g-1`: worker in pool `gpu` → worker in pool `edge`, `2001:db8:1::2:3`',
    '- `~` `c-w-1`: worker in pool `w`, `2001:db8:1::1:3` → `2001:db8:1::1:9`',
    '- `-` `c-w-2`: worker in pool `w`, `2001:db8:1::1:5`',
    '- `+` `c-w-3`: worker in pool `w`, `2001:db8:1::1:7`',
    '',
    '### Topology',
    '',
    '```mermaid',
    'flowchart TB',
    '  rt[["upstream routers<br/>BGP"]]',
    '  subgraph pool0["control plane"]',
    '    direction LR',
    '    m0["c-cp-1<br/>2001:db8:1::3"]',
    '    m1["c-x-1<br/>2001:db8:1::3:3"]',
    '  end',
    '  rt ---|"BGP"| pool0',
    '  subgraph pool1["worker pool edge"]',
    '    direction LR',
    '    m2["c-g-1<br/>2001:db8:1::2:3"]',
    '  end',
    '  rt ---|"BGP"| pool1',
    '  subgraph pool2["worker pool w"]',
    '    direction LR',
    '    m3["c-w-1<br/>2001:db8:1::1:9<br/>was 2001:db8:1::1:3"]',
    '    m4["c-w-2<br/>2001:db8:1::1:5"]',
    '    m5["c-w-3<br/>2001:db8:1::1:7"]',
    '    m6["c-w-10<br/>2001:db8:1::1:15"]',
    '  end',
    '  rt ---|"BGP"| pool2',
    '  subgraph ranges["address plan"]',
    '    direction LR',
    '    g0(["block<br/>2001:db8:1::/56"])',
    '    g1(["services<br/>2001:db8:1:1::/112"])',
    '    g2(["load-balancers<br/>2001:db8:1:2::/120"])',
    '    g3(["external-ips<br/>2001:db8:1:3::/120"])',
    '    g4(["pods<br/>2001:db8:1:80::/57<br/>was 2001:db8:1:8::/64"])',
    '    g5(["extra<br/>2001:db8:a::/64"])',
    '    g6(["legacy<br/>2001:db8:9::/64"])',
    '  end',
    '  rt ~~~ ranges',
    '  classDef added fill:#dafbe1,stroke:#1a7f37,color:#0f5323',
    '  classDef removed fill:#ffebe9,stroke:#cf222e,color:#82071e,stroke-dasharray: 5 5',
    '  classDef changed fill:#fff8c5,stroke:#9a6700,color:#4d2d00',
    '  class m5,g3,g5 added',
    '  class m4,g2 removed',
    '  class m1,m2,m3,g1,g4 changed',
    '```',
    '',
    'Green: added, red (dashed): removed, yellow: changed.',
    '',
    '<details><summary>Pulumi preview output</summary>',
    '',
    '```text',
    // Blank lines around trimmed, a carriage return's overwrite kept, control characters dropped (not tabs).
    'step 2',
    'next',
    '\tindented end',
    '',
    'done',
    '```',
    '',
    '</details>',
    '',
  ].join('\n');
  assert.equal(body, expected);
});

test('comment: texts in Markdown and Mermaid are one line, whatever the line ends', () => {
  const body = renderPlanComment({
    ...small,
    before: undefined,
    after: { ranges: [], machines: [{ name: 'n\r\n1\r2\n3', role: 'worker', pool: 'p\rq', address: 'a' }] },
    problems: [{ file: 'f', field: 'x|y', message: 'one\r\ntwo\rthree\nfour', fix: 'a\rb' }],
  });
  assert.ok(body.includes('- `f` `x|y`: one two three four. **Fix:** a b\n'), body);
  assert.ok(body.includes('    m0["n 1 2 3<br/>a"]'), body);
  assert.ok(body.includes('  subgraph pool0["worker pool p q"]'), body);
  // No ranges: no ranges subgraph, and only the classes in use.
  assert.ok(!body.includes('subgraph ranges'));
  assert.ok(body.includes('  class m0 added\n```'));
  assert.ok(!/class +(removed|changed)/.test(body));
});

test('comment: problems sorted by file, line (none first), field, message, then fix', () => {
  const p = (file: string, line: number | undefined, field: string, message: string, fix: string) => ({ file, ...(line !== undefined ? { line } : {}), field, message, fix });
  const body = renderPlanComment({
    ...small,
    problems: [p('b.yaml', 1, 'a', 'm', 'f'), p('a.yaml', 2, 'a', 'm', 'f'), p('a.yaml', 1, 'b', 'm', 'f'), p('a.yaml', 1, 'a', 'n', 'f'), p('a.yaml', 1, 'a', 'm', 'g'), p('a.yaml', 1, 'a', 'm', 'f'), p('a.yaml', undefined, 'z', 'm', 'f')],
  });
  const section = /### Problems in the spec \(7\)\n\n([\s\S]*?)\n\n/.exec(body)?.[1];
  assert.equal(
    section,
    [
      '- `a.yaml` `z`: m. **Fix:** f',
      '- `a.yaml:1` `a`: m. **Fix:** f',
      '- `a.yaml:1` `a`: m. **Fix:** g',
      '- `a.yaml:1` `a`: n. **Fix:** f',
      '- `a.yaml:1` `b`: m. **Fix:** f',
      '- `a.yaml:2` `a`: m. **Fix:** f',
      '- `b.yaml:1` `a`: m. **Fix:** f',
    ].join('\n'),
  );
});

test('comment: a long failure shows its head and counts the rest', () => {
  const section = (failed: string) => /\*\*The preview failed:\*\*\n\n```text\n([\s\S]*?)\n```/.exec(renderPlanComment({ ...small, failed }))?.[1];
  assert.equal(section('e'.repeat(4000)), 'e'.repeat(4000));
  assert.equal(section(`${'e'.repeat(4000)}x`), `${'e'.repeat(4000)}\n… 1 more character`);
  assert.equal(section(`${'e'.repeat(4000)}${'x'.repeat(1234)}`), `${'e'.repeat(4000)}\n… 1,234 more characters`);
});

test('comment: ANSI sequences without their end, and device control strings, are removed too', () => {
  assert.equal(stripAnsi('text\u001b]0;window title'), 'text');
  assert.equal(stripAnsi('\u001bPq#0;2;0;0;0\u001b\\after'), 'after');
  assert.equal(stripAnsi('\u001b_app command\u001b\\x'), 'x');
  assert.equal(stripAnsi('\u001b^private\u001b\\y'), 'y');
  assert.equal(stripAnsi('\u001bXstring\u001b\\z'), 'z');
});

/** The output a body shows and the count of characters it says were cut before it. */
function shownOutput(body: string): { kept: string; cut: number } {
  const kept = /```text\n([\s\S]*)\n```\n\n<\/details>\n$/.exec(body)?.[1];
  assert.ok(kept !== undefined, 'no output shown');
  const cut = Number(/_The first ([\d,]+) characters? of the output were cut/.exec(body)?.[1]?.replace(/,/g, ''));
  return { kept, cut };
}

test('comment: an output of one long line keeps as much of its end as fits', () => {
  const raw = Array.from({ length: 100_000 }, (_, i) => String(i % 10)).join('');
  const body = renderPlanComment({ ...small, rawOutput: raw });
  assert.ok(body.length <= GITHUB_LIMIT);
  const { kept, cut } = shownOutput(body);
  assert.ok(kept.length > 0 && cut > 0);
  assert.equal(raw.slice(cut), kept);
  const longer = body.replace(`${count(cut)} characters`, `${count(cut - 1)} characters`).replace(`\`\`\`text\n${kept}`, `\`\`\`text\n${raw.slice(cut - 1)}`);
  assert.ok(longer.length > COMMENT_LIMIT, 'one more character would have fitted');
});

test('comment: an output cut inside a surrogate pair starts at the whole character', () => {
  const raw = '😀'.repeat(60_000);
  const body = renderPlanComment({ ...small, rawOutput: raw });
  assert.ok(body.length <= GITHUB_LIMIT);
  const { kept, cut } = shownOutput(body);
  assert.equal(cut % 2, 0, 'the cut is between two emoji');
  assert.equal(kept.codePointAt(0), 0x1f600);
  assert.equal(raw.slice(cut), kept);
  const longer = body.replace(`${count(cut)} characters`, `${count(cut - 2)} characters`).replace(`\`\`\`text\n${kept}`, `\`\`\`text\n${raw.slice(cut - 2)}`);
  assert.ok(longer.length > COMMENT_LIMIT, 'one more emoji would have fitted');
});

test('comment: counts of a million and more are grouped by thousands', () => {
  const raw = Array.from({ length: 60_000 }, (_, i) => `line ${String(i).padStart(5, '0')} ${'x'.repeat(12)}`).join('\n');
  assert.ok(raw.length > 1_000_000);
  const { kept, cut } = shownOutput(renderPlanComment({ ...small, rawOutput: raw }));
  assert.equal(cut, raw.length - kept.length);
  assert.match(renderPlanComment({ ...small, rawOutput: raw }), new RegExp(`_The first ${count(cut)} characters of the output were cut`));
  assert.match(count(cut), /^1,\d{3},\d{3}$/);
});

test('comment: a picture Mermaid would refuse is left out, saying why', () => {
  const machines = Array.from({ length: 1500 }, (_, i) => ({ name: `dfw-w-${i + 1}`, role: 'worker' as const, pool: 'w', address: `2604:1380:4641:c500:1::${(2 * i + 3).toString(16)}` }));
  const view = { ranges: after.ranges, machines };
  // The same plan before and after: the plan section is short, the picture is not.
  const body = renderPlanComment({ ...small, before: view, after: view });
  assert.ok(body.length <= GITHUB_LIMIT);
  const n = Number(/_The picture is left out: at ([\d,]+) characters it is more than Mermaid draws._/.exec(body)?.[1]?.replace(/,/g, ''));
  assert.ok(n > 50_000, `${n}`);
  assert.ok(!body.includes('```mermaid'));
  assert.match(body, /Machines: 0 added, 0 removed, 0 changed, 1,500 unchanged\./);
});

test('comment: when the picture and the plan do not fit together, the picture goes and the plan stays whole', () => {
  const machines = Array.from({ length: 700 }, (_, i) => ({ name: `c-w-${i + 1}`, role: 'worker' as const, pool: 'w', address: `2001:db8:1::1:${(2 * i + 3).toString(16)}` }));
  const body = renderPlanComment({ ...small, changes: [], before: undefined, after: { ranges: after.ranges, machines }, rawOutput: '' });
  assert.ok(body.length <= GITHUB_LIMIT);
  assert.ok(body.includes("### Topology\n\n_The picture is left out to keep this comment under GitHub's size limit._"));
  assert.ok(!body.includes('```mermaid'));
  for (const m of machines) assert.ok(body.includes(`- \`+\` \`${m.name}\`: worker in pool \`w\`, \`${m.address}\`\n`), m.name);
  assert.ok(!body.includes('of the plan and problems cut'));
  // With fewer machines the picture is drawn.
  const fewer = renderPlanComment({ ...small, changes: [], before: undefined, after: { ranges: after.ranges, machines: machines.slice(0, 300) }, rawOutput: '' });
  assert.ok(fewer.includes('```mermaid\nflowchart TB'));
});

test('comment: when the problems alone are too long, they are cut at a line and the rest is counted exactly', () => {
  const problems = Array.from({ length: 1500 }, (_, i) => ({ file: 'infra/x.yaml', line: i + 1, field: 'spec.f', message: `m${'e'.repeat(40)}`, fix: 'f' }));
  const body = renderPlanComment({ stack: 'x', specFile: 'infra/x.yaml', commitSha: '0123456789', changes: [], problems, rawOutput: '' });
  assert.ok(body.length <= GITHUB_LIMIT);
  // The whole middle, written out here: the plan that did not load, then every problem.
  const middle = [
    '### Address plan',
    '',
    '_The spec on this branch did not load, so there is no plan to compare._',
    '',
    '### Problems in the spec (1,500)',
    '',
    ...problems.map((p) => `- \`infra/x.yaml:${p.line}\` \`spec.f\`: ${p.message}. **Fix:** f`),
  ].join('\n');
  const start = body.indexOf('### Address plan');
  const note = /\n\n_…([\d,]+) more characters of the plan and problems cut to keep this comment under GitHub's size limit._\n\n<details>/.exec(body);
  assert.ok(start > 0 && note, body.slice(0, 300));
  const shown = body.slice(start, note.index);
  assert.ok(middle.startsWith(shown));
  assert.equal(middle[shown.length], '\n', 'cut at a line end');
  assert.equal(Number(note[1]!.replace(/,/g, '')), middle.length - shown.length);
  assert.ok(!body.includes('```mermaid') && !body.includes('### Topology'));
  // As many lines as fit: one more would not.
  const next = middle.indexOf('\n', shown.length + 1);
  const longer = body.replace(`${shown}\n\n_…${note[1]} more`, `${middle.slice(0, next)}\n\n_…${count(middle.length - next)} more`);
  assert.ok(longer.length > COMMENT_LIMIT);
});

test('comment: a stack name beyond any reason still gives a body GitHub takes, starting with the marker', () => {
  const body = renderPlanComment({ ...small, stack: 's'.repeat(70_000) });
  assert.ok(body.length <= GITHUB_LIMIT, `${body.length}`);
  assert.ok(body.startsWith('<!-- native6:plan stack=sss'));
});

// ---------------------------------------------------------------------------
// From the mutation run of lib/workflows/comment.ts (docs/mutation.md): behaviour no test above pinned.

test('comment: resource names starting with a digit sort with the others, digits first, numbers by value', () => {
  const body = renderPlanComment({ ...small, changes: [change('create', T, 'a-1'), change('create', T, '10-b'), change('create', T, '9-c')] });
  const names = [...body.matchAll(/^\| `\+` create \| `[^`]+` \| `([^`]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(names, ['9-c', '10-b', 'a-1']);
});

test('comment: a name with backticks is one code span: a longer fence, and a space where it starts or ends with one', () => {
  const body = renderPlanComment({ ...small, changes: [change('create', T, 'a``b'), change('create', T, 'c`'), change('create', T, '`d')] });
  assert.ok(body.includes('| `+` create | `equinix:metal/device:Device` | ```a``b``` |  |\n'), body);
  assert.ok(body.includes('| `+` create | `equinix:metal/device:Device` | `` c` `` |  |\n'), body);
  assert.ok(body.includes('| `+` create | `equinix:metal/device:Device` | `` `d `` |  |\n'), body);
});

test('comment: a resource row is one line, whatever the line ends in its name', () => {
  const body = renderPlanComment({ ...small, changes: [change('create', T, 'web\napp'), change('create', T, 'db\r\none')] });
  assert.ok(body.includes('| `+` create | `equinix:metal/device:Device` | `db one` |  |\n'), body);
  assert.ok(body.includes('| `+` create | `equinix:metal/device:Device` | `web app` |  |\n'), body);
});

test('comment: blank lines around the output are left out of its block', () => {
  const body = renderPlanComment({ ...small, rawOutput: '\n\n\u001b[1mPreviewing update (dfw)\u001b[0m\n\nResources: 1 unchanged\n\n\n\n' });
  assert.ok(body.endsWith('<details><summary>Pulumi preview output</summary>\n\n```text\nPreviewing update (dfw)\n\nResources: 1 unchanged\n```\n\n</details>\n'), body);
});

const rangesShuffled: PlanView['ranges'] = [
  { name: 'pods', prefix: '2001:db8:100:80::/57', purpose: 'pod pool' },
  { name: 'external-ips', prefix: '2001:db8:100:3::/120', purpose: 'external IPs' },
  { name: 'services', prefix: '2001:db8:100:1::/112', purpose: 'Service ClusterIPs' },
  { name: 'load-balancers', prefix: '2001:db8:100:2::/120', purpose: 'LoadBalancer IPs' },
  { name: 'block', prefix: '2001:db8:100::/56', purpose: 'reserved block' },
  { name: 'apiserver', prefix: '2001:db8:100:1::1/128', purpose: 'API' },
  { name: 'nat64', prefix: '64:ff9b::/96', purpose: 'NAT64' },
  { name: 'nodes', prefix: '2001:db8:100::/64', purpose: 'node addresses' },
];
const oneCp: PlanView['machines'] = [{ name: 'x-cp-1', role: 'control-plane', pool: 'cp', address: '2001:db8:100::3' }];

test('comment: a new cluster: the note, then the ranges in the plan\'s order (the block first, NAT64 before the pods wherever it is, the pods last), then the machines', () => {
  const body = renderPlanComment({ ...small, changes: [], problems: [], before: undefined, after: { ranges: rangesShuffled, machines: oneCp }, rawOutput: '' });
  const section = body.slice(body.indexOf('### Address plan'), body.indexOf('\n\n### Topology'));
  assert.equal(
    section,
    [
      '### Address plan',
      '',
      '_A new cluster: there is no plan on the base branch._',
      '',
      'Ranges: 8 added, 0 removed, 0 changed, 0 unchanged.',
      '',
      '| | Range | Before | After | Purpose |',
      '| --- | --- | --- | --- | --- |',
      '| `+` added | `block` | — | `2001:db8:100::/56` | reserved block |',
      '| `+` added | `nodes` | — | `2001:db8:100::/64` | node addresses |',
      '| `+` added | `services` | — | `2001:db8:100:1::/112` | Service ClusterIPs |',
      '| `+` added | `apiserver` | — | `2001:db8:100:1::1/128` | API |',
      '| `+` added | `load-balancers` | — | `2001:db8:100:2::/120` | LoadBalancer IPs |',
      '| `+` added | `external-ips` | — | `2001:db8:100:3::/120` | external IPs |',
      '| `+` added | `nat64` | — | `64:ff9b::/96` | NAT64 |',
      '| `+` added | `pods` | — | `2001:db8:100:80::/57` | pod pool |',
      '',
      'Machines: 1 added, 0 removed, 0 changed, 0 unchanged.',
      '',
      '- `+` `x-cp-1`: control plane, `2001:db8:100::3`',
    ].join('\n'),
  );
});

test('comment: nothing moved: the machines line ends the plan, with one blank line before the picture', () => {
  const view: PlanView = { ranges: rangesShuffled.slice(4, 5), machines: oneCp };
  const body = renderPlanComment({ ...small, changes: [], problems: [], before: view, after: view, rawOutput: '' });
  assert.ok(body.includes('\n\nMachines: 0 added, 0 removed, 0 changed, 1 unchanged.\n\n### Topology\n\n```mermaid\n'), body);
});

/** Unchanged machines: the picture grows with them, the plan section does not list them. */
const unchanged = (n: number, first = 'w-1'): PlanView => ({
  ranges: after.ranges,
  machines: Array.from({ length: n }, (_, i) => ({ name: i === 0 ? first : `w-${i + 1}`, role: 'worker' as const, pool: 'w', address: `2001:db8:1::${(2 * i + 3).toString(16)}` })),
});
const picture = (body: string) => /```mermaid\n([\s\S]*?)\n```/.exec(body)?.[1];

test('comment: a picture of exactly 50,000 characters (Mermaid\'s maxTextSize) is drawn, one of 50,001 is not', () => {
  const render = (view: PlanView) => renderPlanComment({ ...small, changes: [], problems: [], before: view, after: view, rawOutput: '' });
  const base = picture(render(unchanged(800)));
  assert.ok(base !== undefined && base.length < 50_000, `${base?.length}`);
  // The first machine's name appears once in the picture: lengthen it to reach the limit.
  const atLimit = render(unchanged(800, `w-1${'x'.repeat(50_000 - base.length)}`));
  assert.equal(picture(atLimit)?.length, 50_000);
  const over = render(unchanged(800, `w-1${'x'.repeat(50_001 - base.length)}`));
  assert.equal(picture(over), undefined);
  assert.ok(over.includes('\n\n### Topology\n\n_The picture is left out: at 50,001 characters it is more than Mermaid draws._\n\n'), over.slice(0, 2000));
});

test('comment: the rows go before the picture: with the picture, not one row fits, so none is shown and the picture stays', () => {
  const view = unchanged(1200);
  const long = change('create', T, `n-${'x'.repeat(30_000)}`);
  const body = renderPlanComment({ ...small, changes: [long], problems: [], before: view, after: view, rawOutput: '' });
  assert.ok(body.length <= COMMENT_LIMIT);
  assert.ok(body.includes('```mermaid\nflowchart TB'), 'the picture is drawn');
  assert.ok(!body.includes('n-xxx'), 'the row is not shown');
  assert.ok(body.includes("| Op | Type | Name | Changed properties |\n| --- | --- | --- | --- |\n\n_…and 1 more resource not shown, to keep this comment under GitHub's size limit._"), body.slice(0, 2000));
});

test('comment: when the picture goes, the rows and the output keep the room left', () => {
  const machines = Array.from({ length: 700 }, (_, i) => ({ name: `c-w-${i + 1}`, role: 'worker' as const, pool: 'w', address: `2001:db8:1::1:${(2 * i + 3).toString(16)}` }));
  const body = renderPlanComment({ ...small, before: undefined, after: { ranges: after.ranges, machines }, rawOutput: 'Previewing update (dfw)\nResources: 6 changes' });
  assert.ok(body.length <= COMMENT_LIMIT);
  assert.ok(body.includes("### Topology\n\n_The picture is left out to keep this comment under GitHub's size limit._"));
  assert.ok(body.includes('| `~` update | `kubernetes:core/v1:ConfigMap` | `calico-config` | `data`, `metadata` |\n'), 'the rows are shown');
  assert.ok(body.endsWith('```text\nPreviewing update (dfw)\nResources: 6 changes\n```\n\n</details>\n'), 'the output is shown whole');
});

test('comment: when the plan itself is cut, the characters cut are counted in the plan as shown without its picture', () => {
  const machines = Array.from({ length: 3000 }, (_, i) => ({ name: `dfw-w-${i + 1}`, role: 'worker' as const, pool: 'w', address: `2604:1380:4641:c500:1::${(2 * i + 3).toString(16)}` }));
  const input = { ...small, before: undefined, after: { ranges: after.ranges, machines } };
  const body = renderPlanComment(input);
  // The whole middle: the plan (its ranges as a plan without machines shows them), every machine, the picture's note, the problem.
  const noMachines = renderPlanComment({ ...input, after: { ranges: after.ranges, machines: [] } });
  const ranges = noMachines.slice(noMachines.indexOf('### Address plan'), noMachines.indexOf('\n\nMachines:'));
  const middle = [
    ranges,
    '',
    'Machines: 3,000 added, 0 removed, 0 changed, 0 unchanged.',
    '',
    ...machines.map((m) => `- \`+\` \`${m.name}\`: worker in pool \`w\`, \`${m.address}\``),
    '',
    '### Topology',
    '',
    "_The picture is left out to keep this comment under GitHub's size limit._",
    '',
    '### Problems in the spec (1)',
    '',
    '- `infra/dfw.yaml:21` `spec.workers[1].plan`: plan "m3.huge" is not offered in dfw. **Fix:** use one of m3.large.x86, m3.small.x86',
  ].join('\n');
  const start = body.indexOf('### Address plan');
  const note = /\n\n_…([\d,]+) more characters of the plan and problems cut to keep this comment under GitHub's size limit._\n\n<details>/.exec(body);
  assert.ok(start > 0 && note);
  const shown = body.slice(start, note.index);
  assert.ok(middle.startsWith(shown));
  assert.equal(Number(note[1]!.replace(/,/g, '')), middle.length - shown.length);
});

test('comment: an output of one long line starts at a whole character and keeps as many as fit: the first and last low surrogates, either parity, and characters above them', () => {
  for (const unit of ['\u{10000}', '\u{10ffff}', '😀', 'a\uff58']) {
    for (const prefix of ['', 'x']) {
      const raw = prefix + unit.repeat(120_000 / unit.length);
      const what = `${JSON.stringify(unit)} after "${prefix}"`;
      const body = renderPlanComment({ ...small, rawOutput: raw });
      const { kept, cut } = shownOutput(body);
      assert.equal(raw.slice(cut), kept);
      const first = kept.charCodeAt(0);
      assert.ok(first < 0xdc00 || first > 0xdfff, `${what}: the output shown starts inside a surrogate pair`);
      const previous = raw.codePointAt(cut - 2)! > 0xffff ? 2 : 1; // the character before the cut, in UTF-16 units
      const longer = body.replace(`${count(cut)} characters`, `${count(cut - previous)} characters`).replace(`\`\`\`text\n${kept}`, `\`\`\`text\n${raw.slice(cut - previous)}`);
      assert.ok(longer.length > COMMENT_LIMIT, `${what}: one more character would have fitted`);
    }
  }
});

test('comment: when all of the output is cut, no empty block is left', () => {
  const changes = Array.from({ length: 5000 }, (_, i) => change('create', 'kubernetes:core/v1:ConfigMap', `app-config-${String(i).padStart(4, '0')}`, ['data', 'metadata']));
  const body = renderPlanComment({ ...small, changes, rawOutput: 'x'.repeat(10_000) });
  assert.ok(
    body.endsWith("<details><summary>Pulumi preview output</summary>\n\n_All 10,000 characters of the output were cut to keep this comment under GitHub's size limit; the workflow run has it._\n\n</details>\n"),
    body.slice(-400),
  );
});

test('comment: pools and machines whose numbers differ only in leading zeros come in one order, whatever the input order', () => {
  const m = (name: string, pool: string, address: string) => ({ name, role: 'worker' as const, pool, address });
  const machines = [m('c-w1-1', 'w1', '2001:db8::5'), m('c-w01-1', 'w01', '2001:db8::3')];
  const body = (ms: PlanView['machines']) => renderPlanComment({ ...small, before: undefined, after: { ranges: [], machines: ms } });
  const text = body(machines);
  assert.equal(body([...machines].reverse()), text);
  assert.ok(text.includes('- `+` `c-w01-1`: worker in pool `w01`, `2001:db8::3`\n- `+` `c-w1-1`: worker in pool `w1`, `2001:db8::5`'), text);
});
