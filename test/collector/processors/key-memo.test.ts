import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PositionalKeyMemo } from '../../../collector/processors/attribute-policy/key-cache.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('the positional memo answers only for the same key bytes at the same position, within one request', () => {
  const buf = bytes('user_id|user_id|user_ix|user_i|route');
  const memo = new PositionalKeyMemo();
  memo.reset(buf);
  assert.equal(memo.decisionAt(0, buf, 0, 7), -1, 'nothing remembered yet');
  memo.remember(0, 0, 7, 5);
  assert.equal(memo.decisionAt(0, buf, 8, 15), 5, 'the same key later in the buffer');
  assert.equal(memo.decisionAt(0, buf, 16, 23), -1, 'same length, different last byte');
  assert.equal(memo.decisionAt(0, buf, 24, 30), -1, 'a prefix of the key');
  assert.equal(memo.decisionAt(1, buf, 8, 15), -1, 'another position');
  memo.remember(0, 31, 36, 0);
  assert.equal(memo.decisionAt(0, buf, 31, 36), 0, 'decision 0 (no policy) is remembered too');
  memo.reset(buf);
  assert.equal(memo.decisionAt(0, buf, 31, 36), -1, 'reset forgets: offsets of another request mean nothing');
  memo.remember(1000, 0, 7, 3);
  assert.equal(memo.decisionAt(1000, buf, 0, 7), -1, 'positions past the memo are not remembered');
});
