/**
 * The fabric as the routers see it, drawn: routers, nodes with their pod
 * blocks, the Service routes with their ECMP fan-out and the Local /128s,
 * and, when the cluster has NAT64, the egress path to the IPv4 internet from
 * each node with its own IPv4, as a Mermaid flowchart (for Markdown, PR
 * comments) and as a standalone SVG a person can open, each of its boxes as
 * wide as its longest label. Pure and deterministic: same picture, same
 * bytes; a picture without egress draws as it did before egress was drawn.
 */

export interface FabricRoute {
  readonly prefix: string;
  /** Machine names the route points to (its next hops), sorted. */
  readonly via: readonly string[];
  readonly kind: 'pod-block' | 'service-range' | 'service-128' | 'other';
}

/**
 * How pods reach IPv4-only hosts: DNS64 answers with addresses under the
 * NAT64 prefix, and every node translates its own pods' packets to that
 * prefix into IPv4 with its own public IPv4 address (lib/render/nat64.ts,
 * docs/egress.md). Nothing is announced: the path is the node's, not the routers'.
 */
export interface FabricEgress {
  /** The NAT64 prefix (a /96), e.g. 2001:db8:100:4::/96. */
  readonly nat64: string;
  /** Where the IPv4 internet's hosts are, when the platform knows (the lab's 192.0.2.0/24). */
  readonly internetV4?: string;
  /** Each translating machine, by its name in the picture, with the IPv4 address its pods' packets leave with. */
  readonly machines: ReadonlyArray<{ readonly name: string; readonly ipv4: string }>;
}

export interface FabricPicture {
  readonly cluster: string;
  readonly routers: ReadonlyArray<{ readonly name: string; readonly peerIP: string; readonly sessions: readonly string[]; readonly routes: readonly FabricRoute[] }>;
  readonly machines: ReadonlyArray<{ readonly name: string; readonly address: string; readonly role: string }>;
  /** Absent for a cluster without NAT64 (spec.egress.ipv4: none), and in reports written before verify drew it. */
  readonly egress?: FabricEgress;
}

/** Routes that differ between routers are drawn from the first router; the rest agree (verify checks that). */
function routesOf(p: FabricPicture): FabricRoute[] {
  return [...(p.routers[0]?.routes ?? [])].sort((a, b) => a.kind.localeCompare(b.kind) || a.prefix.localeCompare(b.prefix));
}

const id = (prefix: string, i: number) => `${prefix}${i}`;

/**
 * The egress edges to draw, in the order of the picture's machines: each
 * machine with an IPv4 in `egress` (the first one given for its name). A
 * name the picture has no machine for is left out, as a route's next hop is.
 */
function egressEdges(p: FabricPicture): Array<{ readonly machine: number; readonly ipv4: string }> {
  const ipv4 = new Map<string, string>();
  for (const m of p.egress?.machines ?? []) if (!ipv4.has(m.name)) ipv4.set(m.name, m.ipv4);
  return p.machines.flatMap((m, machine) => {
    const address = ipv4.get(m.name);
    return address === undefined ? [] : [{ machine, ipv4: address }];
  });
}

/** The egress path's colours, in both pictures. */
const EGRESS_FILL = '#f3ecfa';
const EGRESS_STROKE = '#7a3fb0';

/** The labels of the egress boxes, as both pictures draw them. */
const nat64Lines = (e: FabricEgress) => [`NAT64 ${e.nat64}`, 'translated on each node, with its IPv4'];
const internetLines = (e: FabricEgress) => ['IPv4 internet', ...(e.internetV4 ? [e.internetV4] : [])];

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
  // Egress: every machine to the IPv4 internet, labelled with its own IPv4; the NAT64 box beside the machines says how.
  if (p.egress) {
    lines.push(`  nat64{{"${nat64Lines(p.egress).join('<br/>')}"}}`, `  inet4["${internetLines(p.egress).join('<br/>')}"]`);
    for (const e of egressEdges(p)) lines.push(`  ${id('m', e.machine)} -->|${e.ipv4}| inet4`);
    lines.push('  nat64 -.- inet4', '  class nat64,inet4 egress');
  }
  lines.push('  classDef range fill:#e8f1ff,stroke:#3b6fb6', '  classDef local fill:#fff1e0,stroke:#c77700');
  if (p.egress) lines.push(`  classDef egress fill:${EGRESS_FILL},stroke:${EGRESS_STROKE}`);
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

/** The egress edges' run from the machines down to the egress row; each edge's label sits this far below its machine. */
const EGRESS_DROP = 90;
const EGRESS_LABEL_DROP = 30;

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
  // The egress row's two boxes (NAT64, IPv4 internet) share one width, as a row's boxes do.
  const egress = p.egress ? { nat64: nat64Lines(p.egress), internet: internetLines(p.egress), edges: egressEdges(p) } : undefined;
  const routerW = boxWidth(routerLines.flat());
  const serviceW = boxWidth(serviceLines.flat());
  const machineW = boxWidth(machineLines.flat());
  const egressW = egress ? boxWidth([...egress.nat64, ...egress.internet]) : 0;
  const title = `${p.cluster}: routes as the routers see them`;
  const legend = [
    { text: 'BGP session', stroke: 'stroke="#9aa5b1"' },
    { text: 'Service range next hop (ECMP)', stroke: 'stroke="#3b6fb6" stroke-width="1.5"' },
    { text: 'Local Service /128 next hop', stroke: 'stroke="#c77700" stroke-width="2.5"' },
    ...(egress ? [{ text: "NAT64 egress from the node's IPv4", stroke: `stroke="${EGRESS_STROKE}" stroke-width="1.5"` }] : []),
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
    egress ? 2 * (egressW + GAP) : 0,
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
  // The egress row, under the machines: NAT64 and the IPv4 internet side by side, centred.
  const egressY = machineY + machineH + EGRESS_DROP;
  const egressH = 44;
  const nat64X = MARGIN + (inner - (2 * egressW + GAP)) / 2;
  const internetX = nat64X + egressW + GAP;
  const height = (egress ? egressY + egressH : machineY + machineH) + 60;
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
  // Egress: from each machine's bottom down to the IPv4 internet's top, the edges spread along it in the
  // machines' order (so none cross), each labelled with its machine's IPv4 a third of the way down, in a white
  // box over its own line. Machines stand at least MIN_BOX + GAP apart, so there the edges are at least
  // (MIN_BOX + GAP) * 2/3 = 160 px apart: more than an IPv4 label's box (15 characters, 111 px).
  if (egress) {
    const n = egress.edges.length;
    egress.edges.forEach((e, k) => {
      const x1 = machineX(e.machine) + machineW / 2;
      const y1 = machineY + machineH;
      const x2 = internetX + ((k + 1) * egressW) / (n + 1);
      const lx = x1 + ((x2 - x1) * EGRESS_LABEL_DROP) / EGRESS_DROP;
      const ly = y1 + EGRESS_LABEL_DROP;
      const lw = textWidth(e.ipv4) + 8;
      out.push(
        `<g class="egress-edge"><line x1="${x1}" y1="${y1}" x2="${x2}" y2="${egressY}" stroke="${EGRESS_STROKE}" stroke-width="1.5"/>`,
        `<rect x="${lx - lw / 2}" y="${ly - 10}" width="${lw}" height="20" rx="3" fill="#ffffff"/>`,
        `<text x="${lx}" y="${ly + 4}" text-anchor="middle" fill="${EGRESS_STROKE}">${esc(e.ipv4)}</text></g>`,
      );
    });
  }
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
  if (egress) {
    const [prefix = '', how = ''] = egress.nat64;
    box('nat64', `<rect x="${nat64X}" y="${egressY}" width="${egressW}" height="${egressH}" rx="6" fill="${EGRESS_FILL}" stroke="${EGRESS_STROKE}"/>`, nat64X, [
      { text: prefix, y: egressY + 18, attrs: ' font-weight="bold"' },
      { text: how, y: egressY + 34 },
    ]);
    const [name = '', range] = egress.internet;
    box('internet-v4', `<rect x="${internetX}" y="${egressY}" width="${egressW}" height="${egressH}" rx="6" fill="#ffffff" stroke="${EGRESS_STROKE}"/>`, internetX, [
      { text: name, y: egressY + 18, attrs: ' font-weight="bold"' },
      ...(range === undefined ? [] : [{ text: range, y: egressY + 34 }]),
    ]);
  }
  const ly = height - 20;
  legend.forEach((item, i) => {
    const x = legendX[i]!;
    out.push(`<line x1="${x}" y1="${ly}" x2="${x + 30}" y2="${ly}" ${item.stroke}/><text x="${x + 36}" y="${ly + 4}">${esc(item.text)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
