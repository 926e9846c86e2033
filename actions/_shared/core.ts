/**
 * ActionLog on @actions/core (the one importer of @actions/core besides the
 * actions' own main.ts): groups, annotations with file and line,
 * setSecret for every secret, the job summary.
 */
import * as core from '@actions/core';
import { redact, registerSecret, type ActionLog } from '../../lib/workflows/log.js';

export function createCoreLog(): ActionLog {
  return {
    info: (l) => core.info(l),
    warning: (l, w) => core.warning(l, w ? { file: w.file, ...(w.line !== undefined ? { startLine: w.line } : {}), ...(w.title ? { title: w.title } : {}) } : {}),
    error: (l, w) => core.error(l, w ? { file: w.file, ...(w.line !== undefined ? { startLine: w.line } : {}), ...(w.title ? { title: w.title } : {}) } : {}),
    // What the process's mask list takes of it (a kubeconfig by its credentials, a PEM line by line),
    // masked by the runner too; the list redacts the comment and the summary, which the runner does not.
    secret: (v) => {
      for (const m of registerSecret(v)) core.setSecret(m);
    },
    group: (name, fn) => core.group(name, fn),
    summary: async (md) => {
      if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(redact(md), true).write();
    },
  };
}

/** Space- or newline-separated list input. */
export function listInput(name: string): string[] {
  return core
    .getInput(name)
    .split(/\s+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A duration like 90s, 10m, 1h into milliseconds. */
export function durationInput(name: string): number {
  const v = core.getInput(name).trim();
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (!m) throw new Error(`input ${name}: "${v}" is not a duration like 90s, 10m or 1h`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}
