// Tail sampling end to end, with real parts: two real OpenTelemetry SDK clients (two services
// of one trace, exporting separately, as they would to a gateway) → `tollgate serve` with
// `processors.sampling.mode: tail` → a real OTLP/HTTP downstream.
//
// The team keeps 1 trace in 10 (th:e666); errors are kept by rule. The error happens in the
// checkout service's span, whose batch arrives after the frontend's root spans: a head sampler
// would have dropped those roots, tail sampling keeps the whole trace. Then a shutdown before
// the decision wait passed still decides and exports what was held.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream } from '../support/downstream.js';
import { sampleSum, scrapeMetrics } from '../support/prometheus.js';
import { EXPORT_SUCCESS } from '../support/sdk-app.js';
import { startSdkClient } from '../support/sdk-client.js';
import type { SdkClient } from '../support/sdk-client.js';
import { flattenRequests } from '../support/sdk-expected.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

const TEAM = 'shop';
const RULES = `version: 1
mode: enforce
tiers:
  tenth: { trace_probability: 0.1 }
teams:
  - { name: ${TEAM}, match: { service.namespace: ${TEAM} }, tier: tenth }
sampling:
  rules:
    - { name: keep-errors, signals: [traces], when: { status: error }, action: keep }
    - { name: sample-the-rest, action: sample }
`;

/** p = 0.1 gives th:e666: kept iff the trace id's last 56 bits are ≥ 0xe666 · 2^40. */
const keptByRate = (traceId: string): boolean => BigInt(`0x${traceId.slice(18)}`) >= 0xe666n << 40n;

function configFor(downstream: Downstream, decisionWait: string): string {
  const rulesPath = join(mkdtempSync(join(tmpdir(), 'tollgate-tail-')), 'rules.yaml');
  writeFileSync(rulesPath, RULES);
  return [
    `rules: ${rulesPath}`,
    'processors:',
    '  sampling:',
    '    mode: tail',
    `    tail: { decision_wait: ${decisionWait} }`,
    'exporters:',
    '  otlphttp:',
    `    endpoint: ${downstream.url}`,
    '',
  ].join('\n');
}

interface ArrivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceState: string;
}

const arrivedSpans = (downstream: Downstream): ArrivedSpan[] =>
  flattenRequests('traces', downstream.accepted('traces')).map(({ item }: { item: OtlpObject }) => ({
    traceId: item.traceId as string,
    spanId: item.spanId as string,
    traceState: (item.traceState as string | undefined) ?? '',
  }));

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const allExportsSucceeded = (client: SdkClient): boolean => client.exports.length > 0 && client.exports.every((e) => e.code === EXPORT_SUCCESS);

/** `count` traces: a frontend root and a checkout child; every 20th child fails. Returns the trace ids with an error. */
function makeTraces(frontend: SdkClient, checkout: SdkClient, count: number): Set<string> {
  const failed = new Set<string>();
  for (let k = 0; k < count; k++) {
    const root = frontend.tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    const remote = trace.setSpanContext(ROOT_CONTEXT, { ...root.spanContext(), isRemote: true });
    const child = checkout.tracer.startSpan('POST /pay', { kind: SpanKind.SERVER }, remote);
    if (k % 20 === 0) {
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
      failed.add(root.spanContext().traceId);
    }
    child.end();
    root.end();
  }
  return failed;
}

describe('tail sampling in tollgate serve, with the real SDK', () => {
  const parts: { tollgate?: TollgateProcess; clients: SdkClient[]; downstream?: Downstream } = { clients: [] };

  afterEach(async () => {
    for (const client of parts.clients) await client.shutdown().catch(() => undefined);
    await parts.tollgate?.stop();
    await parts.downstream?.close();
    parts.clients = [];
    parts.tollgate = undefined;
    parts.downstream = undefined;
  });

  test('an error in one service keeps the whole trace, spans of other services included; the rest 1 in 10 by trace id', { timeout: 40_000 }, async () => {
    const downstream = (parts.downstream = await startDownstream());
    const tollgate = (parts.tollgate = await startTollgate(configFor(downstream, '1500ms')));
    const frontend = startSdkClient({ http: tollgate.http, resourceAttributes: { 'service.name': 'frontend', 'service.namespace': TEAM } });
    const checkout = startSdkClient({ http: tollgate.http, resourceAttributes: { 'service.name': 'checkout', 'service.namespace': TEAM } });
    parts.clients.push(frontend, checkout);

    const TRACES = 600;
    const failed = makeTraces(frontend, checkout, TRACES);
    // The roots arrive first; the failing children a moment later, within the decision wait.
    await frontend.flush();
    await sleep(200);
    await checkout.flush();
    assert.ok(allExportsSucceeded(frontend) && allExportsSucceeded(checkout), 'every export acknowledged');

    const traceIds = [...new Set(frontend.finished().spans.map((s) => s.spanContext().traceId))];
    const expected = new Set(traceIds.filter((id) => failed.has(id) || keptByRate(id)));
    await waitFor('every kept trace, both spans', () => arrivedSpans(downstream).length >= 2 * expected.size);
    await sleep(300);
    const spans = arrivedSpans(downstream);
    assert.equal(spans.length, 2 * expected.size, 'each kept trace complete (root and child), nothing else');
    assert.deepEqual(new Set(spans.map((s) => s.traceId)), expected);
    for (const s of spans) assert.equal(s.traceState, failed.has(s.traceId) ? 'ot=th:0' : 'ot=th:e666', `trace ${s.traceId}`);
    const rootsOfFailed = spans.filter((s) => failed.has(s.traceId) && !keptByRate(s.traceId)).length;
    assert.ok(rootsOfFailed > 0 && rootsOfFailed % 2 === 0, 'error traces the rate alone would drop arrived whole');

    const samples = await scrapeMetrics(tollgate.api);
    assert.equal(sampleSum(samples, 'tollgate_tail_spans_total', { path: 'buffered' }), 2 * TRACES);
    assert.equal(sampleSum(samples, 'tollgate_tail_traces_decided_total', { reason: 'wait' }), TRACES);
    assert.equal(sampleSum(samples, 'tollgate_tail_buffered_spans', {}), 0);
    assert.equal(sampleSum(samples, 'tollgate_sampling_items_total', { team: TEAM, signal: 'traces', outcome: 'kept_by_rule' }), 2 * failed.size);
  });

  test('on shutdown, traces still waiting for their decision are decided and exported', { timeout: 40_000 }, async () => {
    const downstream = (parts.downstream = await startDownstream());
    const tollgate = (parts.tollgate = await startTollgate(configFor(downstream, '60s')));
    const frontend = startSdkClient({ http: tollgate.http, resourceAttributes: { 'service.name': 'frontend', 'service.namespace': TEAM } });
    const checkout = startSdkClient({ http: tollgate.http, resourceAttributes: { 'service.name': 'checkout', 'service.namespace': TEAM } });
    parts.clients.push(frontend, checkout);
    const failed = makeTraces(frontend, checkout, 200);
    await Promise.all([frontend.flush(), checkout.flush()]);
    assert.ok(allExportsSucceeded(frontend) && allExportsSucceeded(checkout));
    await sleep(300);
    assert.equal(arrivedSpans(downstream).length, 0, 'nothing decided before the 60 s wait');

    assert.equal(await tollgate.stop('SIGTERM'), 0);
    const traceIds = [...new Set(frontend.finished().spans.map((s) => s.spanContext().traceId))];
    const expected = new Set(traceIds.filter((id) => failed.has(id) || keptByRate(id)));
    const spans = arrivedSpans(downstream);
    assert.equal(spans.length, 2 * expected.size);
    assert.deepEqual(new Set(spans.map((s) => s.traceId)), expected);
  });
});
