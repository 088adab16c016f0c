import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { readLogRandomness } from '../../../collector/processors/sampling/randomness.js';
import { atLeast, MutableValue56, thresholdFromProbability } from '../../../collector/processors/sampling/threshold.js';
import { binomialSd } from '../processors/sampling/random-ids.js';
import {
  attributeKeys,
  CHEAP,
  createSampler,
  keptAt,
  LOOSE,
  logRecord,
  logsRequest,
  outcomeTotals,
  outputLogs,
  outputSpans,
  RULES_YAML,
  rulesFrom,
  SHOP,
  span,
  T0_NS,
  traceIds,
  traceIdWithRandomness,
  tracesRequest,
} from './harness.js';

/**
 * Log records. Team `shop` is at tier `standard`: logs follow their trace (a record with a trace
 * id is decided at the trace probability, 25 %, th:c, by the trace id: kept iff its trace's spans
 * are), records without a trace id are sampled by severity (trace 5 %, debug 10 %, info 25 %,
 * warn and up 100 %, none 25 %) with randomness hashed from their timestamp and body. Error
 * logs are kept by rule. A kept sampled record carries `sampling.threshold`.
 */

const rules = rulesFrom(RULES_YAML);
const SEVERITY = { unspecified: 0, trace: 1, debug: 5, info: 9, warn: 13, error: 17 } as const;
const encoder = new TextEncoder();

test('logs follow their trace: a record with trace id X is kept iff the span of trace X is, with sampling.threshold c', () => {
  const sampler = createSampler(rules);
  const n = 4000;
  const ids = traceIds(n, 0x10c5);
  const severities = [SEVERITY.trace, SEVERITY.debug, SEVERITY.info, SEVERITY.warn];
  const keptSpans = new Set<string>();
  const keptLogs = new Set<string>();
  // Spans and logs in different batches (as the SDK sends them), logs in reverse order.
  for (let r = 0; r < n / 1000; r++) {
    const batch = ids.slice(r * 1000, (r + 1) * 1000);
    for (const o of outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans: batch.map((traceId) => span({ traceId })) })).output)) keptSpans.add(o.traceId);
    const logs = batch.map((traceId, i) => logRecord({ traceId, spanId: '00000000000000aa', severityNumber: severities[i % 4], body: `step ${i}` })).reverse();
    for (const o of outputLogs(sampler.send('logs', logsRequest({ resource: SHOP, logs })).output)) {
      assert.equal(o.attributes['sampling.threshold'], 'c', 'the trace probability, whatever the severity');
      keptLogs.add(o.traceId as string);
    }
  }
  assert.deepEqual(keptLogs, keptSpans);
  assert.deepEqual(keptSpans, new Set(ids.filter((id) => keptAt(id, 'c'))));
  // warn (100 % by severity) follows its trace too: a warn record of a dropped trace is dropped.
  const totals = outcomeTotals(sampler.items, { team: 'shop', signal: 'logs' });
  assert.equal(totals.get('kept')?.items, keptSpans.size);
  assert.equal(totals.get('kept')?.adjusted, 4 * keptSpans.size);
  assert.equal(totals.get('dropped')?.items, n - keptSpans.size);
});

test('error logs are kept by rule whatever their trace, without sampling.threshold (they stand for themselves)', () => {
  const sampler = createSampler(rules);
  const dropped = traceIdWithRandomness('00000000000001');
  const out = outputLogs(
    sampler.send(
      'logs',
      logsRequest({
        resource: CHEAP,
        logs: [logRecord({ traceId: dropped, severityNumber: SEVERITY.error, body: 'boom' }), logRecord({ severityNumber: 21, body: 'fatal' }), logRecord({ traceId: dropped, severityNumber: SEVERITY.info, body: 'ok' })],
      }),
    ).output,
  );
  assert.deepEqual(
    out.map((o) => o.body),
    ['boom', 'fatal'],
  );
  assert.ok(out.every((o) => !('sampling.threshold' in o.attributes)));
  const totals = outcomeTotals(sampler.items, { team: 'cheap', signal: 'logs' });
  assert.deepEqual(totals.get('kept_by_rule'), { items: 2, adjusted: 2 });
});

/** The body field of a short string body as the wire has it: tag 5/LEN, length, AnyValue{string_value = 1}. */
function bodyField(body: string): Uint8Array {
  const text = encoder.encode(body);
  if (text.length > 120) throw new Error('short bodies only');
  return Uint8Array.from([0x2a, text.length + 2, 0x0a, text.length, ...text]);
}

/** Whether a record without a trace id is kept at probability p: its hash randomness (timestamp, body field) ≥ T(p). */
function expectedKept(timeNs: bigint, body: string, p: number): boolean {
  const time = Number(timeNs); // the index holds the timestamp as a double
  const field = bodyField(body);
  const r = readLogRandomness(time >>> 0, Math.floor(time / 2 ** 32), field, 0, field.length, new MutableValue56());
  const t = thresholdFromProbability(p);
  return atLeast(r.hi, r.lo, t.hi, t.lo);
}

test('logs without a trace id are sampled by severity with randomness from their timestamp and body: the same decision on every instance', () => {
  // [severity, p, th]: standard's log probabilities; th from T = round((1 − p) · 2^56) rounded to
  // 4 significant hex digits, one more below 1/16 (p = 0.05: 0.95 · 16^5 = 996147.2 → f3333).
  const cases: [number, number, string | undefined][] = [
    [SEVERITY.trace, 0.05, 'f3333'],
    [SEVERITY.debug, 0.1, 'e666'],
    [SEVERITY.info, 0.25, 'c'],
    [SEVERITY.unspecified, 0.25, 'c'],
    [SEVERITY.warn, 1, undefined],
  ];
  const perSeverity = 3000;
  const records: { timeNs: bigint; body: string; severity: number; p: number; th: string | undefined }[] = [];
  cases.forEach(([severity, p, th], c) => {
    for (let i = 0; i < perSeverity; i++) {
      records.push({ timeNs: T0_NS + BigInt((c * perSeverity + i) * 1_000_003), body: `request ${i % 97} done in ${i % 13} ms`, severity, p, th });
    }
  });
  const a = createSampler(rules);
  const b = createSampler(rules);
  const keptBy = (sampler: ReturnType<typeof createSampler>, batches: (typeof records)[]): Map<string, string | undefined> => {
    const kept = new Map<string, string | undefined>();
    for (const batch of batches) {
      const logs = batch.map((r) => logRecord({ timeNs: r.timeNs, body: r.body, severityNumber: r.severity }));
      for (const o of outputLogs(sampler.send('logs', logsRequest({ resource: SHOP, logs })).output)) {
        kept.set(`${o.record.timeUnixNano as string}|${o.body}`, o.attributes['sampling.threshold'] as string | undefined);
      }
    }
    return kept;
  };
  const chunks = (size: number, list: typeof records): (typeof records)[] => Array.from({ length: Math.ceil(list.length / size) }, (_, k) => list.slice(k * size, (k + 1) * size));
  const keptA = keptBy(a, chunks(1000, records));
  const keptB = keptBy(b, chunks(333, [...records].reverse()));
  assert.deepEqual(keptB, keptA, 'two instances, other batches and order: the same records kept');
  for (const [severity, p, th] of cases) {
    const mine = records.filter((r) => r.severity === severity);
    const expected = mine.filter((r) => expectedKept(r.timeNs, r.body, p));
    const kept = mine.filter((r) => keptA.has(`${r.timeNs}|${r.body}`));
    assert.deepEqual(kept, expected, `severity ${severity}`);
    for (const r of kept) assert.equal(keptA.get(`${r.timeNs}|${r.body}`), th, `severity ${severity}: sampling.threshold`);
    assert.ok(Math.abs(kept.length - perSeverity * p) <= 4 * binomialSd(perSeverity, p) + 1e-9, `severity ${severity}: kept ${kept.length} of ${perSeverity} at ${p}`);
  }
});

test('an all-zero trace id is no trace id: such records are sampled by their own randomness, not all dropped', () => {
  const sampler = createSampler(rules);
  const zero = '0'.repeat(32);
  const n = 2000;
  const logs: OtlpObject[] = [];
  const expected: string[] = [];
  for (let i = 0; i < n; i++) {
    const timeNs = T0_NS + BigInt(i * 7_000_001);
    const body = `job ${i}`;
    logs.push(logRecord({ timeNs, body, severityNumber: SEVERITY.info, traceId: zero }));
    if (expectedKept(timeNs, body, 0.25)) expected.push(body);
  }
  const bytes = encodeRequest('logs', logsRequest({ resource: SHOP, logs }));
  assert.equal(outputLogs(decodeRequest('logs', bytes))[0].traceId, zero, 'the zero trace id is on the wire');
  const kept = outputLogs(sampler.sendBytes('logs', bytes).output).map((o) => o.body);
  assert.deepEqual(kept, expected);
  assert.ok(kept.length > n / 8, `kept ${kept.length}`);
});

test('a tier whose logs do not follow traces samples records with a trace id by severity (info 50 % at tier loose, traces 10 %)', () => {
  const sampler = createSampler(rules);
  const n = 4000;
  const ids = traceIds(n, 0x1005e);
  const keptSpans = new Set(outputSpans(sampler.send('traces', tracesRequest({ resource: LOOSE, spans: ids.map((traceId) => span({ traceId })) })).output).map((o) => o.traceId));
  const logs = ids.map((traceId, i) => logRecord({ traceId, severityNumber: SEVERITY.info, body: `line ${i}` }));
  const out = outputLogs(sampler.send('logs', logsRequest({ resource: LOOSE, logs })).output);
  assert.ok(Math.abs(keptSpans.size - n * 0.1) <= 4 * binomialSd(n, 0.1), `spans kept ${keptSpans.size}`);
  assert.ok(Math.abs(out.length - n * 0.5) <= 4 * binomialSd(n, 0.5), `logs kept ${out.length}`);
  assert.ok(out.every((o) => o.attributes['sampling.threshold'] === '8'), 'p = 1/2: th:8');
  assert.ok(out.filter((o) => !keptSpans.has(o.traceId as string)).length > n / 4, 'records of dropped traces kept at their own rate');
  const again = outputLogs(createSampler(rules).send('logs', logsRequest({ resource: LOOSE, logs })).output);
  assert.deepEqual(
    again.map((o) => o.body),
    out.map((o) => o.body),
    'deterministic',
  );
});

test('a record that arrives with sampling.threshold keeps it if higher, has it raised in place if lower; sampling.randomness is its randomness', () => {
  const sampler = createSampler(rules);
  const HIGH = traceIdWithRandomness('d0000000000000');
  const LOW = traceIdWithRandomness('10000000000000');
  const SIXTEENTH = traceIdWithRandomness('f8000000000000');
  const out = outputLogs(
    sampler.send(
      'logs',
      logsRequest({
        resource: SHOP,
        logs: [
          // th:f upstream, R = 0xd… < 0xf…: inconsistent with its own threshold, dropped.
          logRecord({ traceId: HIGH, body: 'a', severityNumber: SEVERITY.info, attributes: { 'sampling.threshold': 'f' } }),
          // th:f upstream, R = 0xf8…: kept, th:f stays (it stands for 16).
          logRecord({ traceId: SIXTEENTH, body: 'b', severityNumber: SEVERITY.info, attributes: { 'sampling.threshold': 'f', k: 'v' } }),
          // th:8 upstream (1 in 2), R = 0xd…: raised to c, in place.
          logRecord({ traceId: HIGH, body: 'c', severityNumber: SEVERITY.info, attributes: { 'sampling.threshold': '8', k: 'v' } }),
          // sampling.randomness decides over the trace id: kept, randomness untouched.
          logRecord({ traceId: LOW, body: 'd', severityNumber: SEVERITY.info, attributes: { 'sampling.randomness': 'ffffffffffffff' } }),
          logRecord({ body: 'e', severityNumber: SEVERITY.info, attributes: { 'sampling.randomness': '00000000000000' } }),
        ],
      }),
    ).output,
  );
  assert.deepEqual(
    out.map((o) => [o.body, o.attributes]),
    [
      ['b', { 'sampling.threshold': 'f', k: 'v' }],
      ['c', { 'sampling.threshold': 'c', k: 'v' }],
      ['d', { 'sampling.randomness': 'ffffffffffffff', 'sampling.threshold': 'c' }],
    ],
  );
  for (const o of out) assert.equal(new Set(attributeKeys(o.record)).size, attributeKeys(o.record).length, `no duplicate keys: ${attributeKeys(o.record).join()}`);
  const kept = outcomeTotals(sampler.items).get('kept');
  assert.deepEqual(kept, { items: 3, adjusted: 16 + 4 + 4 });
});

test('economy keeps no trace-severity record (p = 0) and holds a team to its log budget', () => {
  const sampler = createSampler(rules);
  let keptTrace = 0;
  const keptPerSecond: number[] = [];
  for (let s = 0; s < 15; s++) {
    const logs: OtlpObject[] = [];
    for (let i = 0; i < 1000; i++) logs.push(logRecord({ timeNs: T0_NS + BigInt(s * 1e9 + i * 1e6), body: `tick ${i}`, severityNumber: i % 2 === 0 ? SEVERITY.trace : SEVERITY.warn }));
    const out = outputLogs(sampler.send('logs', logsRequest({ resource: CHEAP, logs })).output);
    keptTrace += out.filter((o) => o.severityNumber === SEVERITY.trace).length;
    keptPerSecond.push(out.length);
    sampler.advance(1000);
  }
  assert.equal(keptTrace, 0);
  // warn is 25 % at economy: 125 of the 500 warn records per second before the budget bites;
  // 1 record/s allowed. The rate counts all 1,000 records a second (both severities are left to
  // `sample`), so p = 1/1000 for warn after adaptation: about 0.5 kept per second.
  assert.ok(keptPerSecond[0] > 60, `first second ${keptPerSecond[0]}`);
  const late = keptPerSecond.slice(8);
  assert.ok(late.reduce((x, y) => x + y, 0) <= late.length * 1 + 8, `kept per second ${keptPerSecond.join(' ')}`);
});
