/**
 * A static check for regexes that can backtrack catastrophically. Rules regexes run on the hot
 * path against values we do not control (a 4 KiB log body, a hostile attribute), and V8's
 * backtracking engine takes exponential (or high-polynomial) time on patterns where the same
 * text can be matched in many ways. We cannot swap in a linear-time engine without a native
 * dependency, so we refuse the dangerous shapes at load time instead:
 *
 * 1. **Nested quantifiers**: a repetition (`+`, `*`, `{n,m}` with m > 1) whose body holds a
 *    variable-length repetition, where the rest of the body can be matched using only the
 *    inner repetition's characters — `(a+)+`, `(a*)*`, `(\w+\s?)+`, `(.*a){20}`. The same run of
 *    characters can then be split between inner and outer loop in exponentially many ways.
 *    `(ab+)+` or `(?:\.\w+)+` are fine: a character the inner loop cannot eat separates the
 *    iterations.
 * 2. **Overlapping alternatives under a repetition**: `(a|a)*`, `(\w|\d)+`, `(foo|f\w*)+` —
 *    two alternatives that can match the same text double the paths on every iteration.
 *
 * This is a heuristic over the regex's syntax tree, not a proof: it errs towards flagging
 * (a rule can opt out with `allow_backtracking: true`), and it does not see every ambiguity
 * (`(a|b|ab)*` passes). Character sets are exact for literals, classes and escapes; Unicode
 * property escapes and backreferences are treated as "any character".
 *
 * The source must already be a valid `u`-mode regex (callers compile it first); the parser
 * here only needs to understand valid syntax.
 */

// ─── Character sets ────────────────────────────────────────────────────────────────────────────

/** Sorted, disjoint, non-adjacent inclusive code point ranges. */
type CharSet = readonly (readonly [number, number])[];

const MAX_CODE_POINT = 0x10ffff;
const ANY: CharSet = [[0, MAX_CODE_POINT]];
const NONE: CharSet = [];

function normalizeRanges(ranges: readonly (readonly [number, number])[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function union(a: CharSet, b: CharSet): CharSet {
  return normalizeRanges([...a, ...b]);
}

function complement(set: CharSet): CharSet {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function intersects(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i][1] < b[j][0]) i++;
    else if (b[j][1] < a[i][0]) j++;
    else return true;
  }
  return false;
}

const single = (codePoint: number): CharSet => [[codePoint, codePoint]];

const DIGITS: CharSet = [[0x30, 0x39]];
const WORD: CharSet = normalizeRanges([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
]);
// ECMAScript WhiteSpace and LineTerminator.
const SPACE: CharSet = normalizeRanges([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);

const CLASS_ESCAPES: Readonly<Record<string, CharSet>> = {
  d: DIGITS,
  D: complement(DIGITS),
  w: WORD,
  W: complement(WORD),
  s: SPACE,
  S: complement(SPACE),
};

const CONTROL_ESCAPES: Readonly<Record<string, number>> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };

// ─── Syntax tree ───────────────────────────────────────────────────────────────────────────────

interface Span {
  /** Offsets into the source, for messages that quote the culprit. */
  readonly start: number;
  readonly end: number;
}

type RegexNode =
  | (Span & { readonly kind: 'chars'; readonly set: CharSet })
  /** Zero-width: `^`, `$`, `\b`, `\B`. */
  | (Span & { readonly kind: 'assertion' })
  | (Span & { readonly kind: 'lookaround'; readonly body: RegexNode })
  | (Span & { readonly kind: 'backreference' })
  | (Span & { readonly kind: 'group'; readonly body: RegexNode })
  | (Span & { readonly kind: 'alternation'; readonly options: readonly RegexNode[] })
  | (Span & { readonly kind: 'sequence'; readonly items: readonly RegexNode[] })
  | (Span & { readonly kind: 'repeat'; readonly body: RegexNode; readonly min: number; readonly max: number });

class RegexParser {
  private pos = 0;

  constructor(private readonly source: string) {}

  parse(): RegexNode {
    const node = this.alternation();
    if (this.pos < this.source.length) throw new Error(`unexpected "${this.source[this.pos]}" at ${this.pos}`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.source[this.pos + offset];
  }

  private eat(text: string): boolean {
    if (!this.source.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  /** One code point (a surrogate pair in `u` mode is one character). */
  private nextCodePoint(): number {
    const codePoint = this.source.codePointAt(this.pos)!;
    this.pos += codePoint > 0xffff ? 2 : 1;
    return codePoint;
  }

  private alternation(): RegexNode {
    const start = this.pos;
    const options = [this.sequence()];
    while (this.eat('|')) options.push(this.sequence());
    return options.length === 1 ? options[0] : { kind: 'alternation', options, start, end: this.pos };
  }

  private sequence(): RegexNode {
    const start = this.pos;
    const items: RegexNode[] = [];
    while (this.pos < this.source.length && this.peek() !== '|' && this.peek() !== ')') items.push(this.quantified());
    return items.length === 1 ? items[0] : { kind: 'sequence', items, start, end: this.pos };
  }

  private quantified(): RegexNode {
    const start = this.pos;
    const atom = this.atom();
    const bounds = this.quantifier();
    if (!bounds) return atom;
    this.eat('?'); // lazy or greedy makes no difference to how many ways there are to match
    return { kind: 'repeat', body: atom, min: bounds.min, max: bounds.max, start, end: this.pos };
  }

  private quantifier(): { min: number; max: number } | undefined {
    if (this.eat('*')) return { min: 0, max: Infinity };
    if (this.eat('+')) return { min: 1, max: Infinity };
    if (this.eat('?')) return { min: 0, max: 1 };
    const braces = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.pos));
    if (!braces) return undefined;
    this.pos += braces[0].length;
    const min = Number(braces[1]);
    const max = braces[2] === undefined ? min : braces[3] === '' ? Infinity : Number(braces[3]);
    return { min, max };
  }

  private atom(): RegexNode {
    const start = this.pos;
    const c = this.peek();
    if (c === '(') return this.group();
    if (c === '[') return { kind: 'chars', set: this.characterClass(), start, end: this.pos };
    if (c === '.') {
      this.pos++;
      // Rules regexes are compiled with the `s` flag: `.` matches everything.
      return { kind: 'chars', set: ANY, start, end: this.pos };
    }
    if (c === '^' || c === '$') {
      this.pos++;
      return { kind: 'assertion', start, end: this.pos };
    }
    if (c === '\\') return this.escape();
    return { kind: 'chars', set: single(this.nextCodePoint()), start, end: this.pos };
  }

  private group(): RegexNode {
    const start = this.pos;
    this.pos++; // (
    let lookaround = false;
    if (this.eat('?')) {
      if (this.eat(':')) {
        // non-capturing
      } else if (this.eat('=') || this.eat('!') || this.eat('<=') || this.eat('<!')) {
        lookaround = true;
      } else if (this.eat('<')) {
        const close = this.source.indexOf('>', this.pos);
        this.pos = close + 1; // named group
      }
    }
    const body = this.alternation();
    if (!this.eat(')')) throw new Error(`unterminated group at ${start}`);
    return lookaround ? { kind: 'lookaround', body, start, end: this.pos } : { kind: 'group', body, start, end: this.pos };
  }

  private escape(): RegexNode {
    const start = this.pos;
    this.pos++; // backslash
    const c = this.peek() ?? '';
    if (c === 'b' || c === 'B') {
      this.pos++;
      return { kind: 'assertion', start, end: this.pos };
    }
    if (c === 'k' || (c >= '1' && c <= '9')) {
      this.pos++;
      if (c === 'k') this.pos = this.source.indexOf('>', this.pos) + 1;
      else while (/\d/.test(this.peek() ?? '')) this.pos++;
      return { kind: 'backreference', start, end: this.pos };
    }
    return { kind: 'chars', set: this.characterEscape(), start, end: this.pos };
  }

  /** After a backslash, the escapes valid both inside and outside a class. */
  private characterEscape(): CharSet {
    const c = this.source[this.pos];
    this.pos++;
    if (Object.hasOwn(CLASS_ESCAPES, c)) return CLASS_ESCAPES[c];
    if (Object.hasOwn(CONTROL_ESCAPES, c)) return single(CONTROL_ESCAPES[c]);
    if (c === '0') return single(0);
    if (c === 'c') return single(this.nextCodePoint() % 32);
    if (c === 'x') {
      const hex = this.source.slice(this.pos, this.pos + 2);
      this.pos += 2;
      return single(parseInt(hex, 16));
    }
    if (c === 'u') {
      if (this.eat('{')) {
        const close = this.source.indexOf('}', this.pos);
        const codePoint = parseInt(this.source.slice(this.pos, close), 16);
        this.pos = close + 1;
        return single(codePoint);
      }
      const hex = this.source.slice(this.pos, this.pos + 4);
      this.pos += 4;
      return single(parseInt(hex, 16));
    }
    if (c === 'p' || c === 'P') {
      this.pos = this.source.indexOf('}', this.pos) + 1;
      return ANY; // Unicode properties: assume the worst
    }
    this.pos--;
    return single(this.nextCodePoint()); // identity escape: \. \* \/ \- …
  }

  private characterClass(): CharSet {
    this.pos++; // [
    const negated = this.eat('^');
    let set: CharSet = NONE;
    while (this.pos < this.source.length && this.peek() !== ']') {
      const from = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined && from.length === 1 && from[0][0] === from[0][1]) {
        this.pos++; // -
        const to = this.classAtom();
        set = union(set, [[from[0][0], to[to.length - 1][1]]]);
      } else {
        set = union(set, from);
      }
    }
    this.pos++; // ]
    return negated ? complement(set) : set;
  }

  private classAtom(): CharSet {
    if (!this.eat('\\')) return single(this.nextCodePoint());
    if (this.eat('b')) return single(0x08); // backspace inside a class
    if (this.eat('-')) return single(0x2d);
    return this.characterEscape();
  }
}

// ─── Properties of sub-expressions ─────────────────────────────────────────────────────────────

function nullable(node: RegexNode): boolean {
  switch (node.kind) {
    case 'chars':
      return false;
    case 'assertion':
    case 'lookaround':
    case 'backreference':
      return true;
    case 'group':
      return nullable(node.body);
    case 'alternation':
      return node.options.some(nullable);
    case 'sequence':
      return node.items.every(nullable);
    case 'repeat':
      return node.min === 0 || nullable(node.body);
  }
}

/** Every character the node can consume. */
function charsOf(node: RegexNode): CharSet {
  switch (node.kind) {
    case 'chars':
      return node.set;
    case 'assertion':
    case 'lookaround':
      return NONE;
    case 'backreference':
      return ANY;
    case 'group':
      return charsOf(node.body);
    case 'alternation':
      return node.options.reduce((set, option) => union(set, charsOf(option)), NONE);
    case 'sequence':
      return node.items.reduce((set, item) => union(set, charsOf(item)), NONE);
    case 'repeat':
      return node.max > 0 ? charsOf(node.body) : NONE;
  }
}

/** The characters a non-empty match of the node can start with. */
function firstChars(node: RegexNode): CharSet {
  switch (node.kind) {
    case 'chars':
      return node.set;
    case 'assertion':
    case 'lookaround':
      return NONE;
    case 'backreference':
      return ANY;
    case 'group':
      return firstChars(node.body);
    case 'alternation':
      return node.options.reduce((set, option) => union(set, firstChars(option)), NONE);
    case 'sequence': {
      let set: CharSet = NONE;
      for (const item of node.items) {
        set = union(set, firstChars(item));
        if (!nullable(item)) break;
      }
      return set;
    }
    case 'repeat':
      return node.max > 0 ? firstChars(node.body) : NONE;
  }
}

/** Can the node match some string (maybe empty) made only of characters in `within`? */
function canMatchWithin(node: RegexNode, within: CharSet): boolean {
  switch (node.kind) {
    case 'chars':
      return intersects(node.set, within);
    case 'assertion':
    case 'lookaround':
    case 'backreference':
      return true;
    case 'group':
      return canMatchWithin(node.body, within);
    case 'alternation':
      return node.options.some((option) => canMatchWithin(option, within));
    case 'sequence':
      return node.items.every((item) => canMatchWithin(item, within));
    case 'repeat':
      return node.min === 0 || canMatchWithin(node.body, within);
  }
}

/** Can the node match a non-empty string made only of characters in `within`? */
function canMatchNonEmptyWithin(node: RegexNode, within: CharSet): boolean {
  switch (node.kind) {
    case 'chars':
      return intersects(node.set, within);
    case 'assertion':
    case 'lookaround':
      return false;
    case 'backreference':
      return true;
    case 'group':
      return canMatchNonEmptyWithin(node.body, within);
    case 'alternation':
      return node.options.some((option) => canMatchNonEmptyWithin(option, within));
    case 'sequence':
      return node.items.every((item) => canMatchWithin(item, within)) && node.items.some((item) => canMatchNonEmptyWithin(item, within));
    case 'repeat':
      return node.max > 0 && canMatchNonEmptyWithin(node.body, within);
  }
}

const MAX_UNROLLED = 16;

/** The node as a fixed sequence of character sets (one per character), when it is one. */
function fixedSequence(node: RegexNode): CharSet[] | undefined {
  switch (node.kind) {
    case 'chars':
      return [node.set];
    case 'assertion':
    case 'lookaround':
      return []; // zero-width: ignoring it can only make two alternatives look more alike
    case 'backreference':
      return undefined;
    case 'group':
      return fixedSequence(node.body);
    case 'alternation':
      return node.options.length === 1 ? fixedSequence(node.options[0]) : undefined;
    case 'sequence': {
      const out: CharSet[] = [];
      for (const item of node.items) {
        const part = fixedSequence(item);
        if (!part) return undefined;
        out.push(...part);
      }
      return out;
    }
    case 'repeat': {
      const part = node.min === node.max && node.min <= MAX_UNROLLED ? fixedSequence(node.body) : undefined;
      return part && Array.from({ length: node.min }, () => part).flat();
    }
  }
}

/** Could the two alternatives match the same text? Exact for fixed sequences, conservative otherwise. */
function mayOverlap(a: RegexNode, b: RegexNode): boolean {
  const fixedA = fixedSequence(a);
  const fixedB = fixedSequence(b);
  if (fixedA && fixedB) return fixedA.length === fixedB.length && fixedA.every((set, i) => intersects(set, fixedB[i]));
  return intersects(firstChars(a), firstChars(b)) || (nullable(a) && nullable(b));
}

function children(node: RegexNode): readonly RegexNode[] {
  switch (node.kind) {
    case 'lookaround':
    case 'group':
    case 'repeat':
      return [node.body];
    case 'alternation':
      return node.options;
    case 'sequence':
      return node.items;
    default:
      return [];
  }
}

function descendants(node: RegexNode): RegexNode[] {
  return children(node).flatMap((child) => [child, ...descendants(child)]);
}

// ─── The check ─────────────────────────────────────────────────────────────────────────────────

export interface BacktrackingRisk {
  readonly kind: 'nested-quantifier' | 'overlapping-alternatives';
  /** What is wrong, quoting the parts of the regex involved. */
  readonly message: string;
}

function nestedQuantifierRisk(source: string, loop: RegexNode & { kind: 'repeat' }): BacktrackingRisk | undefined {
  for (const inner of descendants(loop.body)) {
    if (inner.kind !== 'repeat' || inner.max <= 1 || inner.max === inner.min) continue;
    const innerChars = charsOf(inner.body);
    if (innerChars.length > 0 && canMatchNonEmptyWithin(loop.body, innerChars)) {
      const text = (node: Span) => source.slice(node.start, node.end);
      return {
        kind: 'nested-quantifier',
        message: `"${text(inner)}" inside the repetition "${text(loop)}" can divide the same text between iterations in a huge number of ways (nested quantifiers)`,
      };
    }
  }
  return undefined;
}

function overlappingAlternativesRisk(source: string, loop: RegexNode & { kind: 'repeat' }): BacktrackingRisk | undefined {
  for (const node of [loop.body, ...descendants(loop.body)]) {
    if (node.kind !== 'alternation') continue;
    for (let i = 0; i < node.options.length; i++) {
      for (let j = i + 1; j < node.options.length; j++) {
        if (!mayOverlap(node.options[i], node.options[j])) continue;
        const text = (n: Span) => source.slice(n.start, n.end);
        return {
          kind: 'overlapping-alternatives',
          message: `the alternatives "${text(node.options[i])}" and "${text(node.options[j])}" inside the repetition "${text(loop)}" can match the same text`,
        };
      }
    }
  }
  return undefined;
}

/**
 * The first catastrophic-backtracking shape found in `source` (a valid `u`-mode regex), or
 * undefined when none of the known shapes is present.
 */
export function findBacktrackingRisk(source: string): BacktrackingRisk | undefined {
  let tree: RegexNode;
  try {
    tree = new RegexParser(source).parse();
  } catch {
    // Valid for V8 but not understood here: we cannot vouch for it.
    return { kind: 'nested-quantifier', message: 'the regex uses syntax the backtracking check does not understand' };
  }
  for (const node of [tree, ...descendants(tree)]) {
    if (node.kind !== 'repeat' || node.max <= 1) continue;
    const risk = nestedQuantifierRisk(source, node) ?? overlappingAlternativesRisk(source, node);
    if (risk) return risk;
  }
  return undefined;
}
