import { ALWAYS_SAMPLE, MutableValue56, readHex56, Threshold } from './threshold.js';

/**
 * W3C `tracestate` and its OpenTelemetry `ot=` entry, as far as the sampler needs them:
 * read `th` and `rv`, and write `th` back without disturbing anything else.
 *
 * - A tracestate is a comma-separated list of `key=value` members, at most 32, optional
 *   spaces/tabs around each, empty members allowed (W3C Trace Context). Keys follow the W3C
 *   grammar (lower-case letters, digits, `_ - * /`, one `@` for a tenant), values are 1–256
 *   printable ASCII characters other than `,` and `=`, not ending in a space.
 * - The `ot` value is a `;`-separated list of `key:value` sub-keys, keys `[a-z][a-z0-9]*`,
 *   values `[A-Za-z0-9._-]*`, at most 256 characters (OTel TraceState handling).
 *
 * Parsing never throws. It is lenient member by member: a malformed member (or `ot` sub-key)
 * is skipped and the rest is still read, so one vendor's bad entry does not cost another its
 * state; a second member with an already-seen key is skipped (keys are unique, the first
 * wins). `th`/`rv` values that do not parse count as absent. What is skipped is only lost when
 * this stage has to rewrite the header; a header it leaves alone is forwarded byte for byte.
 */

export const TRACESTATE_MAX_MEMBERS = 32;
export const TRACESTATE_MAX_VALUE_LENGTH = 256;
export const TRACESTATE_MAX_KEY_LENGTH = 256;
/** The OTel sub-key list inside `ot=` is limited like any tracestate value. */
export const OT_VALUE_MAX_LENGTH = 256;
export const OT_KEY = 'ot';

/** One `key=value` member of a tracestate, or one `key:value` sub-key of the `ot` value. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

// ------------------------------------------------------------------ character classes

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** W3C key (Level 1 and 2 grammars merged): [a-z0-9] then up to 255 of [a-z0-9_-*\/@], at most one `@`. */
export function isValidTraceStateKey(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length < 1 || length > TRACESTATE_MAX_KEY_LENGTH) return false;
  const first = text.charCodeAt(start);
  if (!isLcAlpha(first) && !isDigit(first)) return false;
  let ats = 0;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isLcAlpha(c) || isDigit(c) || c === 0x5f /* _ */ || c === 0x2d /* - */ || c === 0x2a /* * */ || c === 0x2f /* / */) continue;
    if (c === 0x40 /* @ */ && ++ats === 1 && i < end - 1) continue;
    return false;
  }
  return true;
}

/** W3C value: 1–256 characters in 0x20–0x7e except `,` and `=`, the last not a space. */
export function isValidTraceStateValue(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length < 1 || length > TRACESTATE_MAX_VALUE_LENGTH) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x2c /* , */ || c === 0x3d /* = */) return false;
  }
  return text.charCodeAt(end - 1) !== 0x20;
}

function isValidOtKey(text: string, start: number, end: number): boolean {
  if (end <= start || !isLcAlpha(text.charCodeAt(start))) return false;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!isLcAlpha(c) && !isDigit(c)) return false;
  }
  return true;
}

function isValidOtValue(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const ok = isLcAlpha(c) || isDigit(c) || (c >= 0x41 && c <= 0x5a) || c === 0x2e /* . */ || c === 0x5f /* _ */ || c === 0x2d; /* - */
    if (!ok) return false;
  }
  return true;
}

// ------------------------------------------------------------------ tracestate list

function hasKey(list: readonly KeyValue[], key: string): boolean {
  for (const kv of list) if (kv.key === key) return true;
  return false;
}

/** How one `key<pair>value<separator>…` list is written: tracestate (`a=1,b=2`) or the `ot` value (`th:8;rv:…`). */
interface ListSyntax {
  readonly separator: string;
  readonly pair: string;
  /** Tracestate allows optional whitespace around members; the `ot` value does not. */
  readonly trimsWhitespace: boolean;
  readonly validKey: (text: string, start: number, end: number) => boolean;
  readonly validValue: (text: string, start: number, end: number) => boolean;
}

/** The valid entries of a list, in order (first of a repeated key); invalid ones are skipped, never thrown on. */
function parseList(text: string | undefined, syntax: ListSyntax): KeyValue[] {
  const entries: KeyValue[] = [];
  if (text === undefined) return entries;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(syntax.separator, start);
    if (end < 0) end = text.length;
    let s = start;
    let e = end;
    if (syntax.trimsWhitespace) {
      while (s < e && isOws(text.charCodeAt(s))) s++;
      while (e > s && isOws(text.charCodeAt(e - 1))) e--;
    }
    const pair = text.indexOf(syntax.pair, s);
    if (e > s && pair > s && pair < e && syntax.validKey(text, s, pair) && syntax.validValue(text, pair + 1, e)) {
      const key = text.slice(s, pair);
      if (!hasKey(entries, key)) entries.push({ key, value: text.slice(pair + 1, e) });
    }
    start = end + 1;
  }
  return entries;
}

function serializeList(entries: readonly KeyValue[], syntax: ListSyntax): string {
  let out = '';
  for (let i = 0; i < entries.length; i++) out += (i === 0 ? '' : syntax.separator) + entries[i].key + syntax.pair + entries[i].value;
  return out;
}

const TRACESTATE_SYNTAX: ListSyntax = { separator: ',', pair: '=', trimsWhitespace: true, validKey: isValidTraceStateKey, validValue: isValidTraceStateValue };
const OT_SYNTAX: ListSyntax = { separator: ';', pair: ':', trimsWhitespace: false, validKey: isValidOtKey, validValue: isValidOtValue };

/**
 * The valid members of a tracestate header, in order (first of a repeated key). Every member
 * is kept even past 32, so that nothing is lost before a writer decides what to cut.
 */
export function parseTraceState(header: string | undefined): KeyValue[] {
  return parseList(header, TRACESTATE_SYNTAX);
}

/** Joins members back into a header value (no spaces, as writers should send it). */
export function serializeTraceState(members: readonly KeyValue[]): string {
  return serializeList(members, TRACESTATE_SYNTAX);
}

/** The value of the first member with `key`, or undefined. */
export function getMember(members: readonly KeyValue[], key: string): string | undefined {
  for (const kv of members) if (kv.key === key) return kv.value;
  return undefined;
}

/**
 * Sets `key=value` the W3C way: the modified member moves to the front (left), the other
 * members keep their order, and the list is cut to 32 members by dropping from the right.
 */
export function putMemberFirst(members: readonly KeyValue[], key: string, value: string): KeyValue[] {
  const out: KeyValue[] = [{ key, value }];
  for (const kv of members) {
    if (out.length >= TRACESTATE_MAX_MEMBERS) break;
    if (kv.key !== key) out.push(kv);
  }
  return out;
}

// ------------------------------------------------------------------ the ot value

/** The valid `key:value` sub-keys of an `ot` value, in order (first of a repeated key). */
export function parseOtValue(value: string | undefined): KeyValue[] {
  return parseList(value, OT_SYNTAX);
}

export function serializeOtValue(subKeys: readonly KeyValue[]): string {
  return serializeList(subKeys, OT_SYNTAX);
}

/**
 * The `ot` sub-keys with `th` set to `th`: replaced where it was, or placed first when absent
 * (as OTel serializers write `th` before `rv`). `rv` and every other sub-key are kept as they
 * came. If the result would pass 256 characters, unknown sub-keys are dropped from the right
 * until it fits; `th` and `rv` are never dropped, and together (at most 34 characters) they
 * always fit.
 */
export function withOtThreshold(subKeys: readonly KeyValue[], th: string): KeyValue[] {
  const out: KeyValue[] = [];
  let placed = false;
  for (const kv of subKeys) {
    if (kv.key === 'th') {
      out.push({ key: 'th', value: th });
      placed = true;
    } else {
      out.push(kv);
    }
  }
  if (!placed) out.unshift({ key: 'th', value: th });
  let length = serializeOtValue(out).length;
  for (let i = out.length - 1; length > OT_VALUE_MAX_LENGTH && i >= 0; i--) {
    const kv = out[i];
    if (kv.key === 'th' || kv.key === 'rv') continue;
    length -= kv.key.length + kv.value.length + 2; // "key:value" and one ';'
    out.splice(i, 1);
  }
  return out;
}

/** Writes `th` into a whole tracestate header (convenience over the pieces above). */
export function setThreshold(header: string | undefined, th: string): string {
  const members = parseTraceState(header);
  const ot = withOtThreshold(parseOtValue(getMember(members, OT_KEY)), th);
  return serializeTraceState(putMemberFirst(members, OT_KEY, serializeOtValue(ot)));
}

// ------------------------------------------------------------------ parsed for sampling

/** Shared scratch for reading th/rv while scanning (single-threaded; never held across calls). */
const scratch = new MutableValue56();

/**
 * What the sampler needs from one incoming tracestate: the incoming threshold (undefined when
 * `th` is absent or invalid), the explicit randomness (`rv`, valid only as 14 hex digits), and,
 * on demand, the header with a new `th` written in.
 *
 * The constructor only scans: it finds the first valid `ot` member and, inside it, the first
 * valid `th` and `rv` sub-keys, without building member lists or substrings. Most items are
 * decided (and most dropped) on that alone; the member lists are built on the first rewrite.
 * Its answers are the same as parseTraceState/parseOtValue would give. A header repeats for
 * every span of a trace, so the decision keeps the last one of these and its last rewrite.
 */
export class ParsedTraceState {
  readonly header: string;
  readonly threshold: Threshold | undefined;
  readonly hasRandomness: boolean;
  readonly randomnessHi: number;
  readonly randomnessLo: number;
  #members: KeyValue[] | undefined;
  #otSubKeys: KeyValue[] | undefined;
  #rewrittenFor: Threshold | undefined;
  #rewritten = '';

  constructor(header: string) {
    this.header = header;
    let threshold: Threshold | undefined;
    let hasRandomness = false;
    let rHi = 0;
    let rLo = 0;
    const otStart = otValueStart(header);
    if (otStart >= 0) {
      const otEnd = otValueEnd;
      let seenTh = false;
      let seenRv = false;
      let start = otStart;
      while (start <= otEnd && !(seenTh && seenRv)) {
        let end = header.indexOf(';', start);
        if (end < 0 || end > otEnd) end = otEnd;
        const colon = header.indexOf(':', start);
        if (colon === start + 2 && colon < end && isValidOtValue(header, colon + 1, end)) {
          const k0 = header.charCodeAt(start);
          const k1 = header.charCodeAt(start + 1);
          if (!seenTh && k0 === 0x74 /* t */ && k1 === 0x68 /* h */) {
            seenTh = true;
            if (readHex56(header, colon + 1, end, scratch)) threshold = toThreshold(scratch);
          } else if (!seenRv && k0 === 0x72 /* r */ && k1 === 0x76 /* v */) {
            seenRv = true;
            if (readHex56(header, colon + 1, end, scratch, true)) {
              hasRandomness = true;
              rHi = scratch.hi;
              rLo = scratch.lo;
            }
          }
        }
        start = end + 1;
      }
    }
    this.threshold = threshold;
    this.hasRandomness = hasRandomness;
    this.randomnessHi = rHi;
    this.randomnessLo = rLo;
  }

  /** The valid members of the header (built on first use). */
  get members(): readonly KeyValue[] {
    return (this.#members ??= parseTraceState(this.header));
  }

  /** The valid sub-keys of its `ot` member (built on first use). */
  get otSubKeys(): readonly KeyValue[] {
    return (this.#otSubKeys ??= parseOtValue(getMember(this.members, OT_KEY)));
  }

  /** The header with `th` set to `threshold`'s text, the `ot` member first. */
  withThreshold(threshold: Threshold): string {
    if (this.#rewrittenFor !== threshold) {
      const ot = serializeOtValue(withOtThreshold(this.otSubKeys, threshold.th));
      this.#rewritten = serializeTraceState(putMemberFirst(this.members, OT_KEY, ot));
      this.#rewrittenFor = threshold;
    }
    return this.#rewritten;
  }
}

/** Where the value of the first valid `ot` member ends; set by otValueStart. */
let otValueEnd = 0;

/**
 * Start of the value of the first valid `ot` member (as parseTraceState would pick it), its
 * end in `otValueEnd`; -1 when there is none. Scans without allocating.
 */
function otValueStart(header: string): number {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(',', start);
    if (end < 0) end = header.length;
    let s = start;
    let e = end;
    while (s < e && isOws(header.charCodeAt(s))) s++;
    while (e > s && isOws(header.charCodeAt(e - 1))) e--;
    if (
      e - s > 3 &&
      header.charCodeAt(s) === 0x6f /* o */ &&
      header.charCodeAt(s + 1) === 0x74 /* t */ &&
      header.charCodeAt(s + 2) === 0x3d /* = */ &&
      isValidTraceStateValue(header, s + 3, e)
    ) {
      otValueEnd = e;
      return s + 3;
    }
    start = end + 1;
  }
  return -1;
}

function toThreshold(v: MutableValue56): Threshold {
  return v.hi === 0 && v.lo === 0 ? ALWAYS_SAMPLE : new Threshold(v.hi, v.lo);
}
