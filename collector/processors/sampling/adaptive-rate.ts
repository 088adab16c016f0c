import { hashBytes } from '../../otlp/hash.js';
import { DEFAULT_THRESHOLD_PRECISION, thresholdFromProbability } from './threshold.js';
import type { Threshold } from './threshold.js';

/**
 * Budget-adaptive sampling rate, one controller per team and signal:
 *
 *   effective p = min(tier p, budget per second / observed items per second)
 *
 * The observed rate is an exponential moving average of incoming items per second. Counts are
 * added per batch (`record`); every `intervalMs` (read from the injected clock when the
 * probability is asked for) the interval's count over its elapsed time is folded into the
 * average with weight 1 − 2^(−elapsed / halfLife), so the weight depends on elapsed time, not
 * on how often the controller is asked. The first completed interval sets the average directly
 * (no warm-up from zero, which would keep far too much of a team that starts over budget).
 *
 * After a step change of the traffic the estimate's error halves every half-life: a team that
 * jumps to 10× its budget is held within 10 % of the budget after about log2(9 / 0.091) ≈ 3.3
 * half-lives (the default 2 s half-life: about 7 s), and returns to its tier rate as smoothly
 * when the traffic falls. A short half-life follows bursts faster but lets per-interval noise
 * of small teams move the rate more.
 *
 * Each controller also owns a visibility floor (below): at least one trace per service and
 * span name per interval, so that a throttled team never goes dark.
 */

export interface AdaptiveRateOptions {
  /** Milliseconds; an injected clock (tests) or a monotonic one (performance.now) in service. */
  readonly clock: () => number;
  /** Half-life of the moving average, ms. Default 2000. */
  readonly halfLifeMs?: number;
  /** How often the average (and so the probability) is recomputed, ms. Default 1000. */
  readonly intervalMs?: number;
  /** Significant hex digits of the thresholds made from the effective probability. Default 4. */
  readonly precision?: number;
  /** Keys the visibility floor tracks per interval. Default 1024. */
  readonly floorCapacity?: number;
}

export const ADAPTIVE_RATE_DEFAULTS = Object.freeze({
  halfLifeMs: 2000,
  intervalMs: 1000,
  floorCapacity: 1024,
});

function positive(name: string, value: number): number {
  if (!(value > 0 && Number.isFinite(value))) throw new RangeError(`${name} must be a positive finite number, got ${value}`);
  return value;
}

export class AdaptiveRate {
  readonly floor: VisibilityFloor;
  readonly #clock: () => number;
  readonly #halfLifeMs: number;
  readonly #intervalMs: number;
  readonly #precision: number;
  #intervalStart: number;
  #pending = 0;
  /** Items per second; NaN until the first interval completes. */
  #rate = Number.NaN;
  #cachedP = Number.NaN;
  #cachedThreshold: Threshold | undefined;

  constructor(options: AdaptiveRateOptions) {
    this.#clock = options.clock;
    this.#halfLifeMs = positive('halfLifeMs', options.halfLifeMs ?? ADAPTIVE_RATE_DEFAULTS.halfLifeMs);
    this.#intervalMs = positive('intervalMs', options.intervalMs ?? ADAPTIVE_RATE_DEFAULTS.intervalMs);
    this.#precision = options.precision ?? DEFAULT_THRESHOLD_PRECISION;
    this.floor = new VisibilityFloor(options.floorCapacity ?? ADAPTIVE_RATE_DEFAULTS.floorCapacity);
    this.#intervalStart = this.#clock();
  }

  /** Counts incoming items (before sampling). No clock read: call per batch or per item. */
  record(count = 1): void {
    this.#pending += count;
  }

  /**
   * Folds the current interval into the average when it has lasted `intervalMs`, and starts
   * the next interval (and the floor's). Returns whether it did. Called by the readers below;
   * public for callers that want the roll-over at a moment of their choosing.
   */
  tick(): boolean {
    const now = this.#clock();
    const elapsed = now - this.#intervalStart;
    if (elapsed < 0) {
      // A clock that went back (wall clock adjusted): restart the interval, keep the counts.
      this.#intervalStart = now;
      return false;
    }
    if (elapsed < this.#intervalMs) return false;
    const rate = (this.#pending * 1000) / elapsed;
    this.#rate = Number.isNaN(this.#rate) ? rate : this.#rate + (1 - 2 ** (-elapsed / this.#halfLifeMs)) * (rate - this.#rate);
    this.#pending = 0;
    this.#intervalStart = now;
    this.floor.startInterval();
    return true;
  }

  /** The moving average of incoming items per second; NaN before the first interval completed. */
  observedRate(): number {
    this.tick();
    return this.#rate;
  }

  /**
   * min(tierP, budget / observed rate). Without a budget (undefined or Infinity), before the
   * first interval, or with no traffic, the tier probability. A zero budget gives 0, which
   * thresholds clamp to the highest one (one in 2^56).
   */
  effectiveProbability(tierP: number, budgetPerSecond: number | undefined): number {
    this.tick();
    const rate = this.#rate;
    if (budgetPerSecond === undefined || !(budgetPerSecond < Infinity) || !(rate > 0)) return tierP;
    return Math.min(tierP, Math.max(0, budgetPerSecond) / rate);
  }

  /** The threshold of `effectiveProbability`, made once per distinct probability (so per interval at most). */
  effectiveThreshold(tierP: number, budgetPerSecond: number | undefined): Threshold {
    const p = this.effectiveProbability(tierP, budgetPerSecond);
    if (p !== this.#cachedP || this.#cachedThreshold === undefined) {
      this.#cachedThreshold = thresholdFromProbability(p, this.#precision);
      this.#cachedP = p;
    }
    return this.#cachedThreshold;
  }
}

// ------------------------------------------------------------------ visibility floor

/**
 * The (service, span name) keys that already have a kept trace in the current interval.
 * `admit` says yes once per key per interval, and the processor force-keeps that trace, so a
 * team throttled far below its traffic still shows every operation at least once per interval.
 *
 * Bounded: a fixed open-addressing table of 64-bit key hashes (two 32-bit words) for at most
 * `capacity` keys, at most half full. A new interval does not clear the table: each slot carries
 * the interval number it was written in, and a slot from an older interval counts as empty.
 * When the table is full, new keys are refused and counted (`overflowed`): those keys get no
 * floor trace in that interval. A 64-bit hash collision would merely cost a key its floor trace.
 */
export class VisibilityFloor {
  readonly capacity: number;
  readonly #mask: number;
  readonly #hashA: Int32Array;
  readonly #hashB: Int32Array;
  readonly #stamp: Uint32Array;
  #interval = 1;
  #size = 0;
  #overflowedThisInterval = 0;
  #overflowedTotal = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`visibility floor capacity must be an integer in [1, 2^24], got ${capacity}`);
    }
    this.capacity = capacity;
    let slots = 2;
    while (slots < capacity * 2) slots *= 2;
    this.#mask = slots - 1;
    this.#hashA = new Int32Array(slots);
    this.#hashB = new Int32Array(slots);
    this.#stamp = new Uint32Array(slots);
  }

  /** Keys recorded in the current interval. */
  get size(): number {
    return this.#size;
  }

  /** Keys refused for lack of room in the current interval (counted per call). */
  get overflowedThisInterval(): number {
    return this.#overflowedThisInterval;
  }

  /** Refused keys over the floor's life. */
  get overflowedTotal(): number {
    return this.#overflowedTotal;
  }

  /** Forgets all keys: a new interval begins. O(1) except once per 2^32 intervals. */
  startInterval(): void {
    this.#size = 0;
    this.#overflowedThisInterval = 0;
    if (++this.#interval === 0xffffffff) {
      this.#stamp.fill(0);
      this.#interval = 1;
    }
  }

  /**
   * True the first time a key is offered in the interval (it is recorded: force-keep this
   * trace); false when it already has a kept trace, or when there is no room (counted).
   */
  admit(hashA: number, hashB: number): boolean {
    return this.#insert(hashA | 0, hashB | 0, true);
  }

  /** Records that a key got a kept trace anyway (sampled), so the floor need not add one. */
  markKept(hashA: number, hashB: number): void {
    this.#insert(hashA | 0, hashB | 0, false);
  }

  /** Whether the key has a kept trace in the current interval. */
  has(hashA: number, hashB: number): boolean {
    const a = hashA | 0;
    const b = hashB | 0;
    for (let i = slotOf(a, b, this.#mask); ; i = (i + 1) & this.#mask) {
      if (this.#stamp[i] !== this.#interval) return false;
      if (this.#hashA[i] === a && this.#hashB[i] === b) return true;
    }
  }

  #insert(a: number, b: number, countOverflow: boolean): boolean {
    const mask = this.#mask;
    for (let i = slotOf(a, b, mask); ; i = (i + 1) & mask) {
      if (this.#stamp[i] !== this.#interval) {
        if (this.#size >= this.capacity) {
          if (countOverflow) {
            this.#overflowedThisInterval++;
            this.#overflowedTotal++;
          }
          return false;
        }
        this.#stamp[i] = this.#interval;
        this.#hashA[i] = a;
        this.#hashB[i] = b;
        this.#size++;
        return true;
      }
      if (this.#hashA[i] === a && this.#hashB[i] === b) return false;
    }
  }
}

function slotOf(a: number, b: number, mask: number): number {
  return (a ^ Math.imul(b, 0x9e3779b1)) & mask;
}

// Seeds of the two lanes of a key hash (hex digits of e).
const KEY_SEED_A = 0x2b7e1516;
const KEY_SEED_B = 0x28aed2a6;

/** A visibility key: two 32-bit lanes over service name and span name bytes. */
export interface VisibilityKey {
  hashA: number;
  hashB: number;
}

/**
 * Hashes (service name, span name) from their bytes (e.g. in the request buffer) into `out`.
 * Each name is hashed on its own and the name's length is mixed in by the hash, so the
 * boundary between the two cannot shift.
 */
export function visibilityKey(
  service: Uint8Array,
  serviceStart: number,
  serviceEnd: number,
  name: Uint8Array,
  nameStart: number,
  nameEnd: number,
  out: VisibilityKey,
): VisibilityKey {
  out.hashA = hashBytes(name, nameStart, nameEnd, hashBytes(service, serviceStart, serviceEnd, KEY_SEED_A));
  out.hashB = hashBytes(name, nameStart, nameEnd, hashBytes(service, serviceStart, serviceEnd, KEY_SEED_B) ^ KEY_SEED_A);
  return out;
}
