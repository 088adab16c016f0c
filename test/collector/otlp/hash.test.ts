import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesEqual, hashBytes } from '../../../collector/otlp/hash.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('MurmurHash3 x86_32 matches the published test vectors', () => {
  // Vectors from the algorithm's reference implementation (SMHasher), seed 0 and 0x9747b28c.
  assert.equal(hashBytes(bytes(''), 0, 0, 0), 0);
  assert.equal(hashBytes(bytes(''), 0, 0, 1), 0x514e28b7);
  assert.equal(hashBytes(bytes('a'), 0, 1, 0x9747b28c), 0x7fa09ea6);
  assert.equal(hashBytes(bytes('abc'), 0, 3, 0x9747b28c), 0xc84a62dd);
  assert.equal(hashBytes(bytes('abcd'), 0, 4, 0x9747b28c), 0xf0478627);
  assert.equal(hashBytes(bytes('Hello, world!'), 0, 13, 0x9747b28c), 0x24884cba);
  assert.equal(hashBytes(bytes('The quick brown fox jumps over the lazy dog'), 0, 43, 0x9747b28c), 0x2fa826cd);
});

test('a range hashes the same wherever it sits in a buffer', () => {
  const inner = bytes('user_id');
  const outer = bytes('xxuser_idyy');
  assert.equal(hashBytes(outer, 2, 9, 7), hashBytes(inner, 0, inner.length, 7));
  assert.ok(bytesEqual(outer, 2, 9, inner, 0, inner.length));
  assert.ok(!bytesEqual(outer, 2, 8, inner, 0, inner.length));
});
