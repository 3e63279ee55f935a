/**
 * The parser of the filter language: a port of `parse` in `jupyterlab_dsi/filter.py`, held to it
 * by `tests/vectors/filter.json` (grammar and lexical rules are in that module's docstring).
 *
 * Checks run in Python's order and the first problem wins: length (at most 100,000 code
 * points), lone surrogates, tokens left to right, grammar left to right (nesting of '(' and
 * 'not' at most 200 deep). Positions count Unicode code points, as Python's do: the tokenizer
 * works on UTF-16 indices and converts them once per token. Only '(' recurses (a few frames per
 * level, at most 200 levels); 'not' chains and and/or chains are loops, so no input overflows
 * the stack.
 */
import {
  FilterError,
  FilterNode,
  IAnd,
  IOr,
  KEYWORDS,
  Literal,
  MAX_DEPTH,
  MAX_LENGTH,
  NumberLiteral,
  Op,
  Point,
  at,
  double,
  loneSurrogate,
  mixedBetween,
  show
} from './ast';

export { FilterError } from './ast';

type TokenKind = 'name' | 'kw' | 'num' | 'str' | 'op' | '(' | ')' | ',' | 'end';

interface IToken {
  readonly kind: TokenKind;
  /** Name text, lowercase keyword, number literal, string value or operator. */
  readonly value: string | NumberLiteral | null;
  /** Start, in code points. */
  readonly pos: number;
  /** As written, for messages. */
  readonly text: string;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v', '\u00a0']);
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const ASCII_ALNUM = /^[A-Za-z0-9]$/;
const LETTER = /^\p{L}$/u;

const HINTS: Record<string, string> = {
  '&': "write 'and'",
  '|': "write 'or'",
  '!': "write 'not', or '!=' for 'differs from'",
  '=': "write '==' to test equality",
  '.': 'numbers start with a digit: write 0.5, not .5',
  '+': "numbers take no '+': write 5, not +5",
  '\u2018': 'use straight quotes \' or "',
  '\u2019': 'use straight quotes \' or "',
  '\u201c': 'use straight quotes \' or "',
  '\u201d': 'use straight quotes \' or "'
};

function describe(tok: IToken): string {
  switch (tok.kind) {
    case 'end':
      return 'end of filter';
    case 'kw':
      return `keyword '${show(tok.text)}'`;
    case 'name':
      return `name '${show(tok.text)}'`;
    case 'num':
    case 'str':
      return `value ${show(tok.text)}`;
    default:
      return `'${show(tok.text)}'`;
  }
}

/** Maps UTF-16 indices of a text to code point indices. */
function codePointIndex(text: string): (i: number) => number {
  if (!/[\ud800-\udfff]/.test(text)) {
    return i => i;
  }
  const map = new Int32Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = cp;
    const c = text.charCodeAt(i);
    // A high surrogate and its low surrogate are one code point (lone ones were refused).
    if (!(c >= 0xd800 && c <= 0xdbff && i + 1 < text.length)) {
      cp++;
    }
  }
  map[text.length] = cp;
  return i => map[i];
}

function codePointLength(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function isAsciiAlnum(c: string | undefined): boolean {
  return c !== undefined && ASCII_ALNUM.test(c);
}

function tokenize(text: string): IToken[] {
  const cp = codePointIndex(text);
  const toks: IToken[] = [];
  const n = text.length;
  let i = 0;

  const quoted = (start: number, quote: string): [string, number] => {
    let value = '';
    let k = start + 1;
    for (;;) {
      const j = text.indexOf(quote, k);
      if (j < 0) {
        const what = quote === '`' ? 'name' : 'string';
        throw new FilterError(
          `unterminated ${what} starting${at(cp(start))}: add the closing ${quote}`,
          cp(start)
        );
      }
      value += text.slice(k, j);
      if (text[j + 1] === quote) {
        // A doubled quote stands for itself.
        value += quote;
        k = j + 2;
        continue;
      }
      return [value, j + 1];
    }
  };

  const number = (start: number): [NumberLiteral, number] => {
    NUMBER.lastIndex = start;
    const m = NUMBER.exec(text);
    if (m === null) {
      throw new FilterError(`'-' must be followed by digits${at(cp(start))}`, cp(start));
    }
    const end = start + m[0].length;
    const next = text[end];
    if (next === '.' || next === '_' || isAsciiAlnum(next)) {
      // "1.", "1e", "007", "1and": refuse instead of guessing where the number ends.
      let k = end;
      while (k < n && ('._-+'.includes(text[k]) || isAsciiAlnum(text[k]))) {
        k++;
      }
      throw new FilterError(
        `malformed number '${show(text.slice(start, k))}'${at(cp(start))}`,
        cp(start)
      );
    }
    const literal = m[0];
    const value = Number(literal);
    if (m[1] === undefined && m[2] === undefined && Number.isSafeInteger(value)) {
      return [value === 0 ? 0 : value, end]; // an integer; "-0" is 0
    }
    if (!Number.isFinite(value)) {
      throw new FilterError(`number '${show(literal)}' is too large${at(cp(start))}`, cp(start));
    }
    // Number() rounds correctly, like Python's float().
    return [double(value), end];
  };

  while (i < n) {
    const c = text[i];
    if (WHITESPACE.has(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      toks.push({ kind: c, value: c, pos: cp(i), text: c });
      i++;
    } else if (c === '=' || c === '!' || c === '<' || c === '>') {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
        toks.push({ kind: 'op', value: two, pos: cp(i), text: two });
        i += 2;
      } else if (c === '<' || c === '>') {
        toks.push({ kind: 'op', value: c, pos: cp(i), text: c });
        i++;
      } else {
        throw new FilterError(`unexpected '${c}'${at(cp(i))}: ${HINTS[c]}`, cp(i));
      }
    } else if (c === "'" || c === '"') {
      const [value, end] = quoted(i, c);
      toks.push({ kind: 'str', value, pos: cp(i), text: text.slice(i, end) });
      i = end;
    } else if (c === '`') {
      const [value, end] = quoted(i, c);
      if (!value) {
        throw new FilterError(`empty name \`\`${at(cp(i))}`, cp(i));
      }
      toks.push({ kind: 'name', value, pos: cp(i), text: text.slice(i, end) });
      i = end;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const [value, end] = number(i);
      toks.push({ kind: 'num', value, pos: cp(i), text: text.slice(i, end) });
      i = end;
    } else if (c === '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
      IDENT.lastIndex = i;
      const word = IDENT.exec(text)![0];
      const low = word.toLowerCase();
      if (KEYWORDS.has(low)) {
        toks.push({ kind: 'kw', value: low, pos: cp(i), text: word });
      } else {
        toks.push({ kind: 'name', value: word, pos: cp(i), text: word });
      }
      i += word.length;
    } else {
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      let hint: string | undefined = HINTS[ch];
      if (hint === undefined && LETTER.test(ch)) {
        hint = 'names with letters beyond A-Z go in backquotes, e.g. `\u03c1_max`';
      }
      throw new FilterError(
        `unexpected character '${show(ch)}'${at(cp(i))}` + (hint ? `: ${hint}` : ''),
        cp(i)
      );
    }
  }
  toks.push({ kind: 'end', value: null, pos: cp(n), text: '' });
  return toks;
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly toks: IToken[]) {}

  private peek(k = 0): IToken {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }

  private take(): IToken {
    return this.toks[this.i++];
  }

  private atKw(word: string): boolean {
    const tok = this.toks[this.i];
    return tok.kind === 'kw' && tok.value === word;
  }

  private fail(message: string, tok: IToken): never {
    throw new FilterError(`${message}${at(tok.pos)}, found ${describe(tok)}`, tok.pos);
  }

  private enter(tok: IToken): void {
    this.depth++;
    if (this.depth > MAX_DEPTH) {
      throw new FilterError(
        `nested too deeply${at(tok.pos)} (more than ${MAX_DEPTH} levels of '(' and 'not')`,
        tok.pos
      );
    }
  }

  private expect(kind: TokenKind, message: string): IToken {
    const tok = this.peek();
    if (tok.kind !== kind) {
      this.fail(message, tok);
    }
    return this.take();
  }

  parse(): FilterNode {
    const node = this.expr();
    const tok = this.peek();
    if (tok.kind === ')') {
      throw new FilterError(`unmatched ')'${at(tok.pos)}`, tok.pos);
    }
    if (tok.kind !== 'end') {
      this.fail("expected 'and', 'or' or the end of the filter", tok);
    }
    return node;
  }

  private expr(): FilterNode {
    const ors: FilterNode[] = [];
    for (;;) {
      const ands = [this.unary()];
      while (this.atKw('and')) {
        this.i++;
        ands.push(this.unary());
      }
      ors.push(ands.length === 1 ? ands[0] : ({ type: 'and', operands: ands } as IAnd));
      if (!this.atKw('or')) {
        break;
      }
      this.i++;
    }
    return ors.length === 1 ? ors[0] : ({ type: 'or', operands: ors } as IOr);
  }

  private unary(): FilterNode {
    const nots: number[] = [];
    while (this.atKw('not')) {
      const tok = this.take();
      this.enter(tok);
      nots.push(tok.pos);
    }
    const tok = this.peek();
    let node: FilterNode;
    if (tok.kind === '(' && this.peek(1).kind === 'name' && this.peek(2).kind === ',') {
      node = this.polygon();
    } else if (tok.kind === '(') {
      this.enter(tok);
      this.take();
      node = this.expr();
      const close = this.peek();
      if (close.kind !== ')') {
        this.fail(`expected ')' (to close the '(' at ${tok.pos})`, close);
      }
      this.take();
      this.depth--;
    } else {
      node = this.compare();
    }
    for (let k = nots.length - 1; k >= 0; k--) {
      node = { type: 'not', operand: node, pos: nots[k] };
    }
    this.depth -= nots.length;
    return node;
  }

  private literal(after: string): Literal {
    const tok = this.peek();
    if (tok.kind === 'num' || tok.kind === 'str') {
      this.take();
      return tok.value as Literal;
    }
    if (tok.kind === 'name') {
      this.fail(
        `expected a value after ${after} (text goes in quotes: '${show(tok.value as string)}')`,
        tok
      );
    }
    this.fail(`expected a value after ${after}`, tok);
  }

  private compare(): FilterNode {
    const tok = this.peek();
    if (tok.kind !== 'name') {
      if (tok.kind === 'num' || tok.kind === 'str') {
        this.fail('expected a name (the name comes first, e.g. cs > 1)', tok);
      }
      if (tok.kind === 'kw') {
        this.fail('expected a name (a name that is a keyword goes in backquotes)', tok);
      }
      this.fail('expected a comparison', tok);
    }
    this.take();
    const name = tok.value as string;
    const shown = `'${show(tok.text)}'`;
    const op = this.peek();
    if (op.kind === 'op') {
      this.take();
      const value = this.literal(`'${op.text}'`);
      return { type: 'compare', name, op: op.value as Op, value, pos: tok.pos };
    }
    if (op.kind === 'kw' && op.value === 'in') {
      this.take();
      this.expect('(', `expected '(' after '${show(op.text)}' to open the list of values`);
      const values = [this.literal("'('")];
      for (;;) {
        const sep = this.peek();
        if (sep.kind === ')') {
          this.take();
          return { type: 'in', name, values, pos: tok.pos };
        }
        if (sep.kind !== ',') {
          this.fail("expected ',' or ')' in the list of values", sep);
        }
        this.take();
        values.push(this.literal("','"));
      }
    }
    if (op.kind === 'kw' && op.value === 'between') {
      this.take();
      const low = this.literal(`'${show(op.text)}'`);
      const and = this.peek();
      if (!(and.kind === 'kw' && and.value === 'and')) {
        this.fail(`expected 'and' in '${show(op.text)} ... and ...'`, and);
      }
      this.take();
      const high = this.literal(`'${show(and.text)}'`);
      if ((typeof low === 'string') !== (typeof high === 'string')) {
        throw new FilterError(mixedBetween(name, tok.pos), tok.pos, 'type');
      }
      return { type: 'between', name, low, high, pos: tok.pos };
    }
    if (op.kind === 'kw' && op.value === 'not') {
      this.fail(
        `expected an operator after ${shown} (to negate, put 'not' first: not ${show(tok.text)} in (...))`,
        op
      );
    }
    this.fail(`expected an operator (==, !=, <, <=, >, >=, in, between) after ${shown}`, op);
  }

  private polygon(): FilterNode {
    this.take(); // "("
    const x = this.take(); // a name, by the caller's lookahead
    this.take(); // ","
    const y = this.expect('name', "expected the second name of '(x, y) in polygon(...)'");
    this.expect(')', "expected ')' after the two names of '(x, y) in polygon(...)'");
    const inKw = this.peek();
    if (!(inKw.kind === 'kw' && inKw.value === 'in')) {
      this.fail("expected 'in polygon' after '(x, y)'", inKw);
    }
    this.take();
    const kw = this.peek();
    if (!(kw.kind === 'kw' && kw.value === 'polygon')) {
      this.fail("expected 'polygon' after '(x, y) in'", kw);
    }
    this.take();
    this.expect('(', "expected '(' to open the points of the polygon");
    const points = [this.point()];
    for (;;) {
      const sep = this.peek();
      if (sep.kind === ')') {
        this.take();
        break;
      }
      if (sep.kind !== ',') {
        this.fail("expected ',' or ')' in the points of the polygon", sep);
      }
      this.take();
      points.push(this.point());
    }
    if (points.length < 3) {
      throw new FilterError(
        `a polygon needs at least 3 points${at(kw.pos)}, it has ${points.length}`,
        kw.pos
      );
    }
    return {
      type: 'polygon',
      x: x.value as string,
      y: y.value as string,
      points,
      pos: x.pos,
      yPos: y.pos
    };
  }

  private point(): Point {
    this.expect('(', "expected a point '(x, y)'");
    const a = this.expect('num', 'expected a number in the point');
    this.expect(',', "expected ',' between the two numbers of a point");
    const b = this.expect('num', 'expected a number in the point');
    this.expect(')', "expected ')' to close the point");
    return [a.value as NumberLiteral, b.value as NumberLiteral];
  }
}

/**
 * Parse a filter; null for an empty or whitespace-only one (it matches everything).
 * Throws FilterError (kind "syntax" or "type") for anything else that is not a filter; names
 * are not checked here (see `checkKnown`, `evaluate`, `compileMask`).
 */
export function parse(text: string): FilterNode | null {
  if (typeof text !== 'string') {
    throw new TypeError(`a filter is a string, got ${typeof text}`);
  }
  if (text.length > MAX_LENGTH) {
    const length = codePointLength(text);
    if (length > MAX_LENGTH) {
      throw new FilterError(`too long (${length} characters; at most ${MAX_LENGTH})`);
    }
  }
  const bad = loneSurrogate(text);
  if (bad >= 0) {
    const pos = codePointLength(text.slice(0, bad));
    throw new FilterError(`invalid character (lone surrogate)${at(pos)}`, pos);
  }
  const toks = tokenize(text);
  if (toks[0].kind === 'end') {
    return null;
  }
  return new Parser(toks).parse();
}
