import { fmix32, hashBytes } from '../../otlp/hash.js';
import { readHex56 } from './threshold.js';
import type { MutableValue56, Value56 } from './threshold.js';

/**
 * The 56-bit randomness R an item is sampled with, as two 28-bit halves (see threshold.ts).
 *
 * - Spans (and logs that carry a trace id): an explicit `rv` from the tracestate when present
 *   and valid (parsed in tracestate.ts), else the trace id's last 7 bytes, read straight from
 *   the wire bytes (W3C Trace Context Level 2 makes those bits random). Every sidecar reading
 *   the same trace id gets the same R: that is what keeps traces whole.
 * - Logs without a trace id: a deterministic 56-bit hash of the record's timestamp and body
 *   bytes, so a record resent or seen by two instances is decided the same way.
 */

/** Bytes in a trace id. */
export const TRACE_ID_BYTES = 16;

/** Bits 55..28 of R: trace id bytes 9, 10, 11 and the high nibble of byte 12. */
export function traceIdRandomnessHi(traceId: Uint8Array, offset: number): number {
  return (traceId[offset + 9] << 20) | (traceId[offset + 10] << 12) | (traceId[offset + 11] << 4) | (traceId[offset + 12] >>> 4);
}

/** Bits 27..0 of R: the low nibble of trace id byte 12 and bytes 13, 14, 15. */
export function traceIdRandomnessLo(traceId: Uint8Array, offset: number): number {
  return ((traceId[offset + 12] & 0x0f) << 24) | (traceId[offset + 13] << 16) | (traceId[offset + 14] << 8) | traceId[offset + 15];
}

/** R of a trace id (the 16 bytes at `offset`) into `out`. */
export function readTraceIdRandomness(traceId: Uint8Array, offset: number, out: MutableValue56): MutableValue56 {
  out.hi = traceIdRandomnessHi(traceId, offset);
  out.lo = traceIdRandomnessLo(traceId, offset);
  return out;
}

/** A trace id that is present: 16 bytes in range and not all zero (the W3C invalid id). */
export function isValidTraceId(bytes: Uint8Array, offset: number, length = TRACE_ID_BYTES): boolean {
  if (length !== TRACE_ID_BYTES || offset < 0 || offset + TRACE_ID_BYTES > bytes.length) return false;
  for (let i = 0; i < TRACE_ID_BYTES; i++) if (bytes[offset + i] !== 0) return true;
  return false;
}

/** R from an `rv` value (exactly 14 hex digits) into `out`; false when `rv` is invalid. */
export function readRandomnessValue(rv: string, out: MutableValue56): boolean {
  return readHex56(rv, 0, rv.length, out, true);
}

/** The `rv` text of a 56-bit value: 14 lower-case hex digits (for tests and diagnostics). */
export function encodeRandomnessValue(r: Value56): string {
  return r.hi.toString(16).padStart(7, '0') + r.lo.toString(16).padStart(7, '0');
}

// Seeds for the two 32-bit lanes of the log hash (hex digits of √2 and √3): independent lanes,
// so the 56 bits are not two copies of one 32-bit hash.
const LOG_SEED_A = 0x6a09e667;
const LOG_SEED_B = 0xbb67ae85;

/**
 * R for a log record without a trace id: two MurmurHash3 lanes over the body bytes
 * `body[start, end)`, each seeded by a different mix of the 64-bit timestamp (given as its
 * low and high 32-bit words, as read from the fixed64 field), 28 bits taken from each.
 * Deterministic; not a secret, since a client can only steer the sampling of its own records.
 */
export function readLogRandomness(
  timeLo: number,
  timeHi: number,
  body: Uint8Array,
  start: number,
  end: number,
  out: MutableValue56,
): MutableValue56 {
  const seedA = fmix32((timeLo ^ LOG_SEED_A) + Math.imul(fmix32(timeHi ^ LOG_SEED_B), 0x9e3779b1));
  const seedB = fmix32((timeHi ^ LOG_SEED_A) + Math.imul(fmix32(timeLo ^ LOG_SEED_B), 0x85ebca77));
  out.hi = hashBytes(body, start, end, seedA) >>> 4;
  out.lo = hashBytes(body, start, end, seedB) >>> 4;
  return out;
}
