/**
 * A headless browser for the picture tests: Debian's Chromium
 * (`apt-get install -y chromium`; puppeteer's own download is skipped by
 * .puppeteerrc.cjs), driven by mermaid-cli (`mmdc`) to render Mermaid with
 * the real library, as GitHub does, and by puppeteer to measure our own SVG in
 * the browser's layout. Each call starts its own browser in a fresh directory
 * and ends every process that names that directory before it returns, even
 * when the render fails or times out.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Page } from 'puppeteer';
import { needProgram } from './prerequisites.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MMDC = join(ROOT, 'node_modules', '@mermaid-js', 'mermaid-cli', 'src', 'cli.js');
const TIMEOUT_MS = 120_000;

/** Fails, naming the command that installs it, unless Chromium is installed. */
export function needChromium(): string {
  return needProgram('chromium', 'apt-get install -y chromium', ['/usr/bin']);
}

/**
 * One browser's directory (profile, config, crash reports: XDG_CONFIG_HOME
 * points into it, so that even Chromium's crash handler names it), its
 * flags and its environment. --no-sandbox: Chromium refuses to run as root
 * with its sandbox, and the pages are our own.
 */
function browserHome(): { dir: string; executablePath: string; args: string[]; env: NodeJS.ProcessEnv } {
  const executablePath = needChromium();
  const dir = mkdtempSync(join(tmpdir(), 'native6-browser-'));
  const args = [
    '--no-sandbox',
    '--headless',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${join(dir, 'profile')}`,
  ];
  return { dir, executablePath, args, env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache') } };
}

/** Kills (SIGKILL) every process whose command line names `dir`; how many there were. */
export function endBrowsers(dir: string): number {
  let ended = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (Number(pid) === process.pid || !cmdline.includes(dir)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      ended++;
    } catch {
      // gone meanwhile
    }
  }
  return ended;
}

/** Cleans up a browser's directory: its processes first, then its files. */
function closeHome(dir: string): number {
  const ended = endBrowsers(dir);
  rmSync(dir, { recursive: true, force: true });
  return ended;
}

export interface MermaidRender {
  /** mmdc's exit code: 0 when every diagram rendered. */
  readonly code: number;
  /** One SVG per diagram, in order. */
  readonly svgs: readonly string[];
  /** What mmdc printed on failure (Mermaid's parse error, with the line). */
  readonly stderr: string;
  readonly ms: number;
  /** Browser processes still running when mmdc had exited, and killed. */
  readonly leftover: number;
}

/**
 * Renders with mmdc into SVG: `markdown` (every ```mermaid block in it, as
 * GitHub would find them) or a bare Mermaid `diagram`.
 */
export async function renderMermaid(input: { markdown: string } | { diagram: string }): Promise<MermaidRender> {
  const home = browserHome();
  try {
    const markdown = 'markdown' in input;
    const source = join(home.dir, markdown ? 'input.md' : 'input.mmd');
    const output = join(home.dir, markdown ? 'out.md' : 'out.svg');
    const config = join(home.dir, 'puppeteer.json');
    writeFileSync(source, markdown ? input.markdown : input.diagram);
    writeFileSync(config, JSON.stringify({ executablePath: home.executablePath, headless: true, args: home.args }));
    const started = performance.now();
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [MMDC, '--quiet', '-p', config, '-i', source, '-o', output], { env: home.env, timeout: TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stderr: err && err.killed ? `mmdc timed out after ${TIMEOUT_MS} ms\n${stderr}` : stderr });
      });
    });
    const ms = Math.round(performance.now() - started);
    const leftover = endBrowsers(home.dir);
    const svgs = markdown
      ? readdirSync(home.dir)
          .map((f) => /^out-(\d+)\.svg$/.exec(f))
          .filter((m): m is RegExpExecArray => m !== null)
          .sort((a, b) => Number(a[1]) - Number(b[1]))
          .map((m) => readFileSync(join(home.dir, m[0]), 'utf8'))
      : result.code === 0
        ? [readFileSync(output, 'utf8')]
        : [];
    return { code: result.code, svgs, stderr: result.stderr, ms, leftover };
  } finally {
    closeHome(home.dir);
  }
}

/** Runs `fn` on a blank page of a fresh headless Chromium; the browser is ended afterwards, whatever happens. */
export async function inBrowser<T>(fn: (page: Page) => Promise<T>): Promise<T> {
  const home = browserHome();
  try {
    const browser = await puppeteer.launch({ executablePath: home.executablePath, headless: true, args: home.args, env: home.env, timeout: TIMEOUT_MS });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(TIMEOUT_MS);
      return await fn(page);
    } finally {
      await browser.close().catch(() => undefined);
    }
  } finally {
    closeHome(home.dir);
  }
}
