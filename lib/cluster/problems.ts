/**
 * A problem with an input file, pointing at the file, the line and the field,
 * and saying how to fix it. Every bad input the project reads is reported this
 * way, and all problems of a file are collected before anything is refused.
 */
export interface Problem {
  readonly file: string;
  /** 1-based line and column, when the YAML library knows where the field is. */
  readonly line?: number;
  readonly column?: number;
  /** Dotted field path, e.g. spec.network.serviceRangeSize or spec.workers[1].name. */
  readonly field: string;
  readonly message: string;
  readonly fix: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return `${where}: ${p.field}: ${p.message}. Fix: ${p.fix}`;
}

/** Thrown when an input cannot be used; carries every problem found. */
export class ProblemsError extends Error {
  override name = 'ProblemsError';
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export function fieldPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(document)' : out;
}
