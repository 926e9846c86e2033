// Validates a set of files: parses each YAML file as a multi-document
// stream (keeping positions), checks every object against the catalog,
// checks kustomizations, and compares our parse with what kubectl/Flux's
// parser (tools/yamlcheck, run at the edge) read. Pure: files and the file
// system view come in as arguments.

import { resolve as resolvePath, extname } from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { checkKustomization, isKustomization, kustomizationRefs, type FsView } from './kustomize.js';
import { validateObject } from './object.js';
import { formatPath, parsePath, type PathSegment } from './path.js';
import { deepEqual, jsonType, preview } from './schema.js';
import type { Catalog, FileIssue, Issue } from './types.js';

export interface SourceFile {
  /** As it should appear in messages (usually relative to the repo). */
  path: string;
  content: string;
}

/** One line of tools/yamlcheck output. */
export interface GoDoc {
  file: string;
  /** Index among the file's non-empty documents; -1 when the file could not be read. */
  doc: number;
  /** 1-based line where the document starts. */
  line: number;
  json?: unknown;
  error?: string;
}

export interface ParsedDoc {
  /** Index among the file's non-empty documents. */
  index: number;
  /** The document as JSON data (after a JSON round trip). */
  value: unknown;
  doc: Document;
}

export interface ParsedFile {
  path: string;
  docs: ParsedDoc[];
  lines: LineCounter;
  /** Parse errors and warnings, already placed. */
  issues: FileIssue[];
}

export interface TreeOptions {
  fs: FsView;
  /**
   * What kubectl/Flux's YAML parser read (tools/yamlcheck output) for the
   * same files. Omit to skip the cross-check.
   */
  goDocs?: GoDoc[];
}

export interface TreeResult {
  issues: FileIssue[];
  /** YAML files read. */
  files: number;
  /** Documents checked: API objects, patches and kustomizations. */
  objects: number;
  /** Files passed in that are not YAML (ignored). */
  skipped: string[];
}

export function isYamlFile(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === '.yaml' || ext === '.yml';
}

/** `<file>:<line>:<col>: <path>: <message>` (path left out when empty). */
export function formatFileIssue(i: FileIssue): string {
  return i.path === '' ? `${i.file}:${i.line}:${i.col}: ${i.message}` : `${i.file}:${i.line}:${i.col}: ${i.path}: ${i.message}`;
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

/** Parses one YAML file into its non-empty documents. */
export function parseYamlFile(path: string, content: string): ParsedFile {
  const lines = new LineCounter();
  const issues: FileIssue[] = [];
  const docs: ParsedDoc[] = [];
  const streams = parseAllDocuments(content, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  let index = 0;
  for (const doc of streams) {
    const problems = [...doc.errors, ...doc.warnings];
    for (const e of problems) {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      issues.push({ file: path, line: pos.line, col: pos.col, path: '', message: `YAML: ${firstLine(e.message)}` });
    }
    // A document that did not parse is reported as such and not checked
    // further: its partial contents would only add confusing issues.
    if (doc.errors.length > 0) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
      value = value === undefined ? null : JSON.parse(JSON.stringify(value));
    } catch (e) {
      const pos = lines.linePos(doc.range[0]);
      issues.push({ file: path, line: pos.line, col: pos.col, path: '', message: `YAML: ${firstLine((e as Error).message)}` });
      continue;
    }
    if (value === null) continue;
    docs.push({ index: index++, value, doc });
  }
  return { path, docs, lines, issues };
}

/** Line and column of a field path inside a document (nearest existing ancestor). */
export function locate(file: ParsedFile, doc: Document, segments: readonly PathSegment[]): { line: number; col: number } {
  let node: unknown = doc.contents;
  let pos = isNode(node) && node.range ? node.range[0] : (doc.range?.[0] ?? 0);
  for (const seg of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node) && typeof seg === 'string') {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === seg);
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) pos = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      if (isNode(item) && item.range) pos = item.range[0];
      node = item;
    } else break;
  }
  return file.lines.linePos(pos);
}

function place(file: ParsedFile, doc: Document, issue: Issue): FileIssue {
  let segs: PathSegment[] = [];
  try {
    segs = parsePath(issue.path);
  } catch {
    segs = [];
  }
  const { line, col } = locate(file, doc, segs);
  return { file: file.path, line, col, path: issue.path, message: issue.message };
}

// ------------------------------------------------------ parser cross-check

interface Diff {
  at: PathSegment[];
  message: string;
}

const GO = 'kubectl/Flux';

function diffValues(go: unknown, ours: unknown, at: PathSegment[], out: Diff[], limit: number): void {
  if (out.length >= limit) return;
  const gt = jsonType(go);
  const ot = jsonType(ours);
  if (gt === 'object' && ot === 'object') {
    const g = go as Record<string, unknown>;
    const o = ours as Record<string, unknown>;
    const ourOnly = Object.keys(o).filter((k) => !(k in g));
    const goOnly = Object.keys(g).filter((k) => !(k in o));
    if (ourOnly.length === 1 && goOnly.length === 1) {
      out.push({
        at: [...at, ourOnly[0]!],
        message: `parsers disagree: ${GO} read key ${JSON.stringify(goOnly[0])}, we wrote ${JSON.stringify(ourOnly[0])} (quote the key)`,
      });
    } else {
      for (const k of ourOnly) out.push({ at: [...at, k], message: `parsers disagree: ${GO} do not see key ${JSON.stringify(k)}` });
      for (const k of goOnly) out.push({ at, message: `parsers disagree: ${GO} read an extra key ${JSON.stringify(k)}` });
    }
    for (const k of Object.keys(o)) if (k in g) diffValues(g[k], o[k], [...at, k], out, limit);
    return;
  }
  if (gt === 'array' && ot === 'array') {
    const g = go as unknown[];
    const o = ours as unknown[];
    if (g.length !== o.length) {
      out.push({ at, message: `parsers disagree: ${GO} read ${g.length} items, we wrote ${o.length}` });
      return;
    }
    for (let i = 0; i < o.length; i++) diffValues(g[i], o[i], [...at, i], out, limit);
    return;
  }
  if (!deepEqual(go, ours)) {
    const hint = typeof ours === 'string' ? ' (quote the value)' : '';
    out.push({ at, message: `parsers disagree: ${GO} read ${preview(go)}, we wrote ${preview(ours)}${hint}` });
  }
}

/**
 * Compares our parse of a file with tools/yamlcheck's (sigs.k8s.io/yaml,
 * what kubectl and Flux use) and reports every difference.
 */
export function compareParsers(file: ParsedFile, goDocs: readonly GoDoc[]): FileIssue[] {
  const mine = goDocs.filter((g) => g.file === file.path).sort((a, b) => a.doc - b.doc);
  const out: FileIssue[] = [];
  const at = (line: number, message: string, path = ''): FileIssue => ({ file: file.path, line, col: 1, path, message });
  if (mine.length === 0 && file.docs.length > 0) {
    return [at(1, `parsers disagree: ${GO} read no documents, we read ${file.docs.length}`)];
  }
  const unreadable = mine.find((g) => g.doc < 0);
  if (unreadable) return [at(1, `${GO} parser could not read the file: ${unreadable.error ?? 'unknown error'}`)];
  for (const g of mine) {
    if (g.error !== undefined) out.push(at(g.line, `${GO} cannot parse this document: ${g.error}`));
  }
  if (out.length > 0) return out;
  if (mine.length !== file.docs.length) {
    return [at(1, `parsers disagree: ${GO} read ${mine.length} documents, we read ${file.docs.length}`)];
  }
  for (let i = 0; i < mine.length; i++) {
    const ours = file.docs[i]!;
    const diffs: Diff[] = [];
    diffValues(mine[i]!.json, ours.value, [], diffs, 20);
    for (const d of diffs) {
      const { line, col } = locate(file, ours.doc, d.at);
      out.push({ file: file.path, line, col, path: formatPath(d.at), message: d.message });
    }
  }
  return out;
}

// ------------------------------------------------------------------ the tree

/** Validates every YAML file in `files` (others are skipped). */
export function validateTree(files: readonly SourceFile[], catalog: Catalog, opts: TreeOptions): TreeResult {
  const issues: FileIssue[] = [];
  const skipped: string[] = [];
  const parsed: ParsedFile[] = [];
  for (const f of files) {
    if (!isYamlFile(f.path)) {
      skipped.push(f.path);
      continue;
    }
    const p = parseYamlFile(f.path, f.content);
    parsed.push(p);
  }

  // Files that kustomizations use as patches or generator data.
  const patchFiles = new Set<string>();
  const dataFiles = new Set<string>();
  for (const p of parsed) {
    for (const d of p.docs) {
      if (!isKustomization(d.value)) continue;
      const refs = kustomizationRefs(d.value, p.path);
      for (const x of refs.patches) patchFiles.add(resolvePath(x));
      for (const x of refs.dataFiles) dataFiles.add(resolvePath(x));
    }
  }

  let objects = 0;
  for (const p of parsed) {
    issues.push(...p.issues);
    const abs = resolvePath(p.path);
    if (dataFiles.has(abs)) continue; // generator input: data, not objects
    const hasParseErrors = p.issues.length > 0;
    for (const d of p.docs) {
      objects++;
      let found: Issue[];
      if (isKustomization(d.value)) found = checkKustomization(d.value, p.path, opts.fs);
      else if (patchFiles.has(abs)) {
        // JSON 6902 patches are lists of operations; strategic merge patches
        // are partial objects.
        found = Array.isArray(d.value) ? [] : validateObject(d.value, catalog, { partial: true });
      } else found = validateObject(d.value, catalog);
      for (const i of found) issues.push(place(p, d.doc, i));
    }
    if (opts.goDocs && !hasParseErrors) issues.push(...compareParsers(p, opts.goDocs));
  }
  issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
  return { issues, files: parsed.length, objects, skipped };
}
