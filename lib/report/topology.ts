/**
 * The fabric as the routers see it, drawn: routers, nodes with their pod
 * blocks, the Service routes with their ECMP fan-out and the Local /128s,
 * as a Mermaid flowchart (for Markdown, PR comments) and as a standalone SVG
 * a person can open. Pure and deterministic: same picture, same bytes.
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

export function svgTopology(p: FabricPicture): string {
  const routes = routesOf(p);
  const services = routes.filter((r) => r.kind === 'service-range' || r.kind === 'service-128');
  const colW = 240;
  const width = Math.max(p.machines.length, p.routers.length * 2, services.length) * colW + 40;
  const routerY = 30;
  const serviceY = 170;
  const machineY = 330;
  const machineX = (i: number) => 20 + i * colW + (width - 40 - p.machines.length * colW) / 2;
  const routerX = (i: number) => 20 + ((i + 0.5) * (width - 40)) / p.routers.length - 110;
  const serviceX = (i: number) => 20 + i * colW + (width - 40 - services.length * colW) / 2;
  const center = (x: number) => x + 110;
  const blocks = (name: string) => routes.filter((r) => r.kind === 'pod-block' && r.via.length === 1 && r.via[0] === name).map((r) => r.prefix);
  const maxBlocks = Math.max(1, ...p.machines.map((m) => blocks(m.name).length));
  const machineH = 56 + maxBlocks * 16;
  const height = machineY + machineH + 60;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="18" font-size="13" font-weight="bold">${esc(p.cluster)}: routes as the routers see them</text>`,
  ];
  const machineIndex = new Map(p.machines.map((m, i) => [m.name, i]));
  // Sessions: router to machine.
  p.routers.forEach((r, ri) => {
    p.machines.forEach((m, mi) => {
      const up = r.sessions.includes(m.name);
      out.push(`<line x1="${center(routerX(ri))}" y1="${routerY + 44}" x2="${center(machineX(mi))}" y2="${machineY}" stroke="${up ? '#9aa5b1' : '#d64545'}" stroke-width="1"${up ? '' : ' stroke-dasharray="4 3"'}/>`);
    });
  });
  // Service routes: fan-out to their next hops.
  services.forEach((s, si) => {
    const x = center(serviceX(si));
    for (const v of s.via) {
      const mi = machineIndex.get(v);
      if (mi === undefined) continue;
      out.push(`<line x1="${x}" y1="${serviceY + 40}" x2="${center(machineX(mi))}" y2="${machineY}" stroke="${s.kind === 'service-range' ? '#3b6fb6' : '#c77700'}" stroke-width="${s.kind === 'service-range' ? 1.5 : 2.5}"/>`);
    }
  });
  p.routers.forEach((r, ri) => {
    const x = routerX(ri);
    out.push(`<rect x="${x}" y="${routerY}" width="220" height="44" rx="6" fill="#eef0f3" stroke="#3e4c59"/>`);
    out.push(`<text x="${x + 10}" y="${routerY + 18}" font-weight="bold">${esc(r.name)}</text>`);
    out.push(`<text x="${x + 10}" y="${routerY + 34}">${esc(r.peerIP)} · ${r.sessions.length}/${p.machines.length} sessions</text>`);
  });
  services.forEach((s, si) => {
    const x = serviceX(si);
    const range = s.kind === 'service-range';
    out.push(`<rect x="${x}" y="${serviceY}" width="220" height="40" rx="20" fill="${range ? '#e8f1ff' : '#fff1e0'}" stroke="${range ? '#3b6fb6' : '#c77700'}"/>`);
    out.push(`<text x="${x + 12}" y="${serviceY + 16}">${esc(s.prefix)}</text>`);
    out.push(`<text x="${x + 12}" y="${serviceY + 31}">${range ? `Service range, ECMP x${s.via.length}` : `Local Service, x${s.via.length}`}</text>`);
  });
  p.machines.forEach((m, mi) => {
    const x = machineX(mi);
    out.push(`<rect x="${x}" y="${machineY}" width="220" height="${machineH}" rx="4" fill="#f5f7fa" stroke="#3e4c59"/>`);
    out.push(`<text x="${x + 10}" y="${machineY + 18}" font-weight="bold">${esc(m.name)} (${esc(m.role)})</text>`);
    out.push(`<text x="${x + 10}" y="${machineY + 34}">${esc(m.address)}</text>`);
    blocks(m.name).forEach((b, bi) => out.push(`<text x="${x + 10}" y="${machineY + 52 + bi * 16}" fill="#2f8132">pods ${esc(b)}</text>`));
  });
  const ly = height - 20;
  out.push(
    `<line x1="20" y1="${ly}" x2="50" y2="${ly}" stroke="#9aa5b1"/><text x="56" y="${ly + 4}">BGP session</text>`,
    `<line x1="160" y1="${ly}" x2="190" y2="${ly}" stroke="#3b6fb6" stroke-width="1.5"/><text x="196" y="${ly + 4}">Service range next hop (ECMP)</text>`,
    `<line x1="420" y1="${ly}" x2="450" y2="${ly}" stroke="#c77700" stroke-width="2.5"/><text x="456" y="${ly + 4}">Local Service /128 next hop</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
