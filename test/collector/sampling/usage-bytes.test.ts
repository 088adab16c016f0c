// The sampler reports the bytes of what it kept and dropped, per team: the usage store's "bytes in
// and kept" come from here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { varintSize } from '../../../collector/otlp/wire.js';
import { createSampler, RULES_YAML, SHOP, span, traceIds, tracesRequest, keptAt } from './harness.js';
import { rulesFrom } from '../processors/run-processors.js';

/** A span's size inside ScopeSpans: its tag (one byte), its length varint and its message. */
function fieldSize(spanObject: OtlpObject): number {
  const message = encodeMessage('Span', spanObject).length;
  return 1 + varintSize(message) + message;
}

test('bytes per outcome add up to the spans received, and the kept bytes are those of the kept spans', () => {
  const sampler = createSampler(rulesFrom(RULES_YAML));
  const spans = traceIds(200, 7).map((traceId) => span({ traceId, name: 'GET /items' }));
  sampler.send('traces', tracesRequest({ resource: SHOP, spans }));
  const records = sampler.items.filter((r) => r.team === 'shop');
  const total = spans.reduce((n, s) => n + fieldSize(s), 0);
  assert.equal(records.reduce((n, r) => n + r.bytes, 0), total, 'every span counted once');
  // Team shop is at tier standard: 1 in 4, th:c.
  const kept = spans.filter((s) => keptAt(s.traceId as string, 'c'));
  assert.ok(kept.length > 20 && kept.length < 80, `a plausible 25 % of 200 (${kept.length})`);
  const keptBytes = records.filter((r) => r.outcome === 'kept').reduce((n, r) => n + r.bytes, 0);
  assert.equal(keptBytes, kept.reduce((n, s) => n + fieldSize(s), 0));
});
