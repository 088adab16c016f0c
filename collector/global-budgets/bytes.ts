/**
 * The little binary toolkit of the global-budget messages: unsigned varints (LEB128, up to
 * 2^53 − 1 so every JavaScript safe integer round-trips), length-prefixed UTF-8 strings and raw
 * bytes. Readers throw GlobalFormatError on anything truncated or out of range, so a corrupt
 * Kafka message is refused as a whole and never half-applied.
 */

export class GlobalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GlobalFormatError';
  }
}

const utf8 = new TextEncoder();

/** Appends to a growing buffer; `finish()` returns the bytes written. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  u8(value: number): void {
    this.room(1);
    this.buf[this.at++] = value & 0xff;
  }

  /** An unsigned varint; arithmetic rather than bit operations so values past 2^32 survive. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint must be a non-negative safe integer, got ${value}`);
    this.room(8);
    let rest = value;
    while (rest >= 0x80) {
      this.buf[this.at++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buf[this.at++] = rest;
  }

  bytes(value: Uint8Array): void {
    this.room(value.length);
    this.buf.set(value, this.at);
    this.at += value.length;
  }

  string(value: string): void {
    const encoded = utf8.encode(value);
    this.varint(encoded.length);
    this.bytes(encoded);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class ByteReader {
  private at = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.at === this.buf.length;
  }

  fail(message: string): never {
    throw new GlobalFormatError(`${this.what}: ${message}`);
  }

  u8(): number {
    if (this.at >= this.buf.length) this.fail('truncated');
    return this.buf[this.at++];
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) this.fail('varint beyond 2^53');
        return value;
      }
      scale *= 0x80;
    }
    return this.fail('varint longer than 8 bytes');
  }

  bytes(length: number): Uint8Array {
    if (this.at + length > this.buf.length) this.fail('truncated');
    const out = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  string(): string {
    const bytes = this.bytes(this.varint());
    try {
      return strictUtf8.decode(bytes);
    } catch {
      return this.fail('a string is not UTF-8');
    }
  }

  /** The 4-byte magic and the version byte every message starts with. */
  header(magic: string, version: number): void {
    const found = String.fromCharCode(...this.bytes(4));
    if (found !== magic) this.fail(`bad magic (expected ${magic})`);
    const v = this.u8();
    if (v !== version) this.fail(`unsupported version ${v} (this build reads ${version})`);
  }

  end(): void {
    if (!this.done) this.fail(`${this.buf.length - this.at} trailing bytes`);
  }
}

export function writeHeader(writer: ByteWriter, magic: string, version: number): void {
  for (let i = 0; i < 4; i++) writer.u8(magic.charCodeAt(i));
  writer.u8(version);
}
