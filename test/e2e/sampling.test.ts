// Sampling end to end, with real parts: the real OpenTelemetry SDK (traces and logs, several
// independent clients) → `tollgate serve` as a child process with a rules file → a real
// OTLP/HTTP downstream.
//
// One team at a custom tier keeping 1 trace in 10 (th:e666), keep rules for errors and slow
// spans, health checks dropped. What the downstream receives is predicted span by span from the
// trace ids the SDK generated: a span is kept iff a keep rule matches or its trace id's last 56
// bits are ≥ 0xe666 · 2^40; the log records of a trace follow it; records without a trace are
// kept iff their hash randomness passes. Then /metrics must count exactly that. Finally two
// Tollgate instances, each receiving one service's half of the same traces, keep the same traces.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import type { OtlpObject, OtlpValue } from '../../collector/otlp/object-codec.js';
import { readLogRandomness } from '../../collector/processors/sampling/randomness.js';
import { atLeast, MutableValue56, thresholdFromProbability } from '../../collector/processors/sampling/threshold.js';
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
  tenth:
    trace_probability: 0.1
    log_probability: { default: 0.1 }
    logs_follow_traces: true
teams:
  - name: ${TEAM}
    match:
      service.namespace: ${TEAM}
    tier: tenth
sampling:
  rules:
    - { name: keep-errors, signals: [traces], when: { status: error }, action: keep }
    - { name: keep-slow, signals: [traces], when: { min_duration: 200ms }, action: keep }
    - { name: drop-health-checks, signals: [traces], when: { span_name: "GET /healthz" }, action: drop }
    - { name: keep-error-logs, signals: [logs], when: { min_severity: error }, action: keep }
    - { name: sample-the-rest, action: sample }
`;

/** p = 0.1: T = 0.9 · 2^56 rounded to 4 significant hex digits = 0xe666 · 2^40; p of that threshold = 6554 / 65536. */
const TH = 'e666';
const T = thresholdFromProbability(0.1);
const EXACT_P = 6554 / 65536;
const ADJUSTED = 65536 / 6554;

function keptByRate(traceId: string): boolean {
  return BigInt(`0x${traceId.slice(18)}`) >= 0xe666n << 40n;
}

function configFor(downstream: Downstream, rulesPath: string): string {
  return ['rules: ' + rulesPath, 'exporters:', '  otlphttp:', `    endpoint: ${downstream.url}`, ''].join('\n');
}

function writeRules(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tollgate-sampling-')), 'rules.yaml');
  writeFileSync(path, RULES);
  return path;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function attributesOf(owner: OtlpValue | undefined): Record<string, OtlpObject> {
  const list = ((owner as OtlpObject | undefined)?.attributes ?? []) as OtlpObject[];
  return Object.fromEntries(list.map((kv) => [kv.key as string, kv.value as OtlpObject]));
}

interface ArrivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  readonly traceState: string;
}

function arrivedSpans(downstream: Downstream): ArrivedSpan[] {
  return flattenRequests('traces', downstream.accepted('traces')).map(({ resource, item }) => ({
    service: attributesOf(resource)['service.name']?.stringValue as string,
    traceId: item.traceId as string,
    spanId: item.spanId as string,
    name: item.name as string,
    traceState: (item.traceState as string | undefined) ?? '',
  }));
}

interface ArrivedLog {
  readonly traceId: string | undefined;
  readonly body: string;
  readonly threshold: string | undefined;
}

function arrivedLogs(downstream: Downstream): ArrivedLog[] {
  return flattenRequests('logs', downstream.accepted('logs')).map(({ item }) => ({
    traceId: item.traceId as string | undefined,
    body: (item.body as OtlpObject).stringValue as string,
    threshold: attributesOf(item)['sampling.threshold']?.stringValue as string | undefined,
  }));
}

/** The keep decision of a log record without a trace: its randomness hashed from its timestamp and body field, ≥ T. */
function logKeptByRate(hrTime: HrTime, body: string): boolean {
  const time = Number(BigInt(hrTime[0]) * 1_000_000_000n + BigInt(hrTime[1])); // the index holds it as a double
  const text = new TextEncoder().encode(body);
  // The body field as the SDK writes it: tag 5/LEN, length, AnyValue{string_value (1): text}; short bodies only.
  const field = Uint8Array.from([0x2a, text.length + 2, 0x0a, text.length, ...text]);
  const r = readLogRandomness(time >>> 0, Math.floor(time / 2 ** 32), field, 0, field.length, new MutableValue56());
  return atLeast(r.hi, r.lo, T.hi, T.lo);
}

const allExportsSucceeded = (client: SdkClient): boolean => client.exports.length > 0 && client.exports.every((e) => e.code === EXPORT_SUCCESS);

describe('sampling in tollgate serve, with the real SDK', () => {
  const parts: { tollgates: TollgateProcess[]; clients: SdkClient[]; downstream?: Downstream } = { tollgates: [], clients: [] };

  afterEach(async () => {
    for (const client of parts.clients) await client.shutdown().catch(() => undefined);
    for (const tollgate of parts.tollgates) await tollgate.stop();
    await parts.downstream?.close();
    parts.tollgates = [];
    parts.clients = [];
    parts.downstream = undefined;
  });

  test('errors and slow spans all arrive, health checks never, the rest 1 in 10 by trace id with ot=th:e666; logs follow; /metrics counts it', { timeout: 30_000 }, async () => {
    const downstream = (parts.downstream = await startDownstream());
    const tollgate = await startTollgate(configFor(downstream, writeRules()));
    parts.tollgates.push(tollgate);
    const client = startSdkClient({ http: tollgate.http, resourceAttributes: { 'service.name': 'storefront', 'service.namespace': TEAM } });
    parts.clients.push(client);
    const { tracer, logger } = client;

    const TRACES = 1500;
    const HEALTH = 300;
    const UNTRACED_LOGS = 400;
    const start = Date.now() - 60_000;
    for (let k = 0; k < TRACES; k++) {
      const t0 = start + k;
      const root = tracer.startSpan('GET /items', { kind: SpanKind.SERVER, startTime: t0 }, ROOT_CONTEXT);
      const ctx = trace.setSpan(ROOT_CONTEXT, root);
      // Every 15th query is slow: 300 ms ≥ the 200 ms keep rule; the others take 2 ms.
      tracer.startSpan('SELECT items', { kind: SpanKind.CLIENT, startTime: t0 }, ctx).end(t0 + (k % 15 === 0 ? 300 : 2));
      logger.emit({ severityNumber: SeverityNumber.INFO, body: `served ${k}`, context: ctx });
      if (k % 25 === 0) logger.emit({ severityNumber: SeverityNumber.ERROR, body: `failed ${k}`, context: ctx });
      if (k % 10 === 0) root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      root.end(t0 + 5);
    }
    for (let k = 0; k < HEALTH; k++) tracer.startSpan('GET /healthz', { kind: SpanKind.SERVER }, ROOT_CONTEXT).end();
    for (let k = 0; k < UNTRACED_LOGS; k++) logger.emit({ severityNumber: SeverityNumber.INFO, body: `tick ${k}`, context: ROOT_CONTEXT });
    await client.flush();
    assert.ok(allExportsSucceeded(client), `exports: ${JSON.stringify(client.exports)}`);

    // What must arrive, from what the SDK made.
    const produced = client.finished();
    assert.equal(produced.spans.length, 2 * TRACES + HEALTH);
    const byRule = new Set<string>();
    const bySample = new Set<string>();
    for (const s of produced.spans) {
      const { traceId, spanId } = s.spanContext();
      const durationMs = (s.endTime[0] - s.startTime[0]) * 1e3 + (s.endTime[1] - s.startTime[1]) / 1e6;
      if (s.name === 'GET /healthz') continue;
      if (s.status.code === SpanStatusCode.ERROR || durationMs >= 200) byRule.add(spanId);
      else if (keptByRate(traceId)) bySample.add(spanId);
    }
    assert.equal(byRule.size, TRACES / 10 + TRACES / 15, 'errors and slow queries (disjoint: roots and children)');
    const expectedLogs = new Map<string, string | undefined>(); // body → sampling.threshold
    for (const record of produced.logs) {
      const body = record.body as string;
      const traceId = record.spanContext?.traceId;
      if ((record.severityNumber ?? 0) >= SeverityNumber.ERROR) expectedLogs.set(body, undefined);
      else if (traceId !== undefined ? keptByRate(traceId) : logKeptByRate(record.hrTime, body)) expectedLogs.set(body, TH);
    }

    await waitFor('the kept spans and records', () => arrivedSpans(downstream).length >= byRule.size + bySample.size && arrivedLogs(downstream).length >= expectedLogs.size);
    await sleep(300); // anything more would be a mistake: give it the time to show
    const spans = arrivedSpans(downstream);
    const arrivedIds = new Set(spans.map((s) => s.spanId));
    assert.equal(spans.length, arrivedIds.size, 'each span once');
    for (const id of byRule) assert.ok(arrivedIds.has(id), `span ${id} kept by rule`);
    assert.deepEqual(arrivedIds, new Set([...byRule, ...bySample]), 'exactly the rule-kept and the sampled spans');
    assert.ok(!spans.some((s) => s.name === 'GET /healthz'), 'no health check');
    for (const s of spans) assert.equal(s.traceState, byRule.has(s.spanId) ? 'ot=th:0' : `ot=th:${TH}`, `span ${s.spanId}`);
    // Plausible: about 1 in 10 of the 2,400 spans no rule decided (4 binomial standard deviations).
    const undecided = 2 * TRACES - byRule.size;
    const sd = Math.sqrt(undecided * EXACT_P * (1 - EXACT_P));
    assert.ok(Math.abs(bySample.size - undecided * EXACT_P) <= 4 * sd, `sampled ${bySample.size} of ${undecided}`);

    const logs = arrivedLogs(downstream);
    assert.deepEqual(new Map(logs.map((l) => [l.body, l.threshold])), expectedLogs);
    assert.equal(logs.length, expectedLogs.size);
    const untracedKept = logs.filter((l) => l.traceId === undefined).length;
    assert.ok(Math.abs(untracedKept - UNTRACED_LOGS * EXACT_P) <= 4 * Math.sqrt(UNTRACED_LOGS * EXACT_P * (1 - EXACT_P)), `untraced records kept: ${untracedKept}`);

    const samples = await scrapeMetrics(tollgate.api);
    const items = (signal: string, outcome: string): number => sampleSum(samples, 'tollgate_sampling_items_total', { team: TEAM, signal, outcome });
    assert.equal(items('traces', 'kept_by_rule'), byRule.size);
    assert.equal(items('traces', 'dropped_by_rule'), HEALTH);
    assert.equal(items('traces', 'kept'), bySample.size);
    assert.equal(items('traces', 'dropped'), undecided - bySample.size);
    assert.equal(items('traces', 'kept_by_floor'), 0);
    const errorLogs = TRACES / 25;
    assert.equal(items('logs', 'kept_by_rule'), errorLogs);
    assert.equal(items('logs', 'kept'), expectedLogs.size - errorLogs);
    assert.equal(items('logs', 'dropped'), TRACES + UNTRACED_LOGS - (expectedLogs.size - errorLogs));
    const probability = sampleSum(samples, 'tollgate_sampling_probability', { team: TEAM, signal: 'traces' });
    assert.ok(Math.abs(probability - EXACT_P) < 1e-9, `probability ${probability}`);
    const adjusted = sampleSum(samples, 'tollgate_sampling_adjusted_count_total', { team: TEAM, signal: 'traces' });
    assert.ok(Math.abs(adjusted - (byRule.size + bySample.size * ADJUSTED)) < 1e-6 * adjusted, `adjusted count ${adjusted}`);
  });

  test('two tollgate instances receiving halves of the same traces keep the same trace ids', { timeout: 30_000 }, async () => {
    const downstream = (parts.downstream = await startDownstream());
    const rulesPath = writeRules();
    const [a, b] = await Promise.all([startTollgate(configFor(downstream, rulesPath)), startTollgate(configFor(downstream, rulesPath))]);
    parts.tollgates.push(a, b);
    const frontend = startSdkClient({ http: a.http, resourceAttributes: { 'service.name': 'frontend', 'service.namespace': TEAM }, batchSize: 300 });
    const backend = startSdkClient({ http: b.http, resourceAttributes: { 'service.name': 'backend', 'service.namespace': TEAM }, batchSize: 512 });
    parts.clients.push(frontend, backend);

    const TRACES = 2000;
    for (let k = 0; k < TRACES; k++) {
      const root = frontend.tracer.startSpan('GET /cart', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      // The backend continues the trace from the propagated context, as it would from a traceparent header.
      const remote = trace.setSpanContext(ROOT_CONTEXT, { ...root.spanContext(), isRemote: true });
      const server = backend.tracer.startSpan('POST /cart/lines', { kind: SpanKind.SERVER }, remote);
      backend.tracer.startSpan('INSERT lines', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, server)).end();
      server.end();
      root.end();
    }
    await Promise.all([frontend.flush(), backend.flush()]);
    assert.ok(allExportsSucceeded(frontend) && allExportsSucceeded(backend));

    const traceIds = [...new Set(frontend.finished().spans.map((s) => s.spanContext().traceId))];
    assert.equal(traceIds.length, TRACES);
    const expected = new Set(traceIds.filter(keptByRate));
    await waitFor('both halves of the kept traces', () => arrivedSpans(downstream).length >= 3 * expected.size);
    await sleep(300);
    const spans = arrivedSpans(downstream);
    const keptBy = (service: string): Set<string> => new Set(spans.filter((s) => s.service === service).map((s) => s.traceId));
    assert.deepEqual(keptBy('frontend'), keptBy('backend'), 'the same traces kept on both instances');
    assert.deepEqual(keptBy('frontend'), expected);
    assert.equal(spans.length, 3 * expected.size, 'every kept trace complete: 1 frontend and 2 backend spans');
    assert.ok(spans.every((s) => s.traceState === `ot=th:${TH}`));
    const sd = Math.sqrt(TRACES * EXACT_P * (1 - EXACT_P));
    assert.ok(Math.abs(expected.size - TRACES * EXACT_P) <= 4 * sd, `kept ${expected.size} of ${TRACES}`);
  });
});
