/**
 * Running a program: the one way the product runs commands (the lab's, in
 * its namespaces; git; setup's Go builds). A Runner logs each command,
 * bounds it in time, and on failure throws an error carrying the command and
 * its output (so a failed phase can say exactly what failed); `capture`
 * returns the result whatever the exit. Tests swap the Runner for a
 * recording fake.
 */
import { execFile } from 'node:child_process';

export interface RunOptions {
  /** Run inside this network namespace (ip netns exec). */
  readonly ns?: string;
  readonly cwd?: string;
  readonly input?: string;
  /** 30 s by default; 0 for none. */
  readonly timeoutMs?: number;
  /** Return the result instead of throwing on a non-zero exit. */
  readonly allowFail?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Runner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`command failed (exit ${result.code}): ${command}\n${(result.stderr || result.stdout).trim()}`);
  }
}

export function commandLine(command: string, args: readonly string[], ns?: string): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, command, ...args] : [command, ...args];
}

export function createRunner(log: (line: string) => void = () => {}): Runner {
  return {
    run(command, args, options = {}) {
      const argv = commandLine(command, args, options.ns);
      const text = argv.join(' ');
      log(`$ ${text}`);
      return new Promise((resolve, reject) => {
        const child = execFile(
          argv[0]!,
          argv.slice(1),
          { timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env, encoding: 'utf8', ...(options.cwd ? { cwd: options.cwd } : {}) },
          (error, stdout, stderr) => {
            // A non-zero exit carries its status as a number; a failed start (ENOENT...) as a string:
            // 127 then, as a shell says of a command it cannot run.
            const status = (error as { code?: unknown } | null)?.code;
            const code = !error ? 0 : typeof status === 'number' ? status : 127;
            const result = { code, stdout, stderr: error && !stderr ? error.message : stderr };
            if (code !== 0 && !options.allowFail) reject(new CommandError(text, result));
            else resolve(result);
          },
        );
        // A program may exit without reading its input (EPIPE): its exit status says what happened.
        child.stdin?.on('error', () => undefined);
        child.stdin?.end(options.input ?? '');
      });
    },
  };
}

/** Runs a program to its end and returns its exit and output, whatever they are (no time limit; a program that cannot start exits 127 with the reason as stderr). */
export function capture(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return createRunner().run(cmd, args, { ...opts, allowFail: true, timeoutMs: 0 });
}
