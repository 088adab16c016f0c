// Protobuf wire primitives shared by the scanner, the rewriter, the object codec and the
// status encoder. Readers never throw anything but WireError, so a receiver can turn any
// malformed input into one clean 400 / INVALID_ARGUMENT.

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

export class WireError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'WireError';
  }
}

export interface Cursor {
  pos: number;
}

/**
 * Reads an unsigned varint as a JS number, advancing `cursor.pos`. Exact up to 2^53; larger
 * values (uint64 fields we never do arithmetic on) lose precision, so callers that need them
 * exactly use readVarintBig.
 */
export function readVarint(buf: Uint8Array, cursor: Cursor, end: number): number {
  let pos = cursor.pos;
  let b = pos < end ? buf[pos++] : -1;
  if (b < 0) throw new WireError('truncated varint', pos);
  if (b < 0x80) {
    cursor.pos = pos;
    return b;
  }
  let value = b & 0x7f;
  let shift = 7;
  let multiplier = 128;
  for (let i = 1; i < 10; i++) {
    if (pos >= end) throw new WireError('truncated varint', pos);
    b = buf[pos++];
    if (shift < 28) value |= (b & 0x7f) << shift;
    else value += (b & 0x7f) * multiplier;
    if (b < 0x80) {
      cursor.pos = pos;
      return value;
    }
    shift += 7;
    multiplier *= 128;
  }
  throw new WireError('varint longer than 10 bytes', cursor.pos);
}

/** Skips a varint without decoding it; returns the position after it. */
export function skipVarint(buf: Uint8Array, pos: number, end: number): number {
  const start = pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new WireError('truncated varint', pos);
    if (buf[pos++] < 0x80) return pos;
  }
  throw new WireError('varint longer than 10 bytes', start);
}

/** Reads a varint as a BigInt (for int64/uint64 fields decoded into objects). */
export function readVarintBig(buf: Uint8Array, cursor: Cursor, end: number): bigint {
  let pos = cursor.pos;
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new WireError('truncated varint', pos);
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) {
      cursor.pos = pos;
      return BigInt.asUintN(64, result);
    }
    shift += 7n;
  }
  throw new WireError('varint longer than 10 bytes', cursor.pos);
}

/**
 * Skips one field's value of the given wire type starting at `pos`; returns the end position.
 * Groups are rejected: OTLP never uses them and they would let input nest without a length.
 */
export function skipField(buf: Uint8Array, wireType: number, pos: number, end: number): number {
  switch (wireType) {
    case WIRE_VARINT:
      return skipVarint(buf, pos, end);
    case WIRE_I64:
      if (pos + 8 > end) throw new WireError('truncated fixed64', pos);
      return pos + 8;
    case WIRE_I32:
      if (pos + 4 > end) throw new WireError('truncated fixed32', pos);
      return pos + 4;
    case WIRE_LEN: {
      const cursor = { pos };
      const len = readVarint(buf, cursor, end);
      const stop = cursor.pos + len;
      if (stop > end) throw new WireError('length past the end of its message', pos);
      return stop;
    }
    case WIRE_SGROUP:
    case WIRE_EGROUP:
      throw new WireError('group wire type is not supported', pos);
    default:
      throw new WireError(`invalid wire type ${wireType}`, pos);
  }
}

/** Little-endian fixed64 as a JS number (exact below 2^53; timestamps in ns fit until 2255). */
export function readFixed64Number(buf: Uint8Array, pos: number): number {
  const lo = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
  const hi = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16) | (buf[pos + 7] << 24)) >>> 0;
  return hi * 4294967296 + lo;
}

export function readFixed64Big(buf: Uint8Array, pos: number): bigint {
  const lo = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
  const hi = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16) | (buf[pos + 7] << 24)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function readFixed32(buf: Uint8Array, pos: number): number {
  return (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

export function readDouble(buf: Uint8Array, pos: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = buf[pos + i];
  return f64[0];
}

export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  let v = Math.floor(value / 0x800000000);
  while (v > 0) {
    size++;
    v = Math.floor(v / 128);
  }
  return size;
}

/** Writes an unsigned varint (value < 2^53) into `out` at `pos`; returns the new position. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value = value >= 0x100000000 ? Math.floor(value / 128) : value >>> 7;
  }
  out[pos++] = value;
  return pos;
}

/**
 * A growable byte writer for encoding messages that processors or the object codec create.
 * Nested messages are written with `fork()` / `join(field)`, which reserves no space up front:
 * the child's bytes are built in place and shifted once its length is known.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;
  private readonly forks: number[] = [];

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  varint(value: number): this {
    this.ensure(10);
    this.pos = writeVarint(this.buf, this.pos, value);
    return this;
  }

  /** Unsigned or two's-complement 64-bit varint from a bigint. */
  varintBig(value: bigint): this {
    let v = BigInt.asUintN(64, value);
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  fixed64(value: bigint): this {
    const v = BigInt.asUintN(64, value);
    this.ensure(8);
    const lo = Number(v & 0xffffffffn);
    const hi = Number(v >> 32n);
    this.fixed32raw(lo);
    this.fixed32raw(hi);
    return this;
  }

  fixed32(value: number): this {
    this.ensure(4);
    this.fixed32raw(value >>> 0);
    return this;
  }

  private fixed32raw(v: number): void {
    this.buf[this.pos++] = v & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 24) & 0xff;
  }

  double(value: number): this {
    this.ensure(8);
    f64[0] = value;
    this.buf.set(f64Bytes, this.pos);
    this.pos += 8;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.varint(data.length);
    this.raw(data);
    return this;
  }

  string(value: string): this {
    return this.bytes(Buffer.from(value, 'utf8'));
  }

  raw(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** Starts a length-delimited child; call `join(field)` when it is complete. */
  fork(): this {
    this.forks.push(this.pos);
    return this;
  }

  /** Ends the child begun by the matching `fork()`, writing its tag and length before it. */
  join(field: number): this {
    const start = this.forks.pop();
    if (start === undefined) throw new Error('join() without fork()');
    const len = this.pos - start;
    const header = new Uint8Array(20);
    let h = writeVarint(header, 0, field * 8 + WIRE_LEN);
    h = writeVarint(header, h, len);
    this.ensure(h);
    this.buf.copyWithin(start + h, start, this.pos);
    this.buf.set(header.subarray(0, h), start);
    this.pos += h;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** The fields of the message in buf[start, end) but those numbered `field`, as they were. */
export function fieldsExcept(buf: Uint8Array, start: number, end: number, field: number): Uint8Array {
  const out = new ByteWriter(end - start);
  const cursor = { pos: start };
  while (cursor.pos < end) {
    const fieldStart = cursor.pos;
    const tag = readVarint(buf, cursor, end);
    const fieldEnd = skipField(buf, tag & 7, cursor.pos, end);
    if (tag >>> 3 !== field) out.raw(buf.subarray(fieldStart, fieldEnd));
    cursor.pos = fieldEnd;
  }
  return out.finish();
}
