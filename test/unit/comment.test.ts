/** The plan action's PR comment (lib/gitops/comment.ts): exact body, ANSI, the size limit, Mermaid quoting, determinism, problems. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMENT_LIMIT, commentMarker, renderPlanComment, stripAnsi, type PlanCommentInput, type PlanView } from '../../lib/gitops/comment.js';
import type { ResourceChange } from '../../lib/infra/stack.js';
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
