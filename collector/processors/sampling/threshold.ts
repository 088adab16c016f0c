/**
 * Sampling thresholds of OpenTelemetry consistent probability sampling (the tracestate `th`
 * sub-key): a 56-bit rejection threshold T; an item with 56-bit randomness R is kept iff R ≥ T,
 * so it is kept with probability (2^56 − T) / 2^56 and stands for 2^56 / (2^56 − T) items.
 *
 * Representation. 56 bits do not fit a double's 53-bit mantissa, and a BigInt per span would
 * allocate. A 56-bit value is held as two exact integers of 28 bits each, `hi` (bits 55..28) and
 * `lo` (bits 27..0): both always small integers (V8 Smis, < 2^30), so comparing R with T is two
 * integer compares with no boxing, and each half is exactly 7 hex digits of the 14-digit text
 * form. BigInt is used only where a threshold is *made* from a probability (rare: once per
 * probability change), where exact rounding matters more than speed.
 */

/** 2^56: the number of distinct randomness values, and the largest possible adjusted count. */
export const MAX_ADJUSTED_COUNT = 2 ** 56;
/** The smallest probability a threshold can express: one value of R in 2^56 passes. */
export const MIN_PROBABILITY = 2 ** -56;
/** Hex digits of a full 56-bit value. */
export const THRESHOLD_HEX_DIGITS = 14;
/** Significant hex digits a threshold made from a probability is rounded to, unless told otherwise (OTel's recommended default). */
export const DEFAULT_THRESHOLD_PRECISION = 4;

const HALF_BITS = 28;
const HALF_RANGE = 2 ** HALF_BITS; // 2^28
const HALF_MASK = HALF_RANGE - 1;
const HALF_DIGITS = 7;

/** A 56-bit unsigned value as two exact 28-bit halves: value = hi · 2^28 + lo. */
export interface Value56 {
  readonly hi: number;
  readonly lo: number;
}

/** A mutable 56-bit value, for reading randomness without allocating per item. */
export class MutableValue56 implements Value56 {
  hi = 0;
  lo = 0;
}

/** a ≥ b over 56-bit values given as halves: the whole consistent-sampling test "keep iff R ≥ T". */
export function atLeast(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi > bHi || (aHi === bHi && aLo >= bLo);
}

/** Orders two 56-bit values: negative, zero or positive like a comparator. */
export function compareValue56(a: Value56, b: Value56): number {
  return a.hi !== b.hi ? a.hi - b.hi : a.lo - b.lo;
}

/**
 * A rejection threshold. Immutable; its `th` text is computed once on first use and kept, so a
 * threshold made once per probability change costs nothing to write per span.
 */
export class Threshold implements Value56 {
  readonly hi: number;
  readonly lo: number;
  #th: string | undefined;

  /** From the two 28-bit halves; out-of-range halves are a programming error. */
  constructor(hi: number, lo: number) {
    if (!isHalf(hi) || !isHalf(lo)) throw new RangeError(`threshold halves must be integers in [0, 2^28), got ${hi}, ${lo}`);
    this.hi = hi;
    this.lo = lo;
  }

  /** The `th` sub-key value: 14 hex digits with trailing zeros removed, `0` for keep-all. */
  get th(): string {
    return (this.#th ??= encodeHalves(this.hi, this.lo));
  }

  /** The probability that an item with uniform randomness passes: (2^56 − T) / 2^56. */
  get probability(): number {
    return keptValues(this.hi, this.lo) / MAX_ADJUSTED_COUNT;
  }

  /** How many items one kept item stands for: 2^56 / (2^56 − T). */
  get adjustedCount(): number {
    return MAX_ADJUSTED_COUNT / keptValues(this.hi, this.lo);
  }

  /** T as a BigInt, for tests and diagnostics (not for the hot path). */
  toBigInt(): bigint {
    return (BigInt(this.hi) << BigInt(HALF_BITS)) | BigInt(this.lo);
  }

  /** Whether randomness R (as halves) passes this threshold. */
  keeps(rHi: number, rLo: number): boolean {
    return atLeast(rHi, rLo, this.hi, this.lo);
  }
}

function isHalf(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < HALF_RANGE;
}

/**
 * 2^56 − T as a double. (2^28 − hi) · 2^28 is exact; subtracting lo may round in the last bit
 * for large results, which is far below any use of an adjusted count.
 */
function keptValues(hi: number, lo: number): number {
  return (HALF_RANGE - hi) * HALF_RANGE - lo;
}

/** T = 0: every item is kept (`th:0`, adjusted count 1). */
export const ALWAYS_SAMPLE = new Threshold(0, 0);
/** T = 2^56 − 1: the highest threshold, keeping one randomness value in 2^56. */
export const MAX_THRESHOLD = new Threshold(HALF_MASK, HALF_MASK);

// ------------------------------------------------------------------ probability → threshold

/**
 * The threshold for keep probability p, rounded to `precision` significant hex digits as the
 * OTel specification recommends (fewer digits in every tracestate, at a relative error below
 * 16^-precision in the probability):
 *
 * - T = 2^56 − round(p · 2^56), computed exactly (p · 2^56 only rescales the double);
 * - for small p the threshold starts with hex `f`s that carry no information, so the precision
 *   is raised by one digit per four binary orders of magnitude of p (frexp exponent e of p,
 *   p = m · 2^e with m in [0.5, 1): ⌊−e / 4⌋ more digits), capped at 14;
 * - T is rounded half-up to that many digits; if rounding would carry past 2^56 − 1 (cannot
 *   happen with the raised precision, kept as a guard), it is truncated instead.
 *
 * p = 1 gives T = 0 (`th:0`). p below 2^-56 (including 0, e.g. a zero budget) is clamped to the
 * highest threshold: keep-nothing cannot be expressed as a threshold, and one in 2^56 is the
 * closest. NaN, negative p, p > 1 or a precision outside 1–14 are caller errors (RangeError):
 * probabilities come from validated rules and from the rate controller, never from data.
 */
export function thresholdFromProbability(p: number, precision: number = DEFAULT_THRESHOLD_PRECISION): Threshold {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`sampling probability must be in [0, 1], got ${p}`);
  if (!Number.isInteger(precision) || precision < 1 || precision > THRESHOLD_HEX_DIGITS) {
    throw new RangeError(`threshold precision must be an integer in [1, ${THRESHOLD_HEX_DIGITS}], got ${precision}`);
  }
  if (p === 1) return ALWAYS_SAMPLE;
  if (p < MIN_PROBABILITY) return MAX_THRESHOLD;

  const full = 1n << 56n;
  // p · 2^56 is an exact rescaling; Math.round then yields an integer the double holds exactly.
  let t = full - BigInt(Math.round(p * MAX_ADJUSTED_COUNT));
  const digits = Math.min(THRESHOLD_HEX_DIGITS, precision + Math.floor(-frexpExponent(p) / 4));
  const shift = BigInt(4 * (THRESHOLD_HEX_DIGITS - digits));
  if (shift > 0n) {
    const rounded = ((t + (1n << (shift - 1n))) >> shift) << shift;
    t = rounded < full ? rounded : (t >> shift) << shift;
  }
  if (t >= full) t = full - 1n; // round(p · 2^56) = 0 cannot occur above MIN_PROBABILITY; a guard
  return new Threshold(Number(t >> BigInt(HALF_BITS)), Number(t & BigInt(HALF_MASK)));
}

/** The exponent e of p = m · 2^e with m in [0.5, 1) (C's frexp), exact also at powers of two. */
function frexpExponent(p: number): number {
  let e = Math.floor(Math.log2(p)) + 1;
  // log2 may be off by one ulp next to a power of two; correct so that 2^(e-1) ≤ p < 2^e.
  if (2 ** (e - 1) > p) e--;
  else if (2 ** e <= p) e++;
  return e;
}

// ------------------------------------------------------------------ text form

const HEX_PAD = '0000000';

function encodeHalves(hi: number, lo: number): string {
  if (hi === 0 && lo === 0) return '0';
  const h = hi.toString(16);
  const l = lo.toString(16);
  const text = HEX_PAD.slice(h.length) + h + HEX_PAD.slice(l.length) + l;
  let end = text.length;
  while (text.charCodeAt(end - 1) === 0x30 /* '0' */) end--;
  return text.slice(0, end);
}

/** The `th` text of a threshold (also available as `threshold.th`). */
export function encodeThreshold(t: Value56): string {
  return t instanceof Threshold ? t.th : encodeHalves(t.hi, t.lo);
}

/**
 * Value of one hex digit character code, or -1. Upper case is accepted when reading: OTel
 * writers emit lower case, and treating an upper-case `th` as absent could let this stage
 * write a *lower* threshold over it, which is the one thing a downstream sampler must not do.
 */
export function hexDigitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  if (c >= 0x61 && c <= 0x66) return c - 0x57; // a-f
  if (c >= 0x41 && c <= 0x46) return c - 0x37; // A-F
  return -1;
}

/**
 * Reads `text[start, end)` as 1–14 hex digits, right-padded with zeros to 14, into `out`.
 * Returns false (leaving `out` unspecified) for an empty or longer run or a non-hex character.
 * With `exact14` the run must be exactly 14 digits (the `rv` form). No allocation.
 */
export function readHex56(text: string, start: number, end: number, out: MutableValue56, exact14 = false): boolean {
  const length = end - start;
  if (length < 1 || length > THRESHOLD_HEX_DIGITS || (exact14 && length !== THRESHOLD_HEX_DIGITS)) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < THRESHOLD_HEX_DIGITS; i++) {
    let d = 0;
    if (i < length) {
      d = hexDigitValue(text.charCodeAt(start + i));
      if (d < 0) return false;
    }
    if (i < HALF_DIGITS) hi = hi * 16 + d;
    else lo = lo * 16 + d;
  }
  out.hi = hi;
  out.lo = lo;
  return true;
}

const decodeScratch = new MutableValue56();

/** Parses a `th` value (1–14 hex digits, right-padded to 14); undefined when invalid. */
export function decodeThreshold(th: string, start = 0, end = th.length): Threshold | undefined {
  if (!readHex56(th, start, end, decodeScratch)) return undefined;
  if (decodeScratch.hi === 0 && decodeScratch.lo === 0) return ALWAYS_SAMPLE;
  return new Threshold(decodeScratch.hi, decodeScratch.lo);
}
