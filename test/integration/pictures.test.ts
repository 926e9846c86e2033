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
//     included; a deliberately narrowed box proves the check would see it.
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

/** The lab's fabric as its verify saw it (the `fabric` of a report written by `npm run lab -- verify`, 2026-12-06). */
const labFabric = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'fabric', 'lab.json'), 'utf8')) as FabricPicture;

/** The longest labels the picture can meet: a full eight-group prefix and address, long names, two pod blocks on a node, a session down. */
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
  };
})();

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

test("verify report: its Mermaid renders, the lab's and the widest labels'", async (t) => {
  const pictures = [labFabric, widest];
  const r = await renderMermaid({ markdown: pictures.map((p) => `\`\`\`mermaid\n${mermaidTopology(p)}\`\`\`\n`).join('\n') });
  rendered(t, r, pictures.length);
  r.svgs.forEach((svg, i) => {
    const p = pictures[i]!;
    includesAll(shownText(svg), [...p.routers.map((x) => x.name), ...p.machines.flatMap((m) => [m.name, m.address])], p.cluster);
  });
});

interface Measured {
  readonly misfits: Misfit[];
  /** Labels measured, and those of them inside a box. */
  readonly labels: number;
  readonly boxed: number;
  readonly advance: number;
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
  return { misfits, labels, boxed, advance };
})()`;

async function misfits(page: Page, svg: string): Promise<Measured> {
  await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
  return (await page.evaluate(MEASURE)) as Measured;
}

test('verify report: its SVG keeps every label inside its box in the browser (the lab, the widest labels, a narrowed box caught)', async (t) => {
  await inBrowser(async (page) => {
    for (const picture of [labFabric, widest]) {
      const svg = svgTopology(picture);
      const m = await misfits(page, svg);
      // Each router and Service box has two labels, each machine two and one per pod block: all of them measured against their box.
      const blocks = picture.routers[0]!.routes.filter((r) => r.kind === 'pod-block').length;
      const services = picture.routers[0]!.routes.filter((r) => r.kind === 'service-range' || r.kind === 'service-128').length;
      assert.equal(m.boxed, 2 * picture.routers.length + 2 * services + 2 * picture.machines.length + blocks, `${picture.cluster}: labels measured against a box`);
      assert.deepEqual(m.misfits, [], `${picture.cluster}: labels outside their boxes`);
      t.diagnostic(`${picture.cluster}: ${m.boxed} labels inside their boxes, ${m.labels - m.boxed} more inside the picture; widest advance ${m.advance.toFixed(3)} em per character (the generator reserves 0.62)`);
    }
    // The check itself: the first machine's box made 120 px narrower than its label needs.
    const svg = svgTopology(labFabric).replace(/(<g class="machine"><rect [^>]*width=")(\d+(?:\.\d+)?)"/, (_, head: string, w: string) => `${head}${Number(w) - 120}"`);
    const m = await misfits(page, svg);
    assert.ok(
      m.misfits.some((x) => x.box.startsWith('machine "lab-cp-1') && x.label.startsWith('pods ')),
      `a narrowed box was not caught: ${JSON.stringify(m.misfits)}`,
    );
  });
});
