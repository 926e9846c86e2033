/**
 * What the run functions of the actions report through: @actions/core in
 * the actions (main.ts), a recorder in tests, the console in scripts. Every
 * secret goes through `secret` before anything could print it.
 */
export interface Where {
  readonly file: string;
  readonly line?: number;
  readonly title?: string;
}

export interface ActionLog {
  info(line: string): void;
  warning(line: string, where?: Where): void;
  error(line: string, where?: Where): void;
  /** Masks the value in every later log line (core.setSecret). */
  secret(value: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Appends Markdown to the job summary. */
  summary(markdown: string): Promise<void>;
}

/** A log for scripts and tests: lines to a sink, secrets masked, groups as headings. */
export function createLineLog(sink: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ActionLog & { readonly summaries: string[] } {
  const secrets: string[] = [];
  const summaries: string[] = [];
  const mask = (s: string) => secrets.reduce((acc, v) => acc.split(v).join('***'), s);
  const where = (w?: Where) => (w ? ` (${w.file}${w.line !== undefined ? `:${w.line}` : ''})` : '');
  return {
    summaries,
    info: (l) => sink(mask(l)),
    warning: (l, w) => sink(mask(`warning: ${l}${where(w)}`)),
    error: (l, w) => sink(mask(`error: ${l}${where(w)}`)),
    secret: (v) => {
      for (const line of v.split('\n').map((x) => x.trim()).filter((x) => x.length >= 4)) secrets.push(line);
    },
    group: async (name, fn) => {
      sink(`== ${name}`);
      return fn();
    },
    summary: async (md) => {
      summaries.push(md);
    },
  };
}
