import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter, readVarint, skipField, varintSize, WireError, WIRE_LEN } from '../../../collector/otlp/wire.js';

test('varints round-trip across size boundaries', () => {
  for (const value of [0, 1, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 35 + 7, 2 ** 53 - 1]) {
    const bytes = new ByteWriter().varint(value).finish();
    assert.equal(bytes.length, varintSize(value), `size of ${value}`);
    const cursor = { pos: 0 };
    assert.equal(readVarint(bytes, cursor, bytes.length), value);
    assert.equal(cursor.pos, bytes.length);
  }
});

test('a truncated varint and an overlong varint are wire errors', () => {
  assert.throws(() => readVarint(Uint8Array.of(0x80, 0x80), { pos: 0 }, 2), WireError);
  assert.throws(() => readVarint(new Uint8Array(11).fill(0x80), { pos: 0 }, 11), /longer than 10 bytes/);
});

test('a length past the end and group wire types are rejected', () => {
  assert.throws(() => skipField(Uint8Array.of(5, 1, 2), WIRE_LEN, 0, 3), /past the end/);
  assert.throws(() => skipField(Uint8Array.of(0), 3, 0, 1), /group/);
});

test('fork/join writes nested lengths', () => {
  const bytes = new ByteWriter(2).fork().string('x'.repeat(200)).join(1).finish();
  // tag 0x0a, length 203 (2 bytes: string tag-less here is length 200 + 2-byte length prefix)
  assert.equal(bytes[0], 0x0a);
  const cursor = { pos: 1 };
  assert.equal(readVarint(bytes, cursor, bytes.length), 202);
  assert.equal(bytes.length, 1 + 2 + 202);
});
