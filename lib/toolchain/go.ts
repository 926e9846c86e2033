/** The Go toolchain as setup needs it: the version check, and `go mod download` of one pinned module. */
import { capture } from '../exec/run.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GO_MIN_VERSION } from '../toolchain/pins.js';

// ---------------------------------------------------------------------- go

/** Flags of every `go build` setup runs: reproducible paths, no VCS stamp. */
export const BUILD_FLAGS = ['-trimpath', '-buildvcs=false'];

export interface GoInfo {
  version: string;
  major: number;
  minor: number;
}

let goInfo: Promise<GoInfo> | undefined;

/** Setup's commands: run to their end, whatever the exit (lib/exec/run.ts). */
export const run = capture;

const GO_NEEDED =
  `Go >= ${GO_MIN_VERSION.join('.')} is needed for \`npm run setup\`: it fetches the pinned upstream API schemas ` +
  `with \`go mod download\` and builds tools/yamlcheck. Install a Go ${GO_MIN_VERSION.join('.')}+ toolchain ` +
  `(the official release archive, or a distribution package of that version or newer), put its bin/ on PATH ` +
  `so that \`go version\` works, and run \`npm run setup\` again.`;

/** Checks that a recent enough `go` is on PATH (once per process). */
export function requireGo(): Promise<GoInfo> {
  goInfo ??= (async () => {
    const out = await run('go', ['version']);
    if (out.code === 127) throw new Error(`\`go\` is not on PATH. ${GO_NEEDED}`);
    const m = /go(\d+)\.(\d+)(\.\d+)?/.exec(out.stdout);
    if (out.code !== 0 || !m) throw new Error(`\`go version\` did not work (${out.stdout.trim()}). ${GO_NEEDED}`);
    const info = { version: m[0], major: Number(m[1]), minor: Number(m[2]) };
    const [wantMajor, wantMinor] = GO_MIN_VERSION;
    if (info.major < wantMajor || (info.major === wantMajor && info.minor < wantMinor)) {
      throw new Error(`found ${info.version}, too old. ${GO_NEEDED}`);
    }
    return info;
  })();
  goInfo.catch(() => {
    goInfo = undefined;
  });
  return goInfo;
}

export interface DownloadedModule {
  Path: string;
  Version: string;
  Dir: string;
  Sum: string;
}

/** `go mod download -json module@version`; returns where the module was unpacked. */
export async function goModDownload(module: string, version: string): Promise<DownloadedModule> {
  await requireGo();
  const dir = mkdtempSync(join(tmpdir(), 'native6-gomod-'));
  try {
    const env = { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=mod`.trim() };
    const { stdout, stderr, code } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd: dir, env });
    let info: Partial<DownloadedModule> & { Error?: string } = {};
    try {
      info = JSON.parse(stdout) as typeof info;
    } catch {
      // fall through to the error below
    }
    if (code !== 0 || info.Error || !info.Dir) {
      throw new Error(`go mod download ${module}@${version} failed: ${(info.Error ?? stderr.trim()) || `exit ${code}`}`);
    }
    return { Path: info.Path ?? module, Version: info.Version ?? version, Dir: info.Dir, Sum: info.Sum ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
