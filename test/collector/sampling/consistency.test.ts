import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { createSampler, keptAt, outputSpans, RULES_YAML, rulesFrom, span, traceIds, tracesRequest } from './harness.js';
import type { Sampler } from './harness.js';

/**
 * Two Tollgate instances (two processors, nothing shared) each see part of the same traces —
 * different services, different batch sizes and orders, different incoming tracestates — and
 * keep exactly the same trace ids, each kept trace complete on both sides.
 */

const rules = rulesFrom(RULES_YAML);
const FRONTEND = { 'service.name': 'frontend', 'service.namespace': 'shop' };
const BACKEND = { 'service.name': 'backend', 'service.namespace': 'shop' };

function sendAll(sampler: Sampler, resource: Record<string, string>, spans: OtlpObject[], batch: number): Map<string, number> {
  const keptSpans = new Map<string, number>();
  for (let k = 0; k < spans.length; k += batch) {
    for (const o of outputSpans(sampler.send('traces', tracesRequest({ resource, spans: spans.slice(k, k + batch) })).output)) keptSpans.set(o.traceId, (keptSpans.get(o.traceId) ?? 0) + 1);
  }
  return keptSpans;
}

test('two instances sampling halves of the same traces keep exactly the same trace ids, and whole', () => {
  const n = 6000;
  const ids = traceIds(n, 0xc0515);
  // Each trace has 4 spans: 2 in the frontend (instance A), 2 in the backend (instance B).
  const front = ids.flatMap((traceId) => [span({ traceId, name: 'GET /cart' }), span({ traceId, name: 'cart.render' })]);
  // The backend's spans arrive in another order, some with other vendors' tracestate.
  const back = [...ids].reverse().flatMap((traceId, i) => [span({ traceId, name: 'SELECT cart', traceState: i % 2 === 0 ? 'vendor=x' : undefined }), span({ traceId, name: 'cache.get' })]);
  const a = sendAll(createSampler(rules), FRONTEND, front, 700);
  const b = sendAll(createSampler(rules), BACKEND, back, 512);
  assert.deepEqual(new Set(b.keys()), new Set(a.keys()));
  assert.deepEqual(new Set(a.keys()), new Set(ids.filter((id) => keptAt(id, 'c'))));
  for (const [id, count] of a) assert.equal(count, 2, `trace ${id}: both frontend spans`);
  for (const [id, count] of b) assert.equal(count, 2, `trace ${id}: both backend spans`);
});

test('overlapping batches: on the traces both instances saw, they kept the same ones', () => {
  const ids = traceIds(3000, 0x0e41a9);
  const a = sendAll(
    createSampler(rules),
    FRONTEND,
    ids.slice(0, 2000).map((traceId) => span({ traceId })),
    300,
  );
  const b = sendAll(
    createSampler(rules),
    FRONTEND,
    ids.slice(1000).map((traceId) => span({ traceId })),
    450,
  );
  const overlap = ids.slice(1000, 2000);
  const keptA = overlap.filter((id) => a.has(id));
  const keptB = overlap.filter((id) => b.has(id));
  assert.deepEqual(keptB, keptA);
  assert.ok(keptA.length > 150 && keptA.length < 350, `kept ${keptA.length} of 1000 at 25 %`);
});
