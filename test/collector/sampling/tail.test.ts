import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import type { ExportRequest } from '../../../collector/pipeline/contracts.js';
import { createTailSampler, TAIL_DEFAULTS } from '../../../collector/processors/sampling/tail-sampler.js';
import type { DecisionReason, TailSettings } from '../../../collector/processors/sampling/tail-sampler.js';
import { createSampler, keptAt, outputSpans, RULES_YAML, rulesFrom, SHOP, span, thOf, traceIds, traceIdWithRandomness, tracesRequest } from './harness.js';
import type { OutputSpan } from './harness.js';

/**
 * Tail sampling (processors.sampling.mode: tail): spans wait by trace id for the decision wait,
 * then each trace is decided on all its spans — one span matching a keep rule keeps the whole
 * trace — and late spans follow the remembered decision. The team `shop` samples at 25 %
 * (th:c): a trace id whose randomness is below 0xc0000000000000 is dropped by the rate.
 */

const rules = rulesFrom(RULES_YAML);
const WAIT = 5000;
/** Dropped at 25 %: R < c0000000000000. */
const DROPPED_R = '00000000000042';
/** Kept at 25 %. */
const KEPT_R = 'f0000000000042';

function tail(settings: Partial<TailSettings> = {}) {
  const decided: { traces: number; reason: DecisionReason }[] = [];
  const paths = { buffered: 0, late: 0, fallback: 0, untraced: 0 };
  const sampler = createTailSampler({
    rules: () => rules,
    clock: () => 0,
    settings: { ...TAIL_DEFAULTS, decisionWaitMs: WAIT, ...settings },
    tailObserver: {
      onIngest(result) {
        for (const key of Object.keys(paths) as (keyof typeof paths)[]) paths[key] += result[key];
      },
      onDecided: (traces, reason) => decided.push({ traces, reason }),
    },
  });
  return { sampler, decided, paths };
}

const send = (request: OtlpObject): Uint8Array => encodeRequest('traces', request);
const spansOf = (requests: readonly (ExportRequest | undefined)[]): OutputSpan[] =>
  requests.flatMap((r) => (r === undefined ? [] : outputSpans(decodeRequest('traces', r.body))));

test('a trace waits for its decision, and one error span keeps every span of it, even those that came earlier', () => {
  const { sampler, decided } = tail();
  const errorTrace = traceIdWithRandomness(DROPPED_R, '0a0a0a0a0a0a0a0a0a');
  const quietTrace = traceIdWithRandomness(DROPPED_R, '0b0b0b0b0b0b0b0b0b');
  // Three spans of each trace over two requests; the error arrives last.
  assert.equal(sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: errorTrace, name: 'GET /cart' }), span({ traceId: quietTrace })] })), 0), undefined);
  assert.equal(sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: errorTrace, name: 'SELECT' }), span({ traceId: quietTrace })] })), 1000), undefined);
  assert.equal(sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: errorTrace, name: 'POST /pay', status: 2 })] })), 2000), undefined);
  assert.equal(sampler.bufferedTraces(), 2);
  assert.equal(sampler.bufferedSpans(), 5);

  assert.deepEqual(sampler.due(WAIT - 1), [], 'nothing is decided before the first span waited the decision wait');
  const out = spansOf(sampler.due(WAIT));
  // A head sampler would have kept only the error span (the rate drops this trace id).
  assert.deepEqual(out.map((s) => s.name).sort(), ['GET /cart', 'POST /pay', 'SELECT']);
  assert.ok(out.every((s) => s.traceId === errorTrace && thOf(s.traceState) === '0'), 'kept by rule: th:0, each span stands for itself');
  assert.ok(out.every((s) => s.resource['service.name'] === 'cart'), 'spans come back under their resource');
  assert.deepEqual(decided, [{ traces: 2, reason: 'wait' }]);
  assert.equal(sampler.bufferedTraces(), 0);
  assert.equal(sampler.bufferedBytes(), 0, 'nothing held once every trace is decided (envelopes released too)');
});

test('without a keep rule a trace is decided by its trace id at the team rate, the same traces a head sampler keeps', () => {
  const ids = traceIds(400, 11);
  const { sampler } = tail();
  const head = createSampler(rules);
  for (let i = 0; i < ids.length; i += 50) {
    const spans = ids.slice(i, i + 50).flatMap((traceId) => [span({ traceId }), span({ traceId, name: 'SELECT' })]);
    sampler.ingest(send(tracesRequest({ resource: SHOP, spans })), 0);
  }
  const tailKept = new Set(spansOf(sampler.due(WAIT)).map((s) => s.traceId));
  const headKept = new Set(outputSpans(head.send('traces', tracesRequest({ resource: SHOP, spans: ids.map((traceId) => span({ traceId })) })).output).map((s) => s.traceId));
  assert.deepEqual([...tailKept].sort(), [...headKept].sort());
  assert.deepEqual([...tailKept].sort(), ids.filter((id) => keptAt(id, 'c')).sort(), 'kept iff R ≥ T for th:c');
  assert.ok(tailKept.size > 60 && tailKept.size < 140, `about a quarter kept: ${tailKept.size}`);
});

test('late spans follow the decision made for their trace', () => {
  const { sampler, paths } = tail();
  const kept = traceIdWithRandomness(DROPPED_R, '0c0c0c0c0c0c0c0c0c');
  const dropped = traceIdWithRandomness(DROPPED_R, '0d0d0d0d0d0d0d0d0d');
  const sampledIn = traceIdWithRandomness(KEPT_R, '0e0e0e0e0e0e0e0e0e');
  sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: kept, status: 2 }), span({ traceId: dropped }), span({ traceId: sampledIn })] })), 0);
  assert.equal(spansOf(sampler.due(WAIT)).length, 2);

  const late = spansOf([sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: kept, name: 'late' }), span({ traceId: dropped, name: 'late' }), span({ traceId: sampledIn, name: 'late' })] })), WAIT + 10)]);
  assert.deepEqual(late.map((s) => s.traceId).sort(), [kept, sampledIn].sort(), 'late spans of kept traces kept at once, of the dropped trace dropped');
  assert.equal(thOf(late.find((s) => s.traceId === kept)!.traceState), '0', 'kept whole: th:0 like its siblings');
  assert.equal(thOf(late.find((s) => s.traceId === sampledIn)!.traceState), 'c', 'sampled: the same th as its siblings');
  assert.equal(paths.late, 3);
  assert.equal(sampler.bufferedTraces(), 0);
});

test('a trace that reaches max_spans_per_trace is decided at once; its later spans follow', () => {
  const { sampler, decided } = tail({ maxSpansPerTrace: 4 });
  const big = traceIdWithRandomness(DROPPED_R, '0f0f0f0f0f0f0f0f0f');
  const first = sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: big }), span({ traceId: big }), span({ traceId: big })] })), 0);
  assert.equal(first, undefined);
  // The fourth span reaches the cap, the fifth in the same request is an error: the whole trace is kept.
  const capped = spansOf([sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: big }), span({ traceId: big, status: 2 })] })), 10)]);
  assert.equal(capped.length, 5);
  assert.deepEqual(decided, [{ traces: 1, reason: 'early' }]);
  const after = spansOf([sampler.ingest(send(tracesRequest({ resource: SHOP, spans: [span({ traceId: big })] })), 20)]);
  assert.equal(after.length, 1, 'a span after the early decision follows it');
  assert.equal(sampler.bufferedSpans(), 0);
});

test('a full buffer decides new spans at once instead of growing, and the bound holds under a 10x burst', () => {
  const limit = 64 * 1024;
  const { sampler, paths } = tail({ maxBufferedBytes: limit });
  const ids = traceIds(5000, 12);
  let peak = 0;
  let out = 0;
  for (let i = 0; i < ids.length; i += 100) {
    const spans = ids.slice(i, i + 100).map((traceId) => span({ traceId, attributes: { 'http.route': '/items/{id}', 'payload.size': 1024 } }));
    out += spansOf([sampler.ingest(send(tracesRequest({ resource: SHOP, spans })), i)]).length;
    peak = Math.max(peak, sampler.bufferedBytes());
  }
  assert.ok(peak <= limit, `held ${peak} bytes, limit ${limit}`);
  assert.ok(paths.fallback > 4000, `most of the burst fell back to the head decision: ${paths.fallback}`);
  assert.equal(paths.buffered + paths.fallback, ids.length);
  out += spansOf(sampler.drain()).length;
  const expected = ids.filter((id) => keptAt(id, 'c')).length;
  assert.equal(out, expected, 'buffered or not, each trace got the decision its trace id gives');
  assert.equal(sampler.bufferedBytes(), 0);
});

test('spans without a trace id are decided at once; drain decides everything held', () => {
  const { sampler, paths, decided } = tail();
  const traced = traceIdWithRandomness(KEPT_R, '101010101010101010');
  const request: OtlpObject = tracesRequest({ resource: SHOP, spans: [span({ traceId: traced }), { ...span({ traceId: traced }), traceId: '' }] });
  const now = spansOf([sampler.ingest(send(request), 0)]);
  assert.equal(paths.untraced, 1);
  assert.equal(now.length <= 1, true);
  assert.equal(sampler.bufferedSpans(), 1);
  const drained = spansOf(sampler.drain());
  assert.deepEqual(drained.map((s) => s.traceId), [traced]);
  assert.deepEqual(decided.at(-1), { traces: 1, reason: 'shutdown' });
});

test('spans keep their own resource and scope when traces from several services are buffered together', () => {
  const { sampler } = tail();
  const id = traceIdWithRandomness(KEPT_R, '111111111111111111');
  const request: OtlpObject = {
    resourceSpans: [
      { resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }, { key: 'service.namespace', value: { stringValue: 'shop' } }] }, schemaUrl: 'https://opentelemetry.io/schemas/1.26.0', scopeSpans: [{ scope: { name: 'http', version: '1.2' }, spans: [span({ traceId: id, name: 'a' })] }, { scope: { name: 'db' }, spans: [span({ traceId: id, name: 'b' })] }] },
      { resource: { attributes: [{ key: 'service.name', value: { stringValue: 'pay' } }, { key: 'service.namespace', value: { stringValue: 'shop' } }] }, scopeSpans: [{ scope: { name: 'http' }, spans: [span({ traceId: id, name: 'c' })] }] },
    ],
  };
  sampler.ingest(send(request), 0);
  const [out] = sampler.due(WAIT);
  const decoded = decodeRequest('traces', out.body) as { resourceSpans: { schemaUrl?: string; resource: OtlpObject; scopeSpans: { scope: { name: string; version?: string }; spans: { name: string }[] }[] }[] };
  const shape = decoded.resourceSpans.map((rs) => ({
    schemaUrl: rs.schemaUrl ?? '',
    scopes: rs.scopeSpans.map((ss) => `${ss.scope.name}@${ss.scope.version ?? ''}:${ss.spans.map((s) => s.name).join(',')}`),
  }));
  assert.deepEqual(shape, [
    { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0', scopes: ['http@1.2:a', 'db@:b'] },
    { schemaUrl: '', scopes: ['http@:c'] },
  ]);
});
