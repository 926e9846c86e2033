/**
 * The fabric as the routers see it, drawn: routers, nodes with their pod
 * blocks, the Service routes with their ECMP fan-out and the Local /128s,
 * as a Mermaid flowchart (for Markdown, PR comments) and as a standalone SVG
 * a person can open, each of its boxes as wide as its longest label. Pure
 * and deterministic: same picture, same bytes.
 */

export interface FabricRoute {
  readonly prefix: string;
  /** Machine names the route points to (its next hops), sorted. */
  readonly via: readonly string[];
  readonly kind: 'pod-block' | 'service-range' | 'service-128' | 'other';
}

export interface FabricPicture {
  readonly cluster: string;
  readonly routers: ReadonlyArray<{ readonly name: string; readonly peerIP: string; readonly sessions: readonly string[]; readonly routes: readonly FabricRoute[] }>;
  readonly machines: ReadonlyArray<{ readonly name: string; readonly address: string; readonly role: string }>;
}

/** Routes that differ between routers are drawn from the first router; the rest agree (verify checks that). */
function routesOf(p: FabricPicture): FabricRoute[] {
  return [...(p.routers[0]?.routes ?? [])].sort((a, b) => a.kind.localeCompare(b.kind) || a.prefix.localeCompare(b.prefix));
}

const id = (prefix: string, i: number) => `${prefix}${i}`;

export function mermaidTopology(p: FabricPicture): string {
  const lines = ['flowchart TB'];
  const machineId = new Map(p.machines.map((m, i) => [m.name, id('m', i)]));
  p.routers.forEach((r, i) => lines.push(`  ${id('r', i)}[["${r.name}<br/>${r.peerIP}"]]`));
  const routes = routesOf(p);
  const blocks = (name: string) => routes.filter((r) => r.kind === 'pod-block' && r.via.length === 1 && r.via[0] === name).map((r) => r.prefix);
  p.machines.forEach((m, i) => {
    const pods = blocks(m.name);
    lines.push(`  ${id('m', i)}["${m.name} (${m.role})<br/>${m.address}${pods.map((b) => `<br/>pods ${b}`).join('')}"]`);
  });
  p.routers.forEach((r, ri) => {
    for (const m of p.machines) {
      const up = r.sessions.includes(m.name);
      lines.push(`  ${id('r', ri)} ${up ? '---' : '-.-'}|${up ? 'BGP' : 'down'}| ${machineId.get(m.name)}`);
    }
  });
  routes
    .filter((r) => r.kind === 'service-range' || r.kind === 'service-128')
    .forEach((r, i) => {
      const label = r.kind === 'service-range' ? `${r.prefix}<br/>ECMP x${r.via.length}` : `${r.prefix}<br/>Local, x${r.via.length}`;
      lines.push(`  ${id('s', i)}(["${label}"])`);
      for (const v of r.via) {
        const target = machineId.get(v);
        if (target) lines.push(`  ${id('s', i)} ${r.kind === 'service-range' ? '-.->' : '==>'} ${target}`);
      }
      lines.push(`  class ${id('s', i)} ${r.kind === 'service-range' ? 'range' : 'local'}`);
    });
  lines.push('  classDef range fill:#e8f1ff,stroke:#3b6fb6', '  classDef local fill:#fff1e0,stroke:#c77700');
  return `${lines.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Font sizes of the SVG's text, and the space between a box's edge and its text. */
const FONT = 11;
const TITLE_FONT = 13;
const PAD = 12;
/** Boxes in a row stand this far apart; the picture has this margin. */
const GAP = 20;
const MARGIN = 20;

/**
 * How wide a line of monospace text is drawn, conservatively: the glyphs'
 * advance is 0.60 em in DejaVu Sans Mono, Liberation Mono, Menlo and Courier
 * New, 0.55 em in Consolas; we reserve 0.62 em (bold included: a monospace
 * bold keeps its advance). A box sized from this holds its longest line.
 */
function textWidth(s: string, size = FONT): number {
  return Math.ceil([...s].length * size * 0.62);
}

/** The narrowest box; routers stand at least two such columns apart. */
const MIN_BOX = 220;

/** A box's width: its longest line and the padding on both sides, never narrower than MIN_BOX. */
function boxWidth(lines: readonly string[]): number {
  return Math.max(MIN_BOX, ...lines.map((l) => textWidth(l) + 2 * PAD));
}

export function svgTopology(p: FabricPicture): string {
  const routes = routesOf(p);
  const services = routes.filter((r) => r.kind === 'service-range' || r.kind === 'service-128');
  const blocks = (name: string) => routes.filter((r) => r.kind === 'pod-block' && r.via.length === 1 && r.via[0] === name).map((r) => r.prefix);
  // Every label, as drawn, by box: each row's boxes take the width of its longest label.
  const routerLines = p.routers.map((r) => [r.name, `${r.peerIP} · ${r.sessions.length}/${p.machines.length} sessions`]);
  const serviceLines = services.map((s) => [s.prefix, s.kind === 'service-range' ? `Service range, ECMP x${s.via.length}` : `Local Service, x${s.via.length}`]);
  const machineLines = p.machines.map((m) => [`${m.name} (${m.role})`, m.address, ...blocks(m.name).map((b) => `pods ${b}`)]);
  const routerW = boxWidth(routerLines.flat());
  const serviceW = boxWidth(serviceLines.flat());
  const machineW = boxWidth(machineLines.flat());
  const title = `${p.cluster}: routes as the routers see them`;
  const legend = [
    { text: 'BGP session', stroke: 'stroke="#9aa5b1"' },
    { text: 'Service range next hop (ECMP)', stroke: 'stroke="#3b6fb6" stroke-width="1.5"' },
    { text: 'Local Service /128 next hop', stroke: 'stroke="#c77700" stroke-width="2.5"' },
  ];
  // The legend's items in a line: a 30 px stroke, its text, two gaps.
  const legendX: number[] = [];
  let legendRight = MARGIN - 2 * GAP;
  for (const item of legend) {
    legendX.push(legendRight + 2 * GAP);
    legendRight += 2 * GAP + 36 + textWidth(item.text);
  }
  const width = Math.max(
    p.machines.length * (machineW + GAP),
    p.routers.length * (routerW + GAP),
    p.routers.length * 2 * (MIN_BOX + GAP),
    services.length * (serviceW + GAP),
    textWidth(title, TITLE_FONT),
    legendRight - MARGIN,
  ) + 2 * MARGIN;
  const inner = width - 2 * MARGIN;
  const routerY = 30;
  const serviceY = 170;
  const machineY = 330;
  const machineX = (i: number) => MARGIN + i * (machineW + GAP) + (inner - p.machines.length * (machineW + GAP)) / 2;
  const routerX = (i: number) => MARGIN + ((i + 0.5) * inner) / p.routers.length - routerW / 2;
  const serviceX = (i: number) => MARGIN + i * (serviceW + GAP) + (inner - services.length * (serviceW + GAP)) / 2;
  const maxBlocks = Math.max(1, ...p.machines.map((m) => blocks(m.name).length));
  const machineH = 56 + maxBlocks * 16;
  const height = machineY + machineH + 60;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="18" font-size="${TITLE_FONT}" font-weight="bold">${esc(title)}</text>`,
  ];
  const machineIndex = new Map(p.machines.map((m, i) => [m.name, i]));
  // Sessions: router to machine.
  p.routers.forEach((r, ri) => {
    p.machines.forEach((m, mi) => {
      const up = r.sessions.includes(m.name);
      out.push(`<line x1="${routerX(ri) + routerW / 2}" y1="${routerY + 44}" x2="${machineX(mi) + machineW / 2}" y2="${machineY}" stroke="${up ? '#9aa5b1' : '#d64545'}" stroke-width="1"${up ? '' : ' stroke-dasharray="4 3"'}/>`);
    });
  });
  // Service routes: fan-out to their next hops.
  services.forEach((s, si) => {
    const x = serviceX(si) + serviceW / 2;
    for (const v of s.via) {
      const mi = machineIndex.get(v);
      if (mi === undefined) continue;
      out.push(`<line x1="${x}" y1="${serviceY + 40}" x2="${machineX(mi) + machineW / 2}" y2="${machineY}" stroke="${s.kind === 'service-range' ? '#3b6fb6' : '#c77700'}" stroke-width="${s.kind === 'service-range' ? 1.5 : 2.5}"/>`);
    }
  });
  // Each box is a group, its rectangle and then its labels: the picture test checks that every label lies inside its box.
  const box = (cls: string, rect: string, x: number, labels: ReadonlyArray<{ text: string; y: number; attrs?: string }>) =>
    out.push(`<g class="${cls}">${rect}`, ...labels.map((l) => `<text x="${x + PAD}" y="${l.y}"${l.attrs ?? ''}>${esc(l.text)}</text>`), '</g>');
  p.routers.forEach((_, ri) => {
    const x = routerX(ri);
    const [name = '', line = ''] = routerLines[ri] ?? [];
    box('router', `<rect x="${x}" y="${routerY}" width="${routerW}" height="44" rx="6" fill="#eef0f3" stroke="#3e4c59"/>`, x, [
      { text: name, y: routerY + 18, attrs: ' font-weight="bold"' },
      { text: line, y: routerY + 34 },
    ]);
  });
  services.forEach((s, si) => {
    const x = serviceX(si);
    const range = s.kind === 'service-range';
    const [prefix = '', line = ''] = serviceLines[si] ?? [];
    box('service', `<rect x="${x}" y="${serviceY}" width="${serviceW}" height="40" rx="20" fill="${range ? '#e8f1ff' : '#fff1e0'}" stroke="${range ? '#3b6fb6' : '#c77700'}"/>`, x, [
      { text: prefix, y: serviceY + 16 },
      { text: line, y: serviceY + 31 },
    ]);
  });
  p.machines.forEach((_, mi) => {
    const x = machineX(mi);
    const [name = '', address = '', ...pods] = machineLines[mi] ?? [];
    box('machine', `<rect x="${x}" y="${machineY}" width="${machineW}" height="${machineH}" rx="4" fill="#f5f7fa" stroke="#3e4c59"/>`, x, [
      { text: name, y: machineY + 18, attrs: ' font-weight="bold"' },
      { text: address, y: machineY + 34 },
      ...pods.map((b, bi) => ({ text: b, y: machineY + 52 + bi * 16, attrs: ' fill="#2f8132"' })),
    ]);
  });
  const ly = height - 20;
  legend.forEach((item, i) => {
    const x = legendX[i]!;
    out.push(`<line x1="${x}" y1="${ly}" x2="${x + 30}" y2="${ly}" ${item.stroke}/><text x="${x + 36}" y="${ly + 4}">${esc(item.text)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
