import { bytesEqual, hashBytes } from '../../otlp/hash.js';

/**
 * Remembers, per distinct attribute key, a decision computed once from the key's text (which
 * policies' key matchers accept it), so the hot path never decodes a key it has seen before
 * and allocates nothing for it. Keys live in a byte arena; the table is open-addressed.
 *
 * Keys are few in healthy traffic; if a client sends unbounded keys the cache fills and is
 * cleared wholesale, which bounds memory and costs only recomputation.
 */
export class KeyDecisionCache {
  private readonly capacity: number;
  private readonly mask: number;
  private readonly slotHash: Int32Array;
  /** Arena offset + 1 of the slot's key (0 = empty slot). */
  private readonly slotKey: Int32Array;
  private readonly slotKeyLength: Int32Array;
  private readonly slotDecision: Int32Array;
  private arena: Uint8Array;
  private arenaUsed = 0;
  private size = 0;
  clears = 0;

  constructor(capacity = 4096, private readonly maxArenaBytes = 256 * 1024) {
    this.capacity = capacity;
    this.mask = capacity - 1;
    if ((capacity & this.mask) !== 0) throw new Error('capacity must be a power of two');
    this.slotHash = new Int32Array(capacity);
    this.slotKey = new Int32Array(capacity);
    this.slotKeyLength = new Int32Array(capacity);
    this.slotDecision = new Int32Array(capacity);
    this.arena = new Uint8Array(16 * 1024);
  }

  /**
   * The decision for the key in buf[start, end); `decide` runs only on a miss, with the key text.
   * Decisions are small non-negative integers chosen by the caller (e.g. an index into a table of masks).
   */
  get(buf: Uint8Array, start: number, end: number, decide: (key: string) => number): number {
    const hash = hashBytes(buf, start, end, 0x2f1e3d4c) | 0;
    let slot = hash & this.mask;
    for (;;) {
      const keyRef = this.slotKey[slot];
      if (keyRef === 0) break;
      if (this.slotHash[slot] === hash && bytesEqual(this.arena, keyRef - 1, keyRef - 1 + this.slotKeyLength[slot], buf, start, end)) {
        return this.slotDecision[slot];
      }
      slot = (slot + 1) & this.mask;
    }
    const decision = decide(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8'));
    this.insert(slot, hash, buf, start, end, decision);
    return decision;
  }

  private insert(slot: number, hash: number, buf: Uint8Array, start: number, end: number, decision: number): void {
    const length = end - start;
    // Checked before the fullness test: a key that can never fit must not empty the cache
    // (a client repeating one huge key would otherwise clear it on every request).
    if (length > this.maxArenaBytes) return;
    if (this.size >= this.capacity * 0.75 || this.arenaUsed + length > this.maxArenaBytes) {
      this.clear();
      slot = hash & this.mask;
    }
    if (this.arenaUsed + length > this.arena.length) {
      const next = new Uint8Array(Math.min(this.maxArenaBytes, Math.max(this.arena.length * 2, this.arenaUsed + length)));
      next.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = next;
    }
    this.arena.set(buf.subarray(start, end), this.arenaUsed);
    this.slotHash[slot] = hash;
    this.slotKey[slot] = this.arenaUsed + 1;
    this.slotKeyLength[slot] = length;
    this.slotDecision[slot] = decision;
    this.arenaUsed += length;
    this.size++;
  }

  clear(): void {
    this.slotKey.fill(0);
    this.arenaUsed = 0;
    this.size = 0;
    this.clears++;
  }
}

/**
 * The fast path in front of the cache: points of one metric (and spans of one service) carry
 * the same keys in the same order, so the key at position k of an owner is usually the key at
 * position k of the previous owner. Comparing the bytes with that earlier key, in the same
 * request buffer, answers without hashing. Valid for one request: `reset()` before each.
 */
export class PositionalKeyMemo {
  private static readonly POSITIONS = 64;
  private readonly keyStart = new Int32Array(PositionalKeyMemo.POSITIONS);
  private readonly keyEnd = new Int32Array(PositionalKeyMemo.POSITIONS);
  private readonly decision = new Int32Array(PositionalKeyMemo.POSITIONS).fill(-1);

  private view: DataView = new DataView(new ArrayBuffer(0));

  /** Forgets everything; `buf` is the request the next lookups read. */
  reset(buf: Uint8Array): void {
    this.decision.fill(-1);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** The decision remembered for the key buf[start, end) at this position, or -1. */
  decisionAt(position: number, buf: Uint8Array, start: number, end: number): number {
    if (position >= PositionalKeyMemo.POSITIONS) return -1;
    const known = this.decision[position];
    if (known < 0) return -1;
    const knownStart = this.keyStart[position];
    if (this.keyEnd[position] - knownStart !== end - start) return -1;
    return rangesEqual(this.view, buf, start, knownStart, end - start) ? known : -1;
  }

  remember(position: number, start: number, end: number, decision: number): void {
    if (position >= PositionalKeyMemo.POSITIONS) return;
    this.keyStart[position] = start;
    this.keyEnd[position] = end;
    this.decision[position] = decision;
  }
}

/** What PositionalVerdictMemo answers when it does not know. */
export const UNKNOWN_VERDICT = -2;

/**
 * The same idea for values: the policy verdict (first matching policy, or -1) of the attribute
 * at a position, remembered with everything it depends on — a context word (key decision and
 * owner kind), the owner's resource group, the value type and the value bytes — so a value
 * repeated at the same position of the next owner skips the value detectors. Valid for one
 * request: `reset()` before each.
 */
export class PositionalVerdictMemo {
  private static readonly POSITIONS = 64;
  private readonly context = new Int32Array(PositionalVerdictMemo.POSITIONS);
  private readonly group = new Int32Array(PositionalVerdictMemo.POSITIONS);
  private readonly valueType = new Int32Array(PositionalVerdictMemo.POSITIONS);
  private readonly valueStart = new Int32Array(PositionalVerdictMemo.POSITIONS);
  private readonly valueEnd = new Int32Array(PositionalVerdictMemo.POSITIONS);
  private readonly verdict = new Int32Array(PositionalVerdictMemo.POSITIONS).fill(UNKNOWN_VERDICT);

  private view: DataView = new DataView(new ArrayBuffer(0));

  /** Forgets everything; `buf` is the request the next lookups read. */
  reset(buf: Uint8Array): void {
    this.verdict.fill(UNKNOWN_VERDICT);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  verdictAt(position: number, context: number, group: number, valueType: number, buf: Uint8Array, start: number, end: number): number {
    if (position >= PositionalVerdictMemo.POSITIONS) return UNKNOWN_VERDICT;
    const known = this.verdict[position];
    if (known === UNKNOWN_VERDICT || this.context[position] !== context || this.group[position] !== group || this.valueType[position] !== valueType) return UNKNOWN_VERDICT;
    const knownStart = this.valueStart[position];
    if (this.valueEnd[position] - knownStart !== end - start) return UNKNOWN_VERDICT;
    return rangesEqual(this.view, buf, start, knownStart, end - start) ? known : UNKNOWN_VERDICT;
  }

  remember(position: number, context: number, group: number, valueType: number, start: number, end: number, verdict: number): void {
    if (position >= PositionalVerdictMemo.POSITIONS) return;
    this.context[position] = context;
    this.group[position] = group;
    this.valueType[position] = valueType;
    this.valueStart[position] = start;
    this.valueEnd[position] = end;
    this.verdict[position] = verdict;
  }
}

/**
 * Equal bytes at two offsets of one buffer (`view` over the same memory as `buf`). Four bytes
 * per step through the DataView, which V8 compiles to single loads: about twice as fast as a
 * byte loop on attribute-sized ranges.
 */
function rangesEqual(view: DataView, buf: Uint8Array, x: number, y: number, length: number): boolean {
  let i = 0;
  for (; i + 4 <= length; i += 4) if (view.getUint32(x + i, true) !== view.getUint32(y + i, true)) return false;
  for (; i < length; i++) if (buf[x + i] !== buf[y + i]) return false;
  return true;
}
