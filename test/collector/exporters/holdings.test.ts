import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHoldings } from '../../../collector/exporters/holdings.js';
import type { ExportRequest } from '../../../collector/pipeline/contracts.js';

const request = (bytes: number, items = 1): ExportRequest => ({ signal: 'metrics', body: new Uint8Array(bytes), items });

void test('holdings refuse past the request count or the byte budget, take an oversized request alone, and count items', () => {
  const held = createHoldings({ maxQueuedRequests: 2, maxInFlightBytes: 100 });
  const huge = request(500, 7);
  assert.equal(held.refusal(huge), undefined, 'alone, a request over the byte budget is still taken');
  held.take(huge);
  assert.equal(held.refusal(request(1)), 'queue full (1/2 requests, 500/100 bytes)');
  held.release(huge);

  const a = request(60, 3);
  held.take(a);
  assert.equal(held.refusal(request(41)), 'queue full (1/2 requests, 60/100 bytes)');
  const b = request(40, 4);
  assert.equal(held.refusal(b), undefined);
  held.take(b);
  assert.equal(held.items, 7);
  assert.equal(held.refusal(request(0)), 'queue full (2/2 requests, 100/100 bytes)');
  held.release(a);
  held.release(b);
  assert.equal(held.items, 0);
  assert.equal(held.refusal(request(100)), undefined);
});
