/**
 * HyperLogLog distinct counting (Flajolet, Fusy, Gandouet, Meunier 2007) over 64-bit hash pairs,
 * for "how many distinct values does label L of metric M have" without remembering the values.
 *
 * Precision p (10–16) gives m = 2^p one-byte registers; the relative standard error of the
 * estimate is about 1.04/√m (p = 14: 16 KiB, ≈ 0.81 %). The estimate is the raw HLL estimate,
 * replaced by linear counting while it is at most 2.5·m and some register is still zero. The
 * hash is 64 bits wide, so the large-range correction of the 32-bit paper is not needed.
 * Known limit of this estimator: just above the switch (≈ 2.5·m–3·m distinct, 40–50 k at
 * p = 14) the raw estimate is biased upwards — measured +1.6 % on average, up to 4 % — which
 * HyperLogLog++'s bias tables or Ertl's improved estimator would remove.
 *
 * Most labels have few values (status codes, methods), so a sketch starts *sparse*: a small
 * open-addressing map register index → rank that holds exactly the registers a dense array
 * would have set, switching to the dense array once it would reach a quarter of its size.
 * Estimates are identical in both forms; only memory differs.
 */

export const HLL_MIN_PRECISION = 10;
export const HLL_MAX_PRECISION = 16;
export const HLL_DEFAULT_PRECISION = 14;

export interface HyperLogLogOptions {
  /** Register index bits, 10–16 (default 14). */
  readonly precision?: number;
  /** Start in the sparse form (default true). */
  readonly sparse?: boolean;
}

export class HllFormatError extends Error {
  constructor(message: string) {
    super(`HyperLogLog snapshot: ${message}`);
    this.name = 'HllFormatError';
  }
}

/** 2^-k for every rank a register can hold (≤ 64 - 10 + 1). */
const POW2_NEG = Float64Array.from({ length: 66 }, (_, k) => 2 ** -k);

const SPARSE_INITIAL_SLOTS = 16;
const SPARSE_MAX_LOAD = 0.75;

const FORMAT_MAGIC = 0x4c484754; // "TGHL" read as a little-endian uint32
const FORMAT_VERSION = 1;
const FORMAT_HEADER_BYTES = 8;
const ENCODING_DENSE = 0;
const ENCODING_SPARSE = 1;

function checkPrecision(p: number): void {
  if (!Number.isInteger(p) || p < HLL_MIN_PRECISION || p > HLL_MAX_PRECISION) {
    throw new RangeError(`HyperLogLog precision must be an integer in [${HLL_MIN_PRECISION}, ${HLL_MAX_PRECISION}], got ${p}`);
  }
}

/** The relative standard error of an estimate at precision p: 1.04/√(2^p). */
export function hllStandardError(precision: number): number {
  return 1.04 / Math.sqrt(2 ** precision);
}

export class HyperLogLog {
  readonly precision: number;
  /** m = 2^precision. */
  readonly registerCount: number;
  private dense: Uint8Array | null = null;
  /** Sparse slots: ((index + 1) << 8) | rank, 0 = empty. Null once dense. */
  private sparse: Uint32Array | null = null;
  private sparseUsed = 0;
  /** Sparse slot count at which the sparse form (4 bytes a slot) would reach a quarter of the dense size. */
  private readonly sparseMaxSlots: number;

  constructor(options: HyperLogLogOptions = {}) {
    const precision = options.precision ?? HLL_DEFAULT_PRECISION;
    checkPrecision(precision);
    this.precision = precision;
    this.registerCount = 1 << precision;
    this.sparseMaxSlots = this.registerCount >>> 4;
    if (options.sparse === false) this.dense = new Uint8Array(this.registerCount);
    else this.sparse = new Uint32Array(SPARSE_INITIAL_SLOTS);
  }

  /** True while the sketch is in its small sparse form. */
  get isSparse(): boolean {
    return this.dense === null;
  }

  /**
   * Adds a 64-bit hash: the top p bits of `hi` choose the register, and the rank is the
   * position of the first 1 bit in the remaining 64 - p bits (64 - p + 1 if they are all 0).
   */
  add(lo: number, hi: number): void {
    const p = this.precision;
    const index = hi >>> (32 - p);
    const rest = hi << p;
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : 32 - p + Math.clz32(lo) + 1;
    this.raise(index, rank);
  }

  /**
   * Whether adding this hash would raise a register: if it would, the value was certainly never
   * added; if not, it probably was (or shares a register with values of at least its rank,
   * which is rare while the sketch holds far fewer values than it has registers).
   */
  wouldRaise(lo: number, hi: number): boolean {
    const p = this.precision;
    const index = hi >>> (32 - p);
    const rest = hi << p;
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : 32 - p + Math.clz32(lo) + 1;
    return rank > this.register(index);
  }

  /** Estimated number of distinct hashes added. */
  estimate(): number {
    const m = this.registerCount;
    let sum = 0;
    let zeros = 0;
    if (this.dense !== null) {
      const registers = this.dense;
      for (let j = 0; j < m; j++) {
        const r = registers[j];
        sum += POW2_NEG[r];
        if (r === 0) zeros++;
      }
    } else {
      const slots = this.sparse!;
      zeros = m - this.sparseUsed;
      sum = zeros;
      for (let i = 0; i < slots.length; i++) if (slots[i] !== 0) sum += POW2_NEG[slots[i] & 0xff];
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
    return raw;
  }

  /** Folds `other` in: afterwards this sketch is the sketch of the union. */
  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision) throw new RangeError(`cannot merge precision ${other.precision} into ${this.precision}`);
    if (other.dense !== null) {
      const dense = this.toDense();
      const theirs = other.dense;
      for (let j = 0; j < dense.length; j++) if (theirs[j] > dense[j]) dense[j] = theirs[j];
      return;
    }
    const slots = other.sparse!;
    for (let i = 0; i < slots.length; i++) {
      const v = slots[i];
      if (v !== 0) this.raise((v >>> 8) - 1, v & 0xff);
    }
  }

  /** The register values as a dense array (a copy; for tests and inspection). */
  registers(): Uint8Array {
    if (this.dense !== null) return this.dense.slice();
    const out = new Uint8Array(this.registerCount);
    const slots = this.sparse!;
    for (let i = 0; i < slots.length; i++) if (slots[i] !== 0) out[(slots[i] >>> 8) - 1] = slots[i] & 0xff;
    return out;
  }

  memoryBytes(): number {
    return this.dense !== null ? this.dense.byteLength : this.sparse!.byteLength;
  }

  /**
   * Little-endian, version 1: u32 magic "TGHL" · u8 version · u8 precision · u8 encoding
   * (0 dense, 1 sparse) · u8 0 · then dense: m register bytes; sparse: u32 n · n × u32
   * ((index + 1) << 8 | rank).
   */
  serialize(): Uint8Array {
    const dense = this.dense;
    const length = FORMAT_HEADER_BYTES + (dense !== null ? dense.length : 4 + 4 * this.sparseUsed);
    const out = new Uint8Array(length);
    const view = new DataView(out.buffer);
    view.setUint32(0, FORMAT_MAGIC, true);
    out[4] = FORMAT_VERSION;
    out[5] = this.precision;
    out[6] = dense !== null ? ENCODING_DENSE : ENCODING_SPARSE;
    if (dense !== null) {
      out.set(dense, FORMAT_HEADER_BYTES);
      return out;
    }
    view.setUint32(FORMAT_HEADER_BYTES, this.sparseUsed, true);
    let at = FORMAT_HEADER_BYTES + 4;
    for (const v of this.sparse!) {
      if (v === 0) continue;
      view.setUint32(at, v, true);
      at += 4;
    }
    return out;
  }

  /** Restores a snapshot; throws HllFormatError on anything malformed. */
  static deserialize(bytes: Uint8Array): HyperLogLog {
    if (bytes.length < FORMAT_HEADER_BYTES) throw new HllFormatError('shorter than its header');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== FORMAT_MAGIC) throw new HllFormatError('bad magic');
    if (bytes[4] !== FORMAT_VERSION) throw new HllFormatError(`unsupported version ${bytes[4]}`);
    const precision = bytes[5];
    if (precision < HLL_MIN_PRECISION || precision > HLL_MAX_PRECISION) throw new HllFormatError(`precision ${precision} out of range`);
    const encoding = bytes[6];
    const m = 1 << precision;
    const maxRank = 64 - precision + 1;
    if (encoding === ENCODING_DENSE) {
      if (bytes.length !== FORMAT_HEADER_BYTES + m) throw new HllFormatError('dense length does not match the precision');
      const registers = bytes.subarray(FORMAT_HEADER_BYTES);
      for (const r of registers) if (r > maxRank) throw new HllFormatError(`register value ${r} above ${maxRank}`);
      const hll = new HyperLogLog({ precision, sparse: false });
      hll.dense!.set(registers);
      return hll;
    }
    if (encoding !== ENCODING_SPARSE) throw new HllFormatError(`unknown encoding ${encoding}`);
    if (bytes.length < FORMAT_HEADER_BYTES + 4) throw new HllFormatError('truncated sparse header');
    const n = view.getUint32(FORMAT_HEADER_BYTES, true);
    if (bytes.length !== FORMAT_HEADER_BYTES + 4 + 4 * n) throw new HllFormatError(`length does not match ${n} sparse registers`);
    const hll = new HyperLogLog({ precision, sparse: true });
    for (let i = 0; i < n; i++) {
      const v = view.getUint32(FORMAT_HEADER_BYTES + 4 + 4 * i, true);
      const index = (v >>> 8) - 1;
      const rank = v & 0xff;
      if (index < 0 || index >= m || rank < 1 || rank > maxRank) throw new HllFormatError(`bad sparse register ${v}`);
      hll.raise(index, rank);
    }
    return hll;
  }

  // ------------------------------------------------------------------ internals

  /** register[index], in whichever form the sketch is. */
  private register(index: number): number {
    if (this.dense !== null) return this.dense[index];
    const slots = this.sparse!;
    const mask = slots.length - 1;
    const key = index + 1;
    for (let i = index & mask; ; i = (i + 1) & mask) {
      const v = slots[i];
      if (v === 0) return 0;
      if (v >>> 8 === key) return v & 0xff;
    }
  }

  /** register[index] = max(register[index], rank), in whichever form the sketch is. */
  private raise(index: number, rank: number): void {
    const dense = this.dense;
    if (dense !== null) {
      if (rank > dense[index]) dense[index] = rank;
      return;
    }
    const slots = this.sparse!;
    const mask = slots.length - 1;
    const key = index + 1;
    // The index is made of uniformly distributed hash bits, so its low bits spread the slots.
    let i = index & mask;
    for (;;) {
      const v = slots[i];
      if (v === 0) break;
      if (v >>> 8 === key) {
        if (rank > (v & 0xff)) slots[i] = (key << 8) | rank;
        return;
      }
      i = (i + 1) & mask;
    }
    if (this.sparseUsed + 1 > slots.length * SPARSE_MAX_LOAD) {
      if (slots.length * 2 > this.sparseMaxSlots) {
        this.toDense()[index] = rank;
        return;
      }
      this.regrowSparse(slots.length * 2);
      this.raise(index, rank);
      return;
    }
    slots[i] = (key << 8) | rank;
    this.sparseUsed++;
  }

  private regrowSparse(size: number): void {
    const old = this.sparse!;
    const slots = new Uint32Array(size);
    const mask = size - 1;
    for (const v of old) {
      if (v === 0) continue;
      let i = ((v >>> 8) - 1) & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = v;
    }
    this.sparse = slots;
  }

  private toDense(): Uint8Array {
    if (this.dense !== null) return this.dense;
    const dense = new Uint8Array(this.registerCount);
    for (const v of this.sparse!) if (v !== 0) dense[(v >>> 8) - 1] = v & 0xff;
    this.dense = dense;
    this.sparse = null;
    this.sparseUsed = 0;
    return dense;
  }
}

// ------------------------------------------------------------------ bounded registry

export interface LabelTrackersOptions {
  /** Hard cap on how many (team, metric, label) sketches exist. */
  readonly maxTrackers: number;
  readonly precision?: number;
  readonly sparse?: boolean;
}

export interface LabelTrackerEntry {
  readonly team: string;
  readonly metric: string;
  readonly label: string;
  readonly sketch: HyperLogLog;
}

const TRACKERS_MAGIC = 0x544c4754; // "TGLT" read as a little-endian uint32
const TRACKERS_VERSION = 1;

/**
 * The per-(team, metric, label) sketches, bounded: at maxTrackers no new sketch is created,
 * `tracker()` returns undefined and the refusal is counted in `refusals` (one per refused
 * call), so the caller can still enforce series budgets and report that per-label counts are
 * incomplete. Existing sketches keep counting.
 */
export class LabelTrackers {
  readonly maxTrackers: number;
  readonly precision: number;
  /** Calls that would have created a sketch past maxTrackers. */
  refusals = 0;
  private readonly sparse: boolean;
  private readonly byTeam = new Map<string, Map<string, Map<string, HyperLogLog>>>();
  private count = 0;

  constructor(options: LabelTrackersOptions) {
    if (!Number.isInteger(options.maxTrackers) || options.maxTrackers < 0) throw new RangeError(`maxTrackers must be a non-negative integer, got ${options.maxTrackers}`);
    this.maxTrackers = options.maxTrackers;
    this.precision = options.precision ?? HLL_DEFAULT_PRECISION;
    checkPrecision(this.precision);
    this.sparse = options.sparse ?? true;
  }

  get size(): number {
    return this.count;
  }

  /** The sketch for (team, metric, label), created if absent and under the cap; else undefined (counted). */
  tracker(team: string, metric: string, label: string): HyperLogLog | undefined {
    const existing = this.get(team, metric, label);
    if (existing !== undefined) return existing;
    if (this.count >= this.maxTrackers) {
      this.refusals++;
      return undefined;
    }
    const sketch = new HyperLogLog({ precision: this.precision, sparse: this.sparse });
    this.put(team, metric, label, sketch);
    return sketch;
  }

  /** The sketch if it exists; never creates one. */
  get(team: string, metric: string, label: string): HyperLogLog | undefined {
    return this.byTeam.get(team)?.get(metric)?.get(label);
  }

  /** Removes one sketch; returns whether it existed. */
  delete(team: string, metric: string, label: string): boolean {
    const metrics = this.byTeam.get(team);
    const labels = metrics?.get(metric);
    if (labels === undefined || !labels.delete(label)) return false;
    this.count--;
    if (labels.size === 0) metrics!.delete(metric);
    if (metrics!.size === 0) this.byTeam.delete(team);
    return true;
  }

  /** Every sketch (allocates; for reports and snapshots). */
  entries(): LabelTrackerEntry[] {
    const out: LabelTrackerEntry[] = [];
    for (const [team, metrics] of this.byTeam) {
      for (const [metric, labels] of metrics) for (const [label, sketch] of labels) out.push({ team, metric, label, sketch });
    }
    return out;
  }

  /** Bytes held in the sketches' registers (the Map overhead is not counted). */
  memoryBytes(): number {
    let bytes = 0;
    for (const entry of this.entries()) bytes += entry.sketch.memoryBytes();
    return bytes;
  }

  /**
   * Little-endian, version 1: u32 magic "TGLT" · u32 version · u32 count · count × { team,
   * metric, label as u32 byte length + UTF-8 · u32 sketch length + HyperLogLog.serialize() }.
   */
  serialize(): Uint8Array {
    const encoder = new TextEncoder();
    const parts: Uint8Array[] = [];
    const u32 = (value: number): Uint8Array => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, value, true);
      return b;
    };
    const entries = this.entries();
    parts.push(u32(TRACKERS_MAGIC), u32(TRACKERS_VERSION), u32(entries.length));
    for (const { team, metric, label, sketch } of entries) {
      for (const text of [team, metric, label]) {
        const bytes = encoder.encode(text);
        parts.push(u32(bytes.length), bytes);
      }
      const bytes = sketch.serialize();
      parts.push(u32(bytes.length), bytes);
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /**
   * Restores a snapshot into a registry with the given options (the cap may have changed:
   * sketches beyond it are not restored and count as refusals). Sketches of another precision
   * than options.precision are rejected. Throws HllFormatError on malformed input.
   */
  static deserialize(bytes: Uint8Array, options: LabelTrackersOptions): LabelTrackers {
    const trackers = new LabelTrackers(options);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let at = 0;
    const u32 = (): number => {
      if (at + 4 > bytes.length) throw new HllFormatError('truncated tracker registry');
      const value = view.getUint32(at, true);
      at += 4;
      return value;
    };
    const chunk = (): Uint8Array => {
      const length = u32();
      if (at + length > bytes.length) throw new HllFormatError('truncated tracker registry');
      const part = bytes.subarray(at, at + length);
      at += length;
      return part;
    };
    const text = (): string => {
      try {
        return decoder.decode(chunk());
      } catch (error) {
        if (error instanceof HllFormatError) throw error;
        throw new HllFormatError('tracker name is not UTF-8');
      }
    };
    if (u32() !== TRACKERS_MAGIC) throw new HllFormatError('bad tracker registry magic');
    const version = u32();
    if (version !== TRACKERS_VERSION) throw new HllFormatError(`unsupported tracker registry version ${version}`);
    const count = u32();
    for (let i = 0; i < count; i++) {
      const team = text();
      const metric = text();
      const label = text();
      const sketch = HyperLogLog.deserialize(chunk());
      if (sketch.precision !== trackers.precision) throw new HllFormatError(`sketch precision ${sketch.precision} differs from ${trackers.precision}`);
      if (trackers.get(team, metric, label) !== undefined) throw new HllFormatError('duplicate tracker');
      if (trackers.count >= trackers.maxTrackers) trackers.refusals++;
      else trackers.put(team, metric, label, sketch);
    }
    if (at !== bytes.length) throw new HllFormatError('trailing bytes after the tracker registry');
    return trackers;
  }

  private put(team: string, metric: string, label: string, sketch: HyperLogLog): void {
    let metrics = this.byTeam.get(team);
    if (metrics === undefined) this.byTeam.set(team, (metrics = new Map()));
    let labels = metrics.get(metric);
    if (labels === undefined) metrics.set(metric, (labels = new Map()));
    labels.set(label, sketch);
    this.count++;
  }
}
