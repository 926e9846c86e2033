/**
 * Calico v3 label selectors (the `selector`, `notSelector` and
 * `namespaceSelector` fields of Calico policies): a parser and an evaluator
 * that accept the same texts and give the same answers as Calico's own
 * (libcalico-go/lib/selector), written for this repository.
 *
 *   term       := all() | global() | has(KEY) | KEY op STRING
 *               | KEY in SET | KEY not in SET | '(' expression ')'
 *   op         := == | != | contains | starts with | ends with
 *   SET        := '{' [STRING {',' STRING} [',']] '}'
 *   unary      := {'!'} term
 *   and        := unary {'&&' unary}
 *   expression := and {'||' and}
 *
 * Calico's details kept on purpose:
 * - only spaces and tabs separate tokens (a newline is an error); "" and a
 *   blank selector select everything, as all() does;
 * - a label key is 1 to 512 of [A-Za-z0-9_./-]; a string is quoted with ' or
 *   " and has no escapes (it ends at the next quote of the same kind);
 * - `all(`, `has(` and `global(` are keywords only when written against
 *   their parenthesis, so a label may be called all, has, in or global;
 * - `not in`, `starts with` and `ends with` may be written without the
 *   space (`notin`), and a set may end with a comma;
 * - when the key is absent, `!=` and `not in` are true and every other
 *   comparison is false.
 *
 * global() evaluates as `!has(projectcalico.org/namespace)`: that is what
 * Calico turns global() into in a namespaceSelector, the only place it means
 * anything (it selects endpoints and network sets outside any namespace).
 */

/** The label on which global() decides: Calico puts it on namespaced endpoints. */
const NAMESPACE_LABEL = 'projectcalico.org/namespace';
/** Calico's label keys are at most this long. */
const MAX_KEY_LENGTH = 512;
/** Nesting limit for parentheses (Calico has none; this keeps the recursion well inside the stack). */
const MAX_DEPTH = 1000;

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
  /**
   * @param selector the whole selector text
   * @param position zero-based offset in `selector` where the problem is
   * @param expected what would have been accepted there
   * @param found what is there instead
   */
  constructor(
    readonly selector: string,
    readonly position: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`invalid selector ${quote(selector)}: at position ${position}, expected ${expected}, found ${found}`);
  }
}

export interface Selector {
  readonly text: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
}

export function parseSelector(text: string): Selector {
  return new ParsedSelector(text, new Parser(text).parse());
}

// ---------------------------------------------------------------------------
// Tokens

type Comparison = '==' | '!=' | 'contains' | 'starts with' | 'ends with';

type TokenKind =
  | 'label' // value: the key
  | 'string' // value: the text between the quotes
  | 'has' // value: the key inside has(...)
  | 'all'
  | 'global'
  | Comparison
  | 'in'
  | 'not in'
  | '!'
  | '&&'
  | '||'
  | '('
  | ')'
  | '{'
  | '}'
  | ','
  | 'unknown' // value: the text no token starts with
  | 'eof';

interface Token {
  readonly kind: TokenKind;
  /** Offsets of the token's text in the selector: [pos, end). */
  readonly pos: number;
  readonly end: number;
  readonly value: string;
}

const KEY_CHAR = /[A-Za-z0-9_./-]/;
/** Go's \s, which Calico's keyword patterns allow inside has( ), not in, starts with... */
const GO_SPACE = /[\t\n\f\r ]/;

/** Operators that may follow a label key, other than == and != (those are punctuation). */
const WORD_OPERATORS: readonly (readonly [RegExp, TokenKind])[] = [
  [/contains/y, 'contains'],
  [/starts[\t\n\f\r ]*with/y, 'starts with'],
  [/ends[\t\n\f\r ]*with/y, 'ends with'],
  [/not[\t\n\f\r ]*in(?![A-Za-z0-9_])/y, 'not in'],
  [/in(?![A-Za-z0-9_])/y, 'in'],
];

/**
 * Produces tokens on demand, so that an error is reported at the first
 * place, reading from the left, where the selector goes wrong. What a word
 * means depends on the token before it, as in Calico: right after a label
 * key only an operator may follow.
 */
class Lexer {
  private pos = 0;
  private last: TokenKind | undefined;

  constructor(private readonly text: string) {}

  next(): Token {
    const token = this.scan();
    this.last = token.kind;
    this.pos = token.end;
    return token;
  }

  private scan(): Token {
    const s = this.text;
    let start = this.pos;
    while (s[start] === ' ' || s[start] === '\t') start++;
    if (start >= s.length) return token('eof', start, start);
    const c = s[start]!;
    switch (c) {
      case '(':
      case ')':
      case '{':
      case '}':
      case ',':
        return token(c, start, start + 1);
      case "'":
      case '"': {
        const close = s.indexOf(c, start + 1);
        if (close < 0) throw new SelectorError(s, start, `a closing ${c} to end the string that starts here`, 'end of selector');
        return token('string', start, close + 1, s.slice(start + 1, close));
      }
      case '=':
        return s[start + 1] === '=' ? token('==', start, start + 2) : this.unknown(start);
      case '!':
        return s[start + 1] === '=' ? token('!=', start, start + 2) : token('!', start, start + 1);
      case '&':
        return s[start + 1] === '&' ? token('&&', start, start + 2) : this.unknown(start);
      case '|':
        return s[start + 1] === '|' ? token('||', start, start + 2) : this.unknown(start);
    }
    return this.last === 'label' ? this.operator(start) : this.term(start);
  }

  /** After a label key: one of the word operators, or whatever word is there instead. */
  private operator(start: number): Token {
    for (const [pattern, kind] of WORD_OPERATORS) {
      pattern.lastIndex = start;
      if (pattern.test(this.text)) return token(kind, start, pattern.lastIndex);
    }
    return this.unknown(start);
  }

  /** Where a term may start: all(), global(), has(key), a label key. */
  private term(start: number): Token {
    const s = this.text;
    if (s.startsWith('has(', start)) {
      const keyStart = this.skipGoSpace(start + 4);
      const keyEnd = this.keyEnd(keyStart);
      if (keyEnd === keyStart) throw new SelectorError(s, keyStart, 'a label key inside has(...)', describeAt(s, keyStart));
      if (keyEnd - keyStart > MAX_KEY_LENGTH) {
        throw new SelectorError(s, keyStart, `a label key of at most ${MAX_KEY_LENGTH} characters`, `a key of ${keyEnd - keyStart} characters`);
      }
      const close = this.skipGoSpace(keyEnd);
      if (s[close] !== ')') throw new SelectorError(s, close, "')' to close has(", describeAt(s, close));
      return token('has', start, close + 1, s.slice(keyStart, keyEnd));
    }
    for (const kind of ['all', 'global'] as const) {
      if (s.startsWith(`${kind}(`, start)) {
        const close = this.skipGoSpace(start + kind.length + 1);
        if (s[close] !== ')') throw new SelectorError(s, close, `')' to complete ${kind}()`, describeAt(s, close));
        return token(kind, start, close + 1);
      }
    }
    const end = this.keyEnd(start);
    if (end === start) return this.unknown(start);
    // Calico takes at most 512 characters as the key; the rest, if any, must then be an operator.
    const keyEnd = Math.min(end, start + MAX_KEY_LENGTH);
    return token('label', start, keyEnd, s.slice(start, keyEnd));
  }

  /** Text that starts no token: the word there (or the single character), for the parser to report. */
  private unknown(start: number): Token {
    const wordEnd = this.keyEnd(start);
    const end = wordEnd > start ? wordEnd : start + String.fromCodePoint(this.text.codePointAt(start)!).length;
    return token('unknown', start, end, this.text.slice(start, end));
  }

  private keyEnd(from: number): number {
    let i = from;
    while (i < this.text.length && KEY_CHAR.test(this.text[i]!)) i++;
    return i;
  }

  private skipGoSpace(from: number): number {
    let i = from;
    while (i < this.text.length && GO_SPACE.test(this.text[i]!)) i++;
    return i;
  }
}

function token(kind: TokenKind, pos: number, end: number, value = ''): Token {
  return { kind, pos, end, value };
}

// ---------------------------------------------------------------------------
// Syntax tree and parser

type Node =
  | { readonly kind: 'all' }
  | { readonly kind: 'global' }
  | { readonly kind: 'has'; readonly key: string }
  | { readonly kind: 'compare'; readonly op: Comparison; readonly key: string; readonly value: string }
  | { readonly kind: 'set'; readonly key: string; readonly values: ReadonlySet<string>; readonly negated: boolean }
  | { readonly kind: 'not'; readonly term: Node }
  | { readonly kind: 'and' | 'or'; readonly terms: readonly Node[] };

const TERM = "a term (a label key, has(key), all(), global(), '!' or '(')";
const OPERATOR = 'an operator (==, !=, in, not in, contains, starts with or ends with)';

class Parser {
  private readonly lexer: Lexer;
  private tok: Token;
  private depth = 0;

  constructor(private readonly text: string) {
    this.lexer = new Lexer(text);
    this.tok = this.lexer.next();
  }

  parse(): Node {
    if (this.at('eof')) return { kind: 'all' };
    const root = this.expression();
    if (!this.at('eof')) throw this.fail("'&&', '||' or the end of the selector");
    return root;
  }

  /** Whether the current token is of this kind (a call, so that TypeScript does not keep a narrowing across advance()). */
  private at(kind: TokenKind): boolean {
    return this.tok.kind === kind;
  }

  private advance(): Token {
    const current = this.tok;
    this.tok = this.lexer.next();
    return current;
  }

  private fail(expected: string): SelectorError {
    return new SelectorError(this.text, this.tok.pos, expected, this.describe(this.tok));
  }

  private expression(): Node {
    const terms = [this.conjunction()];
    while (this.at('||')) {
      this.advance();
      terms.push(this.conjunction());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'or', terms };
  }

  private conjunction(): Node {
    const terms = [this.unary()];
    while (this.at('&&')) {
      this.advance();
      terms.push(this.unary());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'and', terms };
  }

  private unary(): Node {
    let negated = false;
    while (this.at('!')) {
      negated = !negated;
      this.advance();
    }
    const term = this.term();
    return negated ? { kind: 'not', term } : term;
  }

  private term(): Node {
    const t = this.tok;
    switch (t.kind) {
      case 'all':
      case 'global':
        this.advance();
        return { kind: t.kind };
      case 'has':
        this.advance();
        return { kind: 'has', key: t.value };
      case 'label':
        this.advance();
        return this.comparison(t.value);
      case '(': {
        if (this.depth >= MAX_DEPTH) throw this.fail(`at most ${MAX_DEPTH} nested parentheses`);
        this.depth++;
        this.advance();
        const inner = this.expression();
        if (!this.at(')')) throw this.fail(`'&&', '||' or ')' to close the '(' at position ${t.pos}`);
        this.advance();
        this.depth--;
        return inner;
      }
      default:
        throw this.fail(TERM);
    }
  }

  private comparison(key: string): Node {
    const op = this.tok;
    switch (op.kind) {
      case '==':
      case '!=':
      case 'contains':
      case 'starts with':
      case 'ends with': {
        this.advance();
        if (!this.at('string')) throw this.fail(`a quoted string after '${op.kind}'`);
        return { kind: 'compare', op: op.kind, key, value: this.advance().value };
      }
      case 'in':
      case 'not in': {
        this.advance();
        if (!this.at('{')) throw this.fail(`'{' to start the set of values after '${op.kind}'`);
        this.advance();
        const values = new Set<string>();
        for (;;) {
          if (this.at('}')) break;
          if (!this.at('string')) throw this.fail("a quoted string or '}'");
          values.add(this.advance().value);
          if (this.at(',')) this.advance();
          else if (!this.at('}')) throw this.fail("',' or '}'");
        }
        this.advance();
        return { kind: 'set', key, values, negated: op.kind === 'not in' };
      }
      default:
        throw this.fail(`${OPERATOR} after label ${quote(key)}`);
    }
  }

  private describe(t: Token): string {
    switch (t.kind) {
      case 'eof':
        return 'end of selector';
      case 'label':
        return `label ${quote(t.value)}`;
      case 'string':
        return `string ${this.text.slice(t.pos, t.end)}`;
      default:
        return quote(this.text.slice(t.pos, t.end));
    }
  }
}

function describeAt(text: string, pos: number): string {
  return pos >= text.length ? 'end of selector' : quote(String.fromCodePoint(text.codePointAt(pos)!));
}

/** 'text', or "text" with JSON escapes when it holds a ' or a control character. */
function quote(s: string): string {
  return /['\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s) : `'${s}'`;
}

// ---------------------------------------------------------------------------
// Evaluation

class ParsedSelector implements Selector {
  constructor(
    readonly text: string,
    private readonly root: Node,
  ) {}

  matches(labels: Readonly<Record<string, string>>): boolean {
    return evaluate(this.root, labels);
  }

  toString(): string {
    return this.text;
  }
}

/** A label's value, or undefined when absent (own keys only: `constructor` is not a label). */
function lookup(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

function evaluate(node: Node, labels: Readonly<Record<string, string>>): boolean {
  switch (node.kind) {
    case 'all':
      return true;
    case 'global':
      return !Object.hasOwn(labels, NAMESPACE_LABEL);
    case 'has':
      return Object.hasOwn(labels, node.key);
    case 'compare': {
      const value = lookup(labels, node.key);
      return value === undefined ? node.op === '!=' : compare(node.op, value, node.value);
    }
    case 'set': {
      const value = lookup(labels, node.key);
      return value === undefined ? node.negated : node.values.has(value) !== node.negated;
    }
    case 'not':
      return !evaluate(node.term, labels);
    case 'and':
      return node.terms.every((t) => evaluate(t, labels));
    case 'or':
      return node.terms.some((t) => evaluate(t, labels));
  }
}

function compare(op: Comparison, value: string, operand: string): boolean {
  switch (op) {
    case '==':
      return value === operand;
    case '!=':
      return value !== operand;
    case 'contains':
      return value.includes(operand);
    case 'starts with':
      return value.startsWith(operand);
    case 'ends with':
      return value.endsWith(operand);
  }
}
