/**
 * What the run functions of the actions report through: @actions/core in
 * the actions (main.ts), a recorder in tests, the console in scripts. Every
 * secret goes through `secret` before anything could print it.
 *
 * What is masked of a secret (maskValues): a kubeconfig is parsed, and only
 * its credential values are masked (each `*-data` value, a token or a
 * password, and each line of the PEM a `*-data` value decodes to), never its
 * harmless lines (`apiVersion: v1`, `kind: Config`), which would garble every
 * later log line that holds them; a PEM block is masked whole and by the
 * lines of its body, never by its BEGIN and END lines; any other value whole
 * and line by line. The runner masks what is logged, but not what the
 * actions post through the API (the PR comment) nor, reliably, the job
 * summary: so every secret a log is given is also kept in this process's
 * mask list (registerSecret), and `redact` replaces them in any text
 * (review security-2026-12 L3, L4).
 */
import { parse } from 'yaml';

export interface Where {
  readonly file: string;
  readonly line?: number;
  readonly title?: string;
}

export interface ActionLog {
  info(line: string): void;
  warning(line: string, where?: Where): void;
  error(line: string, where?: Where): void;
  /** Masks the value in every later log line (core.setSecret), and adds it to the process's mask list (registerSecret). */
  secret(value: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Appends Markdown to the job summary. */
  summary(markdown: string): Promise<void>;
}

/** Shorter pieces are not masked on their own: they would garble ordinary words. */
export const MASK_MIN_LENGTH = 8;

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----\r?\n([\s\S]*?)-----END [A-Z0-9 ]+-----/g;
const CREDENTIAL_KEYS = new Set(['client-key-data', 'client-certificate-data', 'certificate-authority-data', 'token', 'password']);

/** The body lines of every PEM block in the text (never its BEGIN and END lines). */
function pemLines(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) out.push(...m[1]!.split('\n').map((l) => l.trim()));
  return out;
}

/** The credential values of a kubeconfig (undefined when the text is not one): every CREDENTIAL_KEYS string under clusters and users. */
function kubeconfigCredentials(text: string): string[] | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || (doc as { kind?: unknown }).kind !== 'Config') return undefined;
  const found: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === 'string' && CREDENTIAL_KEYS.has(k)) {
          found.push(x);
          // A *-data value is base64 of a PEM: the PEM's lines are masked too (a client that prints the decoded key).
          if (k.endsWith('-data')) found.push(...pemLines(Buffer.from(x, 'base64').toString('utf8')));
        } else walk(x);
      }
    }
  };
  walk((doc as { clusters?: unknown }).clusters);
  walk((doc as { users?: unknown }).users);
  return found;
}

/**
 * What is masked of one secret value (see the header). Its parts shorter
 * than MASK_MIN_LENGTH are left out, and so is a whole value shorter than
 * 4 characters (a test's passphrase "p" would mask every p).
 */
export function maskValues(value: string): string[] {
  const long = (p: string) => p.length >= MASK_MIN_LENGTH;
  const credentials = kubeconfigCredentials(value);
  if (credentials) return [...new Set(credentials.filter((p) => p.trim().length >= 4))];
  const whole = value.trim();
  const parts = whole.includes('-----BEGIN ') ? pemLines(value) : value.split('\n').map((l) => l.trim());
  return [...new Set([...(whole.length >= 4 ? [whole] : []), ...parts.filter(long)])];
}

/** The mask list of this process: every secret any log was given. The runner's own list is per job, as this one is per action's process. */
const masks = new Set<string>();

/** Adds the value's masks (maskValues) to the process's list; returns them, for a log that masks them itself (core.setSecret). */
export function registerSecret(value: string): string[] {
  const pieces = maskValues(value);
  for (const p of pieces) masks.add(p);
  return pieces;
}

/** The text with every string of `list` replaced by ***, the longest first (a whole value before its lines). */
export function redactWith(list: Iterable<string>, text: string): string {
  let out = text;
  for (const m of [...list].sort((a, b) => b.length - a.length)) if (out.includes(m)) out = out.split(m).join('***');
  return out;
}

/** The text with every secret of the process's mask list replaced by ***: for what the runner does not mask (comments posted through the API, the job summary). */
export function redact(text: string): string {
  return masks.size === 0 ? text : redactWith(masks, text);
}

/** Every string in plain data (objects, arrays) redacted: what is rendered from it for GitHub carries no known secret. */
export function redactAll<T>(v: T): T {
  if (typeof v === 'string') return redact(v) as T;
  if (Array.isArray(v)) return v.map(redactAll) as T;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactAll(x)])) as T;
  return v;
}

/** A log for scripts and tests: lines to a sink, secrets masked, groups as headings. */
export function createLineLog(sink: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ActionLog & { readonly summaries: string[] } {
  const secrets = new Set<string>();
  const summaries: string[] = [];
  const mask = (s: string) => redactWith(secrets, s);
  const where = (w?: Where) => (w ? ` (${w.file}${w.line !== undefined ? `:${w.line}` : ''})` : '');
  return {
    summaries,
    info: (l) => sink(mask(l)),
    warning: (l, w) => sink(mask(`warning: ${l}${where(w)}`)),
    error: (l, w) => sink(mask(`error: ${l}${where(w)}`)),
    secret: (v) => {
      for (const p of registerSecret(v)) secrets.add(p);
    },
    group: async (name, fn) => {
      sink(`== ${name}`);
      return fn();
    },
    summary: async (md) => {
      summaries.push(mask(md));
    },
  };
}
