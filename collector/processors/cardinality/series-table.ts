/**
 * The set of active series of one budget scope: 64-bit series ids (two uint32 halves), each with
 * the time it was last seen and the metric it belongs to, so "active" can mean "seen within the
 * window" and per-metric counts stay exact on insert and on expiry.
 *
 * Layout (typed arrays only, nothing allocated per series):
 *   - `entries`: a dense Uint32Array of 4 words per series — lo, hi, lastSeen, metricRef.
 *   - `slots`:   an open-addressing (linear probing) index over the entries, one uint32 per
 *     slot: the entry number + 1 in the low `indexBits`, and the top bits of `hi` as a tag in
 *     the rest (0 = empty slot).
 *
 * Why two levels rather than one wide slot array: a 16-byte slot at load 0.375–0.75 costs
 * 21–43 bytes per series (33.5 at exactly 1 M series, since 2^20 slots would be over 0.75),
 * above the 32-byte target; a 4-byte slot plus a 16-byte dense entry grown by a quarter at a
 * time costs 21–31 bytes once the table is past its initial allocation (24.9 at 1 M). The tag
 * lets a probe skip nearly every foreign slot without touching its entry, so a hit costs one
 * slot read and one entry read. The dense entries also make a sweep a sequential scan, and
 * give serialization a ready-made byte layout. Storage never shrinks: it is bounded by
 * maxEntries, and a table that was once that full is likely to be again.
 *
 * Time: lastSeen is whole seconds since the Unix epoch (the `now` arguments are milliseconds
 * since the epoch, from the injected clock). A uint32 holds that until 2106-02-07.
 */

/** Hard ceiling on maxEntries: keeps at least 5 tag bits beside the entry number in a slot. */
export const SERIES_TABLE_MAX_ENTRIES = 1 << 26;
/** metricRef must be below this (the per-metric count array grows to the largest ref seen). */
export const SERIES_TABLE_MAX_METRIC_REFS = 1 << 24;

export type InsertResult = 'inserted' | 'present' | 'full';

export interface SeriesTableOptions {
  /** Hard cap on tracked series; inserts beyond it return 'full'. 1 ≤ maxEntries ≤ 2^26. */
  readonly maxEntries: number;
  /** Series to size the table for at creation (default 1024, never above maxEntries). */
  readonly initialEntries?: number;
}

/** Called once per metricRef that lost series in a sweep. */
export type ExpiredCallback = (metricRef: number, removed: number) => void;

export class SeriesTableFormatError extends Error {
  constructor(message: string) {
    super(`series table snapshot: ${message}`);
    this.name = 'SeriesTableFormatError';
  }
}

const STRIDE = 4;
const MAX_LOAD = 0.75;
/**
 * Entry storage grows by a quarter, not by doubling: it is not hashed, so a small step only
 * costs more (cheap, sequential) copies, and it keeps the slack under the byte target.
 */
const ENTRY_GROWTH = 1.25;
const MIN_SLOTS = 16;
const DEFAULT_INITIAL_ENTRIES = 1024;

const FORMAT_MAGIC = 0x54534754; // "TGST" read as a little-endian uint32
const FORMAT_VERSION = 1;
const FORMAT_HEADER_BYTES = 16;
const FORMAT_ENTRY_BYTES = STRIDE * 4;

/** Whole seconds since the epoch for a millisecond clock reading, clamped to uint32. */
export function toSeenSeconds(nowMs: number): number {
  const seconds = Math.floor(nowMs / 1000);
  return seconds <= 0 ? 0 : seconds >= 0xffffffff ? 0xffffffff : seconds;
}

/** Smallest power of two ≥ n (n ≥ 1). */
function powerOfTwoAtLeast(n: number): number {
  let p = MIN_SLOTS;
  while (p < n) p *= 2;
  return p;
}

/** Slot count that keeps `entries` series at or under the maximum load. */
function slotsFor(entries: number): number {
  return powerOfTwoAtLeast(Math.ceil(entries / MAX_LOAD));
}

export class SeriesTable {
  readonly maxEntries: number;
  /** Inserts refused because the table held maxEntries series (the explicit "full" outcome). */
  fullRefusals = 0;
  /** Snapshot entries not restored because the snapshot held more than maxEntries (see deserialize). */
  droppedOnRestore = 0;

  private readonly indexBits: number;
  private readonly indexMask: number;
  private readonly maxSlots: number;
  private slots: Uint32Array;
  private mask: number;
  private entries: Uint32Array;
  private count = 0;
  private metricCounts: Uint32Array;
  /** Sweep scratch: removals per metricRef, and which refs were touched (reset after each sweep). */
  private sweepRemoved: Uint32Array = new Uint32Array(0);
  private sweepTouched: Uint32Array = new Uint32Array(0);

  constructor(options: SeriesTableOptions) {
    const { maxEntries } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > SERIES_TABLE_MAX_ENTRIES) {
      throw new RangeError(`maxEntries must be an integer in [1, ${SERIES_TABLE_MAX_ENTRIES}], got ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
    // Entry numbers + 1 go up to maxEntries; whatever bits remain above them hold the tag.
    this.indexBits = 32 - Math.clz32(maxEntries);
    this.indexMask = (1 << this.indexBits) - 1;
    this.maxSlots = slotsFor(maxEntries);
    const initial = Math.max(1, Math.min(maxEntries, options.initialEntries ?? DEFAULT_INITIAL_ENTRIES));
    this.slots = new Uint32Array(slotsFor(initial));
    this.mask = this.slots.length - 1;
    this.entries = new Uint32Array(initial * STRIDE);
    this.metricCounts = new Uint32Array(16);
  }

  /** Series currently tracked. */
  get size(): number {
    return this.count;
  }

  /** Slots in the hash index (a power of two; load = size / capacity ≤ 0.75). */
  get capacity(): number {
    return this.slots.length;
  }

  /** Series tracked for one metricRef. */
  countFor(metricRef: number): number {
    return metricRef >= 0 && metricRef < this.metricCounts.length ? this.metricCounts[metricRef] : 0;
  }

  /** Is the series tracked? Does not refresh it. */
  has(lo: number, hi: number): boolean {
    return this.findSlot(lo >>> 0, hi >>> 0) >= 0;
  }

  /** If the series is tracked, marks it seen at `nowMs` and returns true. */
  touch(lo: number, hi: number, nowMs: number): boolean {
    const slot = this.findSlot(lo >>> 0, hi >>> 0);
    if (slot < 0) return false;
    this.markSeen((this.slots[slot] & this.indexMask) - 1, toSeenSeconds(nowMs));
    return true;
  }

  /** Last-seen second of a tracked series, or -1. */
  lastSeenSeconds(lo: number, hi: number): number {
    const slot = this.findSlot(lo >>> 0, hi >>> 0);
    return slot < 0 ? -1 : this.entries[((this.slots[slot] & this.indexMask) - 1) * STRIDE + 2];
  }

  /**
   * Tracks a new series of `metricRef` seen at `nowMs`. A series already tracked is only
   * touched ('present'); a new one is refused with 'full' — and counted — at maxEntries.
   */
  insert(lo: number, hi: number, metricRef: number, nowMs: number): InsertResult {
    return this.insertSeconds(lo >>> 0, hi >>> 0, metricRef, toSeenSeconds(nowMs));
  }

  /**
   * Removes every series not seen within `windowMs` before `nowMs` and returns how many went.
   * At one-second resolution: a series seen within the window is never removed, and one last
   * seen more than windowMs + 1 s ago always is. `onExpired` hears each metricRef's removals.
   */
  sweep(nowMs: number, windowMs: number, onExpired?: ExpiredCallback): number {
    const cutoff = Math.floor((nowMs - windowMs) / 1000);
    this.prepareSweepScratch();
    let touched = 0;
    let removed = 0;
    let e = 0;
    while (e < this.count) {
      const at = e * STRIDE;
      if (this.entries[at + 2] >= cutoff) {
        e++;
        continue;
      }
      const ref = this.entries[at + 3];
      if (this.sweepRemoved[ref]++ === 0) this.sweepTouched[touched++] = ref;
      // Removal moves the last entry into `e`, so `e` is examined again.
      this.removeEntry(e);
      removed++;
    }
    for (let i = 0; i < touched; i++) {
      const ref = this.sweepTouched[i];
      const n = this.sweepRemoved[ref];
      this.sweepRemoved[ref] = 0;
      onExpired?.(ref, n);
    }
    return removed;
  }

  /** Bytes held in this table's typed arrays. */
  memoryBytes(): number {
    return this.slots.byteLength + this.entries.byteLength + this.metricCounts.byteLength + this.sweepRemoved.byteLength + this.sweepTouched.byteLength;
  }

  /** Calls `visit` for every tracked series (order unspecified). For snapshots, reports and tests. */
  forEach(visit: (lo: number, hi: number, metricRef: number, lastSeenSeconds: number) => void): void {
    const entries = this.entries;
    for (let e = 0; e < this.count; e++) {
      const at = e * STRIDE;
      visit(entries[at], entries[at + 1], entries[at + 3], entries[at + 2]);
    }
  }

  /**
   * Snapshot, little-endian, version 1:
   *   u32 magic "TGST" · u16 version · u16 bytes per entry (16) · u32 maxEntries · u32 count ·
   *   count × { u32 lo · u32 hi · u32 lastSeen (epoch seconds) · u32 metricRef }.
   * metricRefs mean something only with the metric registry they index; persist it alongside.
   */
  serialize(): Uint8Array {
    const out = new Uint8Array(FORMAT_HEADER_BYTES + this.count * FORMAT_ENTRY_BYTES);
    const view = new DataView(out.buffer);
    view.setUint32(0, FORMAT_MAGIC, true);
    view.setUint16(4, FORMAT_VERSION, true);
    view.setUint16(6, FORMAT_ENTRY_BYTES, true);
    view.setUint32(8, this.maxEntries, true);
    view.setUint32(12, this.count, true);
    const words = this.count * STRIDE;
    for (let w = 0; w < words; w++) view.setUint32(FORMAT_HEADER_BYTES + w * 4, this.entries[w], true);
    return out;
  }

  /**
   * Restores a snapshot. `maxEntries` overrides the snapshot's cap (the budget may have changed
   * since); entries beyond the cap are not restored and are counted in droppedOnRestore.
   * Throws SeriesTableFormatError on anything that is not a well-formed snapshot.
   */
  static deserialize(bytes: Uint8Array, options: { readonly maxEntries?: number } = {}): SeriesTable {
    if (bytes.length < FORMAT_HEADER_BYTES) throw new SeriesTableFormatError('shorter than its header');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== FORMAT_MAGIC) throw new SeriesTableFormatError('bad magic');
    const version = view.getUint16(4, true);
    if (version !== FORMAT_VERSION) throw new SeriesTableFormatError(`unsupported version ${version}`);
    if (view.getUint16(6, true) !== FORMAT_ENTRY_BYTES) throw new SeriesTableFormatError('unexpected entry size');
    const count = view.getUint32(12, true);
    if (bytes.length !== FORMAT_HEADER_BYTES + count * FORMAT_ENTRY_BYTES) throw new SeriesTableFormatError(`length does not match ${count} entries`);
    const maxEntries = options.maxEntries ?? view.getUint32(8, true);
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > SERIES_TABLE_MAX_ENTRIES) {
      throw new SeriesTableFormatError(`maxEntries ${maxEntries} out of range`);
    }
    const restored = Math.min(count, maxEntries);
    const table = new SeriesTable({ maxEntries, initialEntries: restored });
    for (let e = 0; e < restored; e++) {
      const at = FORMAT_HEADER_BYTES + e * FORMAT_ENTRY_BYTES;
      const metricRef = view.getUint32(at + 12, true);
      if (metricRef >= SERIES_TABLE_MAX_METRIC_REFS) throw new SeriesTableFormatError(`metricRef ${metricRef} out of range`);
      const result = table.insertSeconds(view.getUint32(at, true), view.getUint32(at + 4, true), metricRef, view.getUint32(at + 8, true));
      if (result !== 'inserted') throw new SeriesTableFormatError('duplicate series id');
    }
    table.droppedOnRestore = count - restored;
    return table;
  }

  // ------------------------------------------------------------------ internals

  /** The slot holding (lo, hi) — both already uint32 — or -1. */
  private findSlot(lo: number, hi: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const indexBits = this.indexBits;
    const tag = hi >>> indexBits;
    let i = lo & mask;
    for (;;) {
      const v = slots[i];
      if (v === 0) return -1;
      if (v >>> indexBits === tag) {
        const at = ((v & this.indexMask) - 1) * STRIDE;
        if (this.entries[at] === lo && this.entries[at + 1] === hi) return i;
      }
      i = (i + 1) & mask;
    }
  }

  /** The first empty slot on the probe path of `lo` (the caller knows the key is absent). */
  private emptySlotFor(lo: number): number {
    let i = lo & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    return i;
  }

  /** The slot that points at entry `e`. */
  private slotOfEntry(e: number): number {
    const ref = e + 1;
    let i = this.entries[e * STRIDE] & this.mask;
    while ((this.slots[i] & this.indexMask) !== ref) i = (i + 1) & this.mask;
    return i;
  }

  private markSeen(e: number, seconds: number): void {
    const at = e * STRIDE + 2;
    // Never move backwards: a late or out-of-order reading must not shorten a series' life.
    if (seconds > this.entries[at]) this.entries[at] = seconds;
  }

  private insertSeconds(lo: number, hi: number, metricRef: number, seconds: number): InsertResult {
    if (!Number.isInteger(metricRef) || metricRef < 0 || metricRef >= SERIES_TABLE_MAX_METRIC_REFS) {
      throw new RangeError(`metricRef must be an integer in [0, ${SERIES_TABLE_MAX_METRIC_REFS}), got ${metricRef}`);
    }
    const found = this.findSlot(lo, hi);
    if (found >= 0) {
      this.markSeen((this.slots[found] & this.indexMask) - 1, seconds);
      return 'present';
    }
    if (this.count >= this.maxEntries) {
      this.fullRefusals++;
      return 'full';
    }
    const e = this.count;
    if ((e + 1) * STRIDE > this.entries.length) this.growEntries();
    if (e + 1 > this.slots.length * MAX_LOAD && this.slots.length < this.maxSlots) this.growSlots();
    if (metricRef >= this.metricCounts.length) this.growMetricCounts(metricRef + 1);
    const at = e * STRIDE;
    this.entries[at] = lo;
    this.entries[at + 1] = hi;
    this.entries[at + 2] = seconds;
    this.entries[at + 3] = metricRef;
    this.slots[this.emptySlotFor(lo)] = ((hi >>> this.indexBits) << this.indexBits) | (e + 1);
    this.metricCounts[metricRef]++;
    this.count = e + 1;
    return 'inserted';
  }

  private growEntries(): void {
    const current = this.entries.length / STRIDE;
    const next = Math.min(this.maxEntries, Math.max(current + 1, Math.ceil(current * ENTRY_GROWTH)));
    const entries = new Uint32Array(next * STRIDE);
    entries.set(this.entries);
    this.entries = entries;
  }

  /** Doubles the index and re-places every entry (entries themselves do not move). */
  private growSlots(): void {
    this.slots = new Uint32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      const at = e * STRIDE;
      this.slots[this.emptySlotFor(this.entries[at])] = ((this.entries[at + 1] >>> this.indexBits) << this.indexBits) | (e + 1);
    }
  }

  private growMetricCounts(size: number): void {
    let length = this.metricCounts.length * 2;
    while (length < size) length *= 2;
    const next = new Uint32Array(length);
    next.set(this.metricCounts);
    this.metricCounts = next;
  }

  private prepareSweepScratch(): void {
    if (this.sweepRemoved.length === this.metricCounts.length) return;
    this.sweepRemoved = new Uint32Array(this.metricCounts.length);
    this.sweepTouched = new Uint32Array(this.metricCounts.length);
  }

  /** Removes entry `e`: empties its slot, then moves the last entry into its place. */
  private removeEntry(e: number): void {
    this.deleteSlot(this.slotOfEntry(e));
    this.metricCounts[this.entries[e * STRIDE + 3]]--;
    const last = this.count - 1;
    if (e !== last) {
      // Found after the deletion above, which may have shifted the last entry's slot.
      const slot = this.slotOfEntry(last);
      this.entries.copyWithin(e * STRIDE, last * STRIDE, last * STRIDE + STRIDE);
      this.slots[slot] = (this.slots[slot] & ~this.indexMask) | (e + 1);
    }
    this.count = last;
  }

  /**
   * Backward-shift deletion: walks the cluster after the hole and pulls back every entry whose
   * probe path passes through the hole, so no tombstones are needed and lookups stay correct.
   * Distances are taken modulo the table size, which makes it correct across the wrap-around.
   */
  private deleteSlot(slot: number): void {
    const mask = this.mask;
    let hole = slot;
    let i = (slot + 1) & mask;
    for (;;) {
      const v = this.slots[i];
      if (v === 0) break;
      const home = this.entries[((v & this.indexMask) - 1) * STRIDE] & mask;
      // The entry at i may fill the hole iff the hole lies on its path home → i.
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        this.slots[hole] = v;
        hole = i;
      }
      i = (i + 1) & mask;
    }
    this.slots[hole] = 0;
  }
}
