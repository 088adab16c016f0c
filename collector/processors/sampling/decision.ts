import { traceIdRandomnessHi, traceIdRandomnessLo } from './randomness.js';
import { ALWAYS_SAMPLE, atLeast, decodeThreshold } from './threshold.js';
import type { Threshold } from './threshold.js';
import { ParsedTraceState } from './tracestate.js';

/**
 * The consistent sampling decision of one item, as a downstream (collector-side) stage that
 * may only *raise* the threshold (OTel "equalizing downstream sampler"):
 *
 * - incoming threshold T_in (`th`; absent counts as 0, i.e. nothing rejected so far) and ours T:
 *   - T_in ≥ T: this stage rejects nothing more. The item is kept iff R ≥ T_in (always, when
 *     the upstream was consistent; an item with R < T_in contradicts its own threshold and is
 *     dropped rather than counted) and `th` is left exactly as it came: lowering it would
 *     claim a higher probability than the item was really kept with;
 *   - T_in < T: keep iff R ≥ T, and write T.
 * - a keep rule (error, slow request, visibility floor) keeps the item whatever R is, and must
 *   not pretend it was sampled: `th` stays the incoming one, or becomes `th:0` (adjusted count
 *   1) when there is none.
 *
 * R is the `rv` of the tracestate when valid, else the trace id's last 56 bits. The result
 * depends only on (tracestate, trace id, T): two instances deciding the same spans agree, and a
 * lower probability keeps a subset of what a higher one keeps.
 *
 * Per span this allocates nothing when there is no incoming tracestate (the common case): the
 * outgoing `ot=th:…` is made once per threshold. A tracestate is parsed once per distinct
 * header string (spans of one trace repeat it) and its rewrite once per threshold.
 */

/** The outcome, reusable across calls (pass the same object to avoid allocating per span). */
export interface SamplingDecision {
  keep: boolean;
  /** The threshold this call wrote into the tracestate; undefined when `th` was left as it came. */
  written: Threshold | undefined;
  /** The threshold a kept item carries afterwards; undefined for a dropped item or one kept without `th`. */
  threshold: Threshold | undefined;
  /** Items one kept item stands for, 2^56 / (2^56 − T) of `threshold` (1 without a threshold); 0 when dropped. */
  adjustedCount: number;
  /** The outgoing tracestate: the incoming string itself ('' for none) unless `written` is set. */
  traceState: string;
}

export function createDecision(): SamplingDecision {
  return { keep: false, written: undefined, threshold: undefined, adjustedCount: 0, traceState: '' };
}

/** The header a keep rule writes on an item that arrived without a tracestate. */
const KEEP_ALL_HEADER = `ot=th:${ALWAYS_SAMPLE.th}`;

function drop(out: SamplingDecision, incoming: string): SamplingDecision {
  out.keep = false;
  out.written = undefined;
  out.threshold = undefined;
  out.adjustedCount = 0;
  out.traceState = incoming;
  return out;
}

function keepAs(out: SamplingDecision, threshold: Threshold | undefined, written: Threshold | undefined, traceState: string): SamplingDecision {
  out.keep = true;
  out.written = written;
  out.threshold = threshold;
  out.adjustedCount = threshold === undefined ? 1 : threshold.adjustedCount;
  out.traceState = traceState;
  return out;
}

/**
 * Decides items against a threshold. Holds only the last parsed tracestate (a memo, no
 * behaviour): two instances always decide alike.
 */
export class ConsistentSampler {
  #last: ParsedTraceState | undefined;
  /** `ot=th:…` of the last threshold written on an item without a tracestate. */
  #bareFor: Threshold | undefined;
  #bare = '';

  /** The parsed form of a non-empty header, reusing the previous parse when the header repeats. */
  parse(header: string): ParsedTraceState {
    const last = this.#last;
    if (last !== undefined && last.header === header) return last;
    return (this.#last = new ParsedTraceState(header));
  }

  /**
   * Decides an item whose randomness comes from the tracestate's `rv` or else the trace id
   * (16 bytes of `traceId` at `offset`, e.g. straight from the request buffer).
   */
  decide(traceState: string | undefined, traceId: Uint8Array, offset: number, ours: Threshold, out: SamplingDecision = createDecision()): SamplingDecision {
    if (traceState === undefined || traceState.length === 0) {
      return this.#decideBare(traceIdRandomnessHi(traceId, offset), traceIdRandomnessLo(traceId, offset), ours, out);
    }
    const parsed = this.parse(traceState);
    const rHi = parsed.hasRandomness ? parsed.randomnessHi : traceIdRandomnessHi(traceId, offset);
    const rLo = parsed.hasRandomness ? parsed.randomnessLo : traceIdRandomnessLo(traceId, offset);
    return this.#decideParsed(parsed, rHi, rLo, ours, out);
  }

  /**
   * Decides an item with randomness given by the caller (halves of R), e.g. a log record's
   * hash. A valid `rv` in the tracestate still takes precedence, as the spec requires.
   */
  decideWithRandomness(traceState: string | undefined, rHi: number, rLo: number, ours: Threshold, out: SamplingDecision = createDecision()): SamplingDecision {
    if (traceState === undefined || traceState.length === 0) return this.#decideBare(rHi, rLo, ours, out);
    const parsed = this.parse(traceState);
    return parsed.hasRandomness
      ? this.#decideParsed(parsed, parsed.randomnessHi, parsed.randomnessLo, ours, out)
      : this.#decideParsed(parsed, rHi, rLo, ours, out);
  }

  /** A keep rule matched: keep, with the incoming `th` or else `th:0`. */
  forceKeep(traceState: string | undefined, out: SamplingDecision = createDecision()): SamplingDecision {
    if (traceState === undefined || traceState.length === 0) return keepAs(out, ALWAYS_SAMPLE, ALWAYS_SAMPLE, KEEP_ALL_HEADER);
    const parsed = this.parse(traceState);
    if (parsed.threshold !== undefined) return keepAs(out, parsed.threshold, undefined, traceState);
    return keepAs(out, ALWAYS_SAMPLE, ALWAYS_SAMPLE, parsed.withThreshold(ALWAYS_SAMPLE));
  }

  /** No incoming tracestate: T_in = 0. */
  #decideBare(rHi: number, rLo: number, ours: Threshold, out: SamplingDecision): SamplingDecision {
    // T_in = 0 ≥ ours only when ours is 0 too: keep everything and leave the (empty) header alone.
    if (ours.hi === 0 && ours.lo === 0) return keepAs(out, undefined, undefined, '');
    if (!atLeast(rHi, rLo, ours.hi, ours.lo)) return drop(out, '');
    if (this.#bareFor !== ours) {
      this.#bare = `ot=th:${ours.th}`;
      this.#bareFor = ours;
    }
    return keepAs(out, ours, ours, this.#bare);
  }

  #decideParsed(parsed: ParsedTraceState, rHi: number, rLo: number, ours: Threshold, out: SamplingDecision): SamplingDecision {
    const incoming = parsed.threshold;
    const inHi = incoming === undefined ? 0 : incoming.hi;
    const inLo = incoming === undefined ? 0 : incoming.lo;
    if (atLeast(inHi, inLo, ours.hi, ours.lo)) {
      // Already sampled at least as hard upstream: decide by the incoming threshold, change nothing.
      if (!atLeast(rHi, rLo, inHi, inLo)) return drop(out, parsed.header);
      return keepAs(out, incoming, undefined, parsed.header);
    }
    if (!atLeast(rHi, rLo, ours.hi, ours.lo)) return drop(out, parsed.header);
    return keepAs(out, ours, ours, parsed.withThreshold(ours));
  }
}

/**
 * The adjusted count a `th` value implies, 2^56 / (2^56 − T); undefined when `th` is absent or
 * invalid: an item without a valid threshold was not probability-sampled and its adjusted count
 * is unknown (OTel), which is not the same as 1.
 */
export function adjustedCount(th: string | undefined): number | undefined {
  return th === undefined ? undefined : decodeThreshold(th)?.adjustedCount;
}
