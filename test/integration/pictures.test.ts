// The pictures a user sees, checked the way they will be seen, in Debian's
// Chromium (test/browser.ts; `apt-get install -y chromium`):
//
//   - the PR comment's topology (lib/workflows/comment.ts, renderPlanComment's
//     ```mermaid block) and the verify report's Mermaid (lib/report/topology.ts,
//     mermaidTopology) are rendered by mermaid-cli with the Mermaid that
//     GitHub runs (package.json pins it), so a diagram GitHub would show as an
//     error fails here; a deliberately broken one proves that it would;
//   - the verify report's SVG (svgTopology) is laid out by the browser and
//     every label's box (getBBox) must lie inside its box, rounded corners
//     included, and no two labels may overlap; a deliberately narrowed box
//     proves the check would see it;
//   - the egress path in both (NAT64, the IPv4 internet, an edge from each
//     machine labelled with its IPv4): each IPv4 on its own machine's edge,
//     in Mermaid's render and in the SVG's layout (a label moved to another
//     machine's edge is caught), and none of it in a picture without egress.
//
// Each render starts its own browser and ends it before the test goes on.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import { loadCluster } from '../../lib/platforms/load.js';
import { mermaidTopology, svgTopology, type FabricPicture } from '../../lib/report/topology.js';
import { renderPlanComment, type PlanCommentInput, type PlanView } from '../../lib/workflows/comment.js';
import { planView } from '../../lib/workflows/plan.js';
import { inBrowser, renderMermaid, type MermaidRender } from '../browser.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHA = '0123456789abcdef0123456789abcdef01234567';

/**
 * The lab's fabric as its verify saw it (the `fabric` of a report written by
 * `npm run lab -- verify`, 2026-12-06), with the egress verify now adds (the
 * NAT64 prefix, each machine's IPv4: test/unit/verifyPicture.test.ts holds
 * it equal to what verify fills for infra/lab.yaml).
 */
const labFabric = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'fabric', 'lab.json'), 'utf8')) as FabricPicture;
/** The same fabric as a report written before verify drew egress, or a cluster without NAT64. */
const labNoEgress: FabricPicture = (({ egress: _, ...rest }) => rest)(labFabric);

/**
 * The longest labels the picture can meet: a full eight-group prefix and
 * address, long names, two pod blocks on a node, a session down; a NAT64 /96
 * with six full groups (the longest in 2001:db8::/32) and IPv4 addresses of
 * 15 characters (outside the documentation ranges, whose longest has 14:
 * labels only, never numbered).
 */
const widest: FabricPicture = (() => {
  const names = ['metro-1-control-plane-1', 'metro-1-general-purpose-12'];
  const routes = [
    { prefix: '2001:db8:89ab:cdef:1234:5678:789a:bc00/120', via: names, kind: 'service-range' as const },
    { prefix: '2001:db8:89ab:cdef:1234:5678:789a:bcde/128', via: [names[1]!], kind: 'service-128' as const },
    { prefix: '2001:db8:89ab:cdef:1234:5678:789a:ffc0/122', via: [names[0]!], kind: 'pod-block' as const },
    { prefix: '2001:db8:89ab:cdef:1234:5678:789b:ffc0/122', via: [names[1]!], kind: 'pod-block' as const },
    { prefix: '2001:db8:89ab:cdef:1234:5678:789c:ffc0/122', via: [names[1]!], kind: 'pod-block' as const },
  ];
  return {
    cluster: 'metro-1-with-a-long-name',
    routers: [
      { name: 'provider-router-metro-1-a', peerIP: '2001:db8:89ab:cdef:1234:5678:789a:fffe', sessions: names, routes },
      { name: 'provider-router-metro-1-b', peerIP: '2001:db8:89ab:cdef:1234:5678:789a:ffff', sessions: [names[0]!], routes },
    ],
    machines: [
      { name: names[0]!, address: '2001:db8:89ab:cdef:1234:5678:789a:0003', role: 'control-plane' },
      { name: names[1]!, address: '2001:db8:89ab:cdef:1234:5678:789a:0005', role: 'worker' },
    ],
    egress: {
      nat64: '2001:db8:89ab:cdef:1234:5678::/96',
      internetV4: '198.51.100.240/28',
      machines: [
        { name: names[0]!, ipv4: '203.113.254.253' },
        { name: names[1]!, ipv4: '203.113.254.255' },
      ],
    },
  };
})();

/** Every label of the egress part, as the pictures write them: the NAT64 box's, the IPv4 internet's and each machine's IPv4. */
function egressLabels(p: FabricPicture): string[] {
  const e = p.egress;
  if (!e) return [];
  return [`NAT64 ${e.nat64}`, 'translated on each node, with its IPv4', 'IPv4 internet', ...(e.internetV4 ? [e.internetV4] : []), ...e.machines.map((m) => m.ipv4)];
}

/** The labels of a Mermaid render's edges by the edge's id (L_<from>_<to>_<n>), as shown. */
function edgeLabels(svg: string): Map<string, string> {
  return new Map([...svg.matchAll(/<g class="label" data-id="(L_[^"]+)"[^>]*>([\s\S]*?)<\/g>/g)].map((m) => [m[1]!, shownText(m[2]!).trim()]));
}

function specView(file: string, text = readFileSync(join(ROOT, file), 'utf8')): PlanView {
  const loaded = loadCluster(file, text);
  if (!loaded.ok) assert.fail(`${file} does not load: ${loaded.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  return planView(loaded.plan);
}

function comment(specFile: string, after: PlanView, before?: PlanView): string {
  const input: PlanCommentInput = { stack: specFile.replace(/^.*\/|\.yaml$/g, ''), specFile, commitSha: SHA, changes: [], after, rawOutput: '', ...(before ? { before } : {}) };
  return renderPlanComment(input);
}

/** The text a rendered SVG shows: tags dropped, entities decoded, blanks collapsed. */
function shownText(svg: string): string {
  const noStyle = svg.replace(/<style[\s\S]*?<\/style>/g, ' ');
  return noStyle
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** Fails unless mmdc rendered `n` diagrams cleanly; says how long it took. */
function rendered(t: TestContext, r: MermaidRender, n: number): void {
  assert.equal(r.code, 0, `mmdc failed (GitHub would show this diagram as an error):\n${r.stderr}`);
  assert.equal(r.svgs.length, n, `mmdc wrote ${r.svgs.length} SVGs for ${n} diagrams`);
  for (const svg of r.svgs) {
    assert.match(svg, /^<svg[\s\S]*<\/svg>\s*$/);
    // Mermaid draws what it cannot parse or lay out as an error picture, or words it into a label.
    assert.doesNotMatch(shownText(svg), /Syntax error in text|Unsupported markdown|Parse error/);
  }
  t.diagnostic(`${n} diagram(s) rendered by mmdc in ${r.ms} ms (a fresh browser included)${r.leftover ? `; ${r.leftover} leftover browser processes killed` : ''}`);
}

function includesAll(text: string, wanted: readonly string[], what: string): void {
  const missing = wanted.filter((w) => !text.includes(w));
  assert.deepEqual(missing, [], `${what}: labels missing from the rendered picture`);
}

const specs = readdirSync(join(ROOT, 'infra'))
  .filter((f) => f.endsWith('.yaml') && f !== 'Pulumi.yaml')
  .sort()
  .map((f) => `infra/${f}`);

test("PR comment: every example spec's topology renders in Mermaid as GitHub runs it", async (t) => {
  assert.ok(specs.length >= 2, `example specs under infra/: ${specs.join(', ')}`);
  const views = specs.map((f) => specView(f));
  const r = await renderMermaid({ markdown: specs.map((f, i) => comment(f, views[i]!)).join('\n\n') });
  rendered(t, r, specs.length);
  r.svgs.forEach((svg, i) => {
    const v = views[i]!;
    includesAll(shownText(svg), ['upstream routers', 'control plane', 'address plan', ...v.machines.flatMap((m) => [m.name, m.address]), ...v.ranges.flatMap((g) => [g.name, g.prefix])], specs[i]!);
  });
});

test('PR comment: a change (added, removed, changed) and labels with quotes, backticks, # and < render as written', async (t) => {
  const lab = readFileSync(join(ROOT, 'infra', 'lab.yaml'), 'utf8');
  const before = specView('infra/lab.yaml', lab.replace(/(- name: general\n\s+count:) 2/, '$1 3'));
  const after = specView('infra/lab.yaml', lab.replace('serviceRangeSize: 112', 'serviceRangeSize: 108').replace(/(- name: general\n\s+count: 2\n)/, '$1    - name: edge\n      count: 1\n'));
  const odd: PlanView = {
    ranges: [{ name: 'pods', prefix: '2001:db8::/56', purpose: 'p' }],
    machines: [
      { name: 'cp "one"', role: 'control-plane', pool: 'cp', address: '2001:db8::3' },
      { name: 'w#1 <b>`x`', role: 'worker', pool: 'edge/1: a', address: 'assigned by the provider' },
    ],
  };
  const changed = comment('infra/lab.yaml', after, before);
  for (const status of ['added', 'removed', 'changed']) assert.match(changed, new RegExp(`\\n  class \\S+ ${status}\\n`), `the change has a ${status} node`);
  const r = await renderMermaid({ markdown: `${changed}\n\n${comment('infra/odd.yaml', odd)}` });
  rendered(t, r, 2);
  includesAll(shownText(r.svgs[0]!), ['lab-edge-1', 'lab-general-3', `was ${before.ranges.find((g) => g.name === 'services')!.prefix}`], 'the change');
  includesAll(shownText(r.svgs[1]!), ['cp "one"', 'w#1 <b>`x`', 'worker pool edge/1: a', 'assigned by the provider'], 'the odd labels');
});

test('PR comment: a broken diagram fails the render (a label whose quote is not escaped)', async () => {
  const odd: PlanView = { ranges: [], machines: [{ name: 'cp "one"', role: 'control-plane', pool: 'cp', address: '2001:db8::3' }] };
  const good = comment('infra/odd.yaml', odd);
  const broken = good.replace('#quot;one#quot;', '"one"');
  assert.notEqual(broken, good);
  const r = await renderMermaid({ markdown: broken });
  assert.notEqual(r.code, 0, 'mmdc accepted a diagram with an unescaped quote in a label');
  assert.match(r.stderr, /Parse error on line \d+/);
});

test("verify report: its Mermaid renders, the lab's and the widest labels', with the egress path and without", async (t) => {
  const pictures = [labFabric, widest, labNoEgress];
  const r = await renderMermaid({ markdown: pictures.map((p) => `\`\`\`mermaid\n${mermaidTopology(p)}\`\`\`\n`).join('\n') });
  rendered(t, r, pictures.length);
  r.svgs.forEach((svg, i) => {
    const p = pictures[i]!;
    const what = `${p.cluster}${p.egress ? '' : ' without egress'}`;
    const shown = shownText(svg);
    includesAll(shown, [...p.routers.map((x) => x.name), ...p.machines.flatMap((m) => [m.name, m.address]), ...egressLabels(p)], what);
    const edges = edgeLabels(svg);
    if (!p.egress) {
      assert.doesNotMatch(shown, /NAT64|IPv4/, `${what}: egress drawn`);
      assert.deepEqual([...edges.keys()].filter((id) => id.includes('inet4') || id.includes('nat64')), [], `${what}: egress edges drawn`);
      return;
    }
    // Each machine's IPv4 labels the edge from that machine (m<i>, its place in the picture) to the IPv4 internet.
    const ipv4 = new Map(p.egress.machines.map((m) => [m.name, m.ipv4]));
    assert.deepEqual(
      p.machines.map((_, mi) => edges.get(`L_m${mi}_inet4_0`)),
      p.machines.map((m) => ipv4.get(m.name)),
      `${what}: the edges from the machines to the IPv4 internet and their labels`,
    );
    assert.ok(edges.has('L_nat64_inet4_0'), `${what}: the NAT64 box's edge to the IPv4 internet`);
  });
});

interface Measured {
  readonly misfits: Misfit[];
  /** Labels measured, and those of them inside a box. */
  readonly labels: number;
  readonly boxed: number;
  readonly advance: number;
  /** Pairs of labels whose boxes overlap (other than touching). */
  readonly overlaps: Array<readonly [string, string]>;
}

interface Misfit {
  readonly box: string;
  readonly label: string;
  readonly text: { x: number; y: number; width: number; height: number };
  readonly within: { x: number; y: number; width: number; height: number };
}

/**
 * Measures the loaded picture in the browser: every <text> of a <g> lies
 * inside that group's <rect> (its bounding box 2 px inside the rectangle's,
 * and its corners inside the rounded shape), every other <text> inside the
 * picture. Plain JavaScript, run in the page: what does not fit, how many
 * labels were measured and how many of them in a box, and the widest advance seen (em per character, to
 * compare with the 0.62 the generator reserves).
 */
const MEASURE = `(() => {
  const root = document.querySelector('svg');
  const plain = (b) => ({ x: b.x, y: b.y, width: b.width, height: b.height });
  const misfits = [];
  let labels = 0;
  let boxed = 0;
  let advance = 0;
  for (const text of root.querySelectorAll('text')) {
    labels++;
    const t = text.getBBox();
    const label = text.textContent || '';
    const chars = [...label].length;
    if (chars > 0) advance = Math.max(advance, t.width / chars / parseFloat(getComputedStyle(text).fontSize));
    const group = text.closest('g');
    const rect = group && group.querySelector('rect');
    if (!rect) {
      const v = root.viewBox.baseVal;
      if (t.x < v.x || t.y < v.y || t.x + t.width > v.x + v.width || t.y + t.height > v.y + v.height) misfits.push({ box: 'the picture', label, text: plain(t), within: plain(v) });
      continue;
    }
    boxed++;
    const r = rect.getBBox();
    const m = 2;
    const inBox = t.x >= r.x + m && t.y >= r.y + m && t.x + t.width <= r.x + r.width - m && t.y + t.height <= r.y + r.height - m;
    const corners = [[t.x, t.y], [t.x + t.width, t.y], [t.x, t.y + t.height], [t.x + t.width, t.y + t.height]].every(([x, y]) => rect.isPointInFill(new DOMPoint(x, y)));
    if (!inBox || !corners) misfits.push({ box: (group.getAttribute('class') || 'g') + ' "' + group.querySelector('text').textContent + '"', label, text: plain(t), within: plain(r) });
  }
  const texts = [...root.querySelectorAll('text')].map((x) => ({ label: x.textContent || '', b: x.getBBox() }));
  const overlaps = [];
  texts.forEach((a, i) => texts.slice(i + 1).forEach((c) => {
    if (a.b.x < c.b.x + c.b.width && c.b.x < a.b.x + a.b.width && a.b.y < c.b.y + c.b.height && c.b.y < a.b.y + a.b.height) overlaps.push([a.label, c.label]);
  }));
  return { misfits, labels, boxed, advance, overlaps };
})()`;

/**
 * Where each IPv4 label of the loaded picture stands, plain JavaScript run
 * in the page with the machines' names and IPv4s: the label's group holds a
 * line that starts at the middle of that machine's box's bottom and ends on
 * the top of the IPv4 internet's box, and that line runs through the label
 * (at the label's middle height, between its ends); without machines, no
 * egress drawn at all. What is wrong, one line each.
 */
const EGRESS = `(([pairs]) => {
  const root = document.querySelector('svg');
  const problems = [];
  const groups = (cls) => [...root.querySelectorAll('g.' + cls)];
  const internet = groups('internet-v4');
  if (pairs.length === 0) return ['nat64', 'internet-v4', 'egress-edge'].filter((cls) => groups(cls).length > 0).map((cls) => cls + ' drawn without egress');
  if (internet.length !== 1) return ['IPv4 internet boxes: ' + internet.length];
  const inet = internet[0].querySelector('rect').getBBox();
  for (const [name, ipv4] of pairs) {
    const machine = groups('machine').find((g) => (g.querySelector('text').textContent || '').startsWith(name + ' ('));
    const edges = groups('egress-edge').filter((g) => g.querySelector('text').textContent === ipv4);
    if (!machine || edges.length !== 1) { problems.push(name + ': machine ' + !!machine + ', edges labelled ' + ipv4 + ': ' + edges.length); continue; }
    const m = machine.querySelector('rect').getBBox();
    const line = edges[0].querySelector('line');
    const [x1, y1, x2, y2] = ['x1', 'y1', 'x2', 'y2'].map((a) => line[a].baseVal.value);
    if (Math.abs(x1 - (m.x + m.width / 2)) > 1 || Math.abs(y1 - (m.y + m.height)) > 1) problems.push(name + ': its edge starts at ' + x1 + ',' + y1 + ', not under its box');
    if (Math.abs(y2 - inet.y) > 1 || x2 < inet.x || x2 > inet.x + inet.width) problems.push(name + ': its edge ends at ' + x2 + ',' + y2 + ', not on the IPv4 internet');
    const t = edges[0].querySelector('text').getBBox();
    const along = (t.y + t.height / 2 - y1) / (y2 - y1);
    const x = x1 + along * (x2 - x1);
    if (along <= 0 || along >= 1 || x < t.x || x > t.x + t.width) problems.push(name + ': its label ' + ipv4 + ' is not on its edge');
  }
  return problems;
})`;

async function egressProblems(page: Page, svg: string, p: FabricPicture): Promise<string[]> {
  await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
  const pairs = (p.egress?.machines ?? []).map((m) => [m.name, m.ipv4]);
  return (await page.evaluate(`${EGRESS}(${JSON.stringify([pairs])})`)) as string[];
}

async function misfits(page: Page, svg: string): Promise<Measured> {
  await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
  return (await page.evaluate(MEASURE)) as Measured;
}

test('verify report: its SVG keeps every label inside its box in the browser, and each IPv4 on its machine\'s edge (the lab, the widest labels, no egress; a narrowed box and a moved label caught)', async (t) => {
  await inBrowser(async (page) => {
    for (const picture of [labFabric, widest, labNoEgress]) {
      const what = `${picture.cluster}${picture.egress ? '' : ' without egress'}`;
      const svg = svgTopology(picture);
      const m = await misfits(page, svg);
      // Each router and Service box has two labels, each machine two and one per pod block: all of them measured against their box.
      // With egress: the NAT64 box's two, the IPv4 internet's one or two, and each machine's IPv4 in its own box on its edge.
      const blocks = picture.routers[0]!.routes.filter((r) => r.kind === 'pod-block').length;
      const services = picture.routers[0]!.routes.filter((r) => r.kind === 'service-range' || r.kind === 'service-128').length;
      const egress = picture.egress ? 2 + (picture.egress.internetV4 ? 2 : 1) + picture.egress.machines.length : 0;
      assert.equal(m.boxed, 2 * picture.routers.length + 2 * services + 2 * picture.machines.length + blocks + egress, `${what}: labels measured against a box`);
      assert.deepEqual(m.misfits, [], `${what}: labels outside their boxes`);
      assert.deepEqual(m.overlaps, [], `${what}: labels that overlap`);
      assert.deepEqual(await egressProblems(page, svg, picture), [], `${what}: the egress edges`);
      if (picture.egress) includesAll(svg, egressLabels(picture).map((l) => `>${l}</text>`), what);
      else assert.doesNotMatch(svg, /NAT64|IPv4|egress/, `${what}: egress drawn`);
      t.diagnostic(`${what}: ${m.boxed} labels inside their boxes, ${m.labels - m.boxed} more inside the picture, none overlapping; widest advance ${m.advance.toFixed(3)} em per character (the generator reserves 0.62)`);
    }
    // The check itself: the first machine's box made 120 px narrower than its label needs.
    const svg = svgTopology(labFabric).replace(/(<g class="machine"><rect [^>]*width=")(\d+(?:\.\d+)?)"/, (_, head: string, w: string) => `${head}${Number(w) - 120}"`);
    const m = await misfits(page, svg);
    assert.ok(
      m.misfits.some((x) => x.box.startsWith('machine "lab-cp-1') && x.label.startsWith('pods ')),
      `a narrowed box was not caught: ${JSON.stringify(m.misfits)}`,
    );
    // The NAT64 box made 120 px narrower: its second line is caught.
    const nat64 = svgTopology(labFabric).replace(/(<g class="nat64"><rect [^>]*width=")(\d+(?:\.\d+)?)"/, (_, head: string, w: string) => `${head}${Number(w) - 120}"`);
    const n = await misfits(page, nat64);
    assert.ok(
      n.misfits.some((x) => x.box.startsWith('nat64 "NAT64 ') && x.label === 'translated on each node, with its IPv4'),
      `a narrowed NAT64 box was not caught: ${JSON.stringify(n.misfits)}`,
    );
    // Two machines' IPv4 labels swapped: each now on the other's edge, caught for both.
    const swapped = svgTopology(labFabric).replace('>198.51.100.1<', '>SWAP<').replace('>198.51.100.3<', '>198.51.100.1<').replace('>SWAP<', '>198.51.100.3<');
    assert.notEqual(swapped, svgTopology(labFabric));
    const problems = await egressProblems(page, swapped, labFabric);
    assert.deepEqual(
      problems.map((x) => x.replace(/ at [\d.]+,[\d.]+,/, ' at …,')),
      ['lab-cp-1: its edge starts at …, not under its box', 'lab-cp-2: its edge starts at …, not under its box'],
      `swapped IPv4 labels: ${JSON.stringify(problems)}`,
    );
  });
});
