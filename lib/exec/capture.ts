/** Runs a program and collects its output: never throws, a spawn error is exit 127 (setup's toolchain modules, git). */
import { spawn } from 'node:child_process';

export interface Captured {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export function capture(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Captured> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ stdout, stderr: `${stderr}${e.message}`, code: 127 }));
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
  });
}
