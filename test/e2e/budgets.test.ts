// Cardinality budgets end to end, with real parts: `tollgate serve` as a child process with a
// rules file and its SQLite usage store, the real OpenTelemetry metrics SDK as the client (one
// MeterProvider per team, collections on demand), a real OTLP/HTTP downstream.
//
// - A team under budget is untouched; a team that explodes a label gets exactly its limit of
//   series through and the rest folded into one overflow series per metric, with totals equal
//   to what the SDK sent, for cumulative and delta sums and histograms.
// - Audit mode forwards the SDK's bytes unchanged and counts the same violations as enforce.
// - Series that stop reporting free their budget after the active window.
// - After `kill -9` and a restart on the same data directory the team's series are back within a
//   snapshot interval, the budget is not handed out afresh, and the SQLite file is intact.
// - Usage per minute and violations with sample label sets are in the store.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ValueType } from '@opentelemetry/api';
import type { Meter } from '@opentelemetry/api';
import { encodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject, OtlpValue } from '../../collector/otlp/object-codec.js';
import { openUsageStore } from '../../collector/usage/store.js';
import { parseRules } from '../../rules/load.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream } from '../support/downstream.js';
import { sampleSum, scrapeMetrics } from '../support/prometheus.js';
import type { Sample } from '../support/prometheus.js';
import { startRecordingProxy } from '../support/recording-proxy.js';
import type { RecordingProxy } from '../support/recording-proxy.js';
import { expectedMetricItems, flattenRequests, sortItems } from '../support/sdk-expected.js';
import type { FlatItem } from '../support/sdk-expected.js';
import { EXPORT_SUCCESS } from '../support/sdk-app.js';
import { startSdkMeter } from '../support/sdk-meter.js';
import type { SdkMeter } from '../support/sdk-meter.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

// ─── The scenario: a steady team and a team exploding a label ──────────────────────────────────

const STEADY = 'steady';
const EXPLODING = 'exploding';
const COUNTER = 'signup.logins';
const HISTOGRAM = 'signup.login.duration';
const STEADY_COUNTER = 'billing.invoices';
const USERS = 20;
const PER_METRIC_LIMIT = 5;
/** Two metrics of PER_METRIC_LIMIT series each fill the team's budget exactly. */
const TEAM_LIMIT = 2 * PER_METRIC_LIMIT;
const STEADY_LIMIT = 1000;
const REGIONS = ['eu', 'us', 'ap'];
const OVERFLOW_KEY = 'otel.metric.overflow';

function scenarioRules(mode: 'enforce' | 'audit', action: 'overflow' | 'drop' = 'overflow'): string {
  return `version: 1
mode: ${mode}
teams:
  - name: ${STEADY}
    match:
      service.namespace: ${STEADY}
    budgets:
      metrics:
        max_active_series: ${STEADY_LIMIT}
  - name: ${EXPLODING}
    match:
      service.namespace: ${EXPLODING}
    budgets:
      metrics:
        max_active_series: ${TEAM_LIMIT}
        default_max_series_per_metric: ${PER_METRIC_LIMIT}
        action: ${action}
`;
}

interface Clients {
  readonly steady: SdkMeter;
  readonly exploding: SdkMeter;
}

function startClients(http: string, temporality: 'cumulative' | 'delta'): Clients {
  return {
    steady: startSdkMeter({ http, temporality, resourceAttributes: { 'service.name': 'billing', 'service.namespace': STEADY } }),
    exploding: startSdkMeter({ http, temporality, resourceAttributes: { 'service.name': 'signup', 'service.namespace': EXPLODING, 'service.instance.id': 'signup-1' } }),
  };
}

/** The exploding team's instruments; each call records a round: every user on both, values depending on the round. */
function explodingWorkload(meter: Meter): (round: number) => void {
  const logins = meter.createCounter(COUNTER, { valueType: ValueType.INT, unit: '{login}' });
  const duration = meter.createHistogram(HISTOGRAM, { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100, 1000] } });
  return (round) => {
    for (let u = 0; u < USERS; u++) {
      const attributes = { 'user.id': `u-${u}`, 'http.route': '/login' };
      logins.add(round * (u + 1), attributes);
      for (let k = 0; k <= u % 3; k++) duration.record((u * 37 + round * 11 + k * 400) % 1500, attributes);
    }
  };
}

/**
 * Two collection cycles. Each round, the steady team adds to 3 series and the exploding team
 * records every one of its 20 users on a counter and a histogram (different values each round,
 * so cumulative streams grow by different amounts).
 */
async function sendRounds(clients: Clients, options: { rounds?: number; afterRound?: (round: number) => Promise<void> } = {}): Promise<void> {
  const rounds = options.rounds ?? 2;
  const invoices = clients.steady.meter.createCounter(STEADY_COUNTER, { valueType: ValueType.INT, unit: '{invoice}' });
  const explode = explodingWorkload(clients.exploding.meter);
  for (let round = 1; round <= rounds; round++) {
    REGIONS.forEach((region, r) => invoices.add(round * 2 + r, { region }));
    explode(round);
    await Promise.all([clients.steady.collect(), clients.exploding.collect()]);
    await options.afterRound?.(round);
  }
  for (const client of [clients.steady, clients.exploding]) {
    assert.ok(client.exports.length === rounds && client.exports.every((e) => e.code === EXPORT_SUCCESS), `every SDK export succeeded: ${JSON.stringify(client.exports)}`);
  }
}

// ─── Reading what arrived ──────────────────────────────────────────────────────────────────────

function attributesOf(owner: OtlpValue | undefined): Record<string, OtlpValue> {
  const list = ((owner as OtlpObject | undefined)?.attributes ?? []) as OtlpObject[];
  return Object.fromEntries(list.map((kv) => [kv.key as string, kv.value]));
}

function text(value: OtlpValue | undefined): string | undefined {
  return (value as OtlpObject | undefined)?.stringValue as string | undefined;
}

function dataOf(metric: OtlpObject): OtlpObject {
  return (metric.sum ?? metric.histogram ?? metric.gauge) as OtlpObject;
}

function pointsOf(metric: OtlpObject): OtlpObject[] {
  return (dataOf(metric).dataPoints ?? []) as OtlpObject[];
}

const isOverflow = (point: OtlpObject): boolean => (attributesOf(point)[OVERFLOW_KEY] as OtlpObject | undefined)?.boolValue === true;

/** Sum points → [value]; histogram points → [count, sum, ...bucket counts]. */
function vectorOf(point: OtlpObject): number[] {
  if (point.bucketCounts !== undefined || point.count !== undefined) {
    return [Number(point.count ?? 0), Number(point.sum ?? 0), ...((point.bucketCounts ?? []) as string[]).map(Number)];
  }
  return [Number(point.asInt ?? point.asDouble ?? 0)];
}

function totalOf(points: readonly OtlpObject[]): number[] {
  const total: number[] = [];
  for (const point of points) vectorOf(point).forEach((v, k) => (total[k] = (total[k] ?? 0) + v));
  return total;
}

/** The items under resources with `key` = `value` of each metric request the downstream accepted, one list per request that had any. */
function requestsOfResource(downstream: Downstream, key: string, value: string): FlatItem[][] {
  return downstream
    .accepted('metrics')
    .map((request) => flattenRequests('metrics', [request]).filter((flat) => text(attributesOf(flat.resource)[key]) === value))
    .filter((items) => items.length > 0);
}

function requestsOfTeam(downstream: Downstream, namespace: string): FlatItem[][] {
  return requestsOfResource(downstream, 'service.namespace', namespace);
}

function metricNamed(items: readonly FlatItem[], name: string): FlatItem {
  const found = items.filter((flat) => flat.item.name === name);
  assert.equal(found.length, 1, `one "${name}" in the request`);
  return found[0];
}

function withoutPoints(metric: OtlpObject): OtlpObject {
  const data = dataOf(metric);
  const key = metric.sum ? 'sum' : metric.histogram ? 'histogram' : 'gauge';
  return { ...metric, [key]: { ...data, dataPoints: [] } };
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const gauge = async (api: string, name: 'tollgate_team_active_series' | 'tollgate_team_series_limit', team: string): Promise<number | undefined> =>
  (await scrapeMetrics(api)).find((s) => s.name === name && s.labels.team === team)?.value;

// ─── Processes ─────────────────────────────────────────────────────────────────────────────────

function writeRules(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tollgate-budget-rules-')), 'rules.yaml');
  writeFileSync(path, text);
  return path;
}

/** Sweeps and snapshots every second (their minimum), the store flushed often: tests see state change within seconds. */
function configFor(downstream: Downstream, rulesPath: string): string {
  return [
    `rules: ${rulesPath}`,
    'processors:',
    '  cardinality:',
    '    sweep_interval: 1s',
    '    snapshot_interval: 1s',
    'usage_store:',
    '  flush_interval: 250ms',
    'exporters:',
    '  otlphttp:',
    `    endpoint: ${downstream.url}`,
    '',
  ].join('\n');
}

/** A delta sum request of one point per user, under a resource of `namespace`. */
function sumRequest(namespace: string, metric: string, users: readonly string[], value = 1): Uint8Array {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  return encodeRequest('metrics', {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.namespace', value: { stringValue: namespace } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: metric,
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: users.map((user) => ({ asInt: String(value), timeUnixNano: now, attributes: [{ key: 'user.id', value: { stringValue: user } }] })),
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

async function post(http: string, body: Uint8Array): Promise<number> {
  const response = await fetch(`http://${http}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  await response.arrayBuffer();
  return response.status;
}

/** user.id of every point of `metric` the downstream accepted for `namespace`, in arrival order. */
function usersReceived(downstream: Downstream, namespace: string, metric: string): string[] {
  return requestsOfTeam(downstream, namespace)
    .flat()
    .filter((flat) => flat.item.name === metric)
    .flatMap((flat) => pointsOf(flat.item))
    .map((point) => text(attributesOf(point)['user.id']) ?? '(none)');
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

// ─── Shared checks ─────────────────────────────────────────────────────────────────────────────

/**
 * One exploding client, export by export and metric by metric: the resource and scope kept, the
 * series that went through exactly as the SDK sent them, at most one overflow series (with only
 * the overflow attribute), and totals across all of them equal to what the SDK sent. Returns the
 * user ids that went through per metric, per export.
 */
function assertTotalsKept(received: readonly (readonly FlatItem[])[], sdk: SdkMeter, label: string): Map<string, string>[] {
  const sent = sdk.metricExports;
  assert.equal(received.length, sent.length, `${label}: one request downstream per SDK export`);
  return sent.map((resourceMetrics, k) => {
    const expected = expectedMetricItems([resourceMetrics]);
    const through = new Map<string, string>();
    for (const name of [COUNTER, HISTOGRAM]) {
      const want = metricNamed(expected, name);
      const got = metricNamed(received[k], name);
      const where = `${label}: ${name}, export ${k + 1}`;
      assert.deepStrictEqual(got.resource, want.resource, `${where}: the resource is kept`);
      assert.deepStrictEqual(got.scope, want.scope, `${where}: the scope is kept`);
      assert.deepStrictEqual(withoutPoints(got.item), withoutPoints(want.item), `${where}: name, unit, temporality kept`);
      const wantPoints = pointsOf(want.item);
      assert.equal(wantPoints.length, USERS, `${where}: the SDK sent every user`);
      const gotPoints = pointsOf(got.item);
      const normal = gotPoints.filter((p) => !isOverflow(p));
      const overflow = gotPoints.filter(isOverflow);
      assert.ok(overflow.length <= 1, `${where}: at most one overflow series`);
      assert.equal(overflow.length, normal.length < USERS ? 1 : 0, `${where}: an overflow series exactly when series were refused`);
      if (overflow.length === 1) {
        assert.deepStrictEqual(overflow[0].attributes, [{ key: OVERFLOW_KEY, value: { boolValue: true } }], `${where}: the overflow series has only the overflow attribute`);
        assert.ok(BigInt(overflow[0].startTimeUnixNano as string) <= BigInt(overflow[0].timeUnixNano as string), `${where}: overflow start ≤ time`);
      }
      for (const point of normal) {
        const twin = wantPoints.find((p) => JSON.stringify(p.attributes) === JSON.stringify(point.attributes));
        assert.deepStrictEqual(point, twin, `${where}: an admitted series passes untouched`);
      }
      assert.deepStrictEqual(totalOf(gotPoints), totalOf(wantPoints), `${where}: totals across all series (overflow included) equal what the SDK sent`);
      through.set(name, normal.map((p) => text(attributesOf(p)['user.id'])).sort().join(','));
    }
    return through;
  });
}

/**
 * The scenario under enforce: exactly PER_METRIC_LIMIT series of each metric go through, the
 * same ones in every export, the rest in one overflow series, totals kept. The steady team:
 * exactly what the SDK sent.
 */
function assertEnforcedScenario(downstream: Downstream, clients: Clients, temporality: 'cumulative' | 'delta'): void {
  const through = assertTotalsKept(requestsOfTeam(downstream, EXPLODING), clients.exploding, `exploding (${temporality})`);
  for (const name of [COUNTER, HISTOGRAM]) {
    assert.equal(through[0].get(name)?.split(',').length, PER_METRIC_LIMIT, `${name}: exactly the limit of series go through`);
    assert.equal(through[1].get(name), through[0].get(name), `${name}: the series admitted first keep flowing, no other`);
  }
  const steady = requestsOfTeam(downstream, STEADY).flat();
  assert.deepStrictEqual(sortItems(steady), sortItems(expectedMetricItems(clients.steady.metricExports)), 'the team under budget is untouched');
}

/** Budget counters of one team from /metrics, keyed `rule/action` (violations) and `outcome` (points). */
function budgetCounts(samples: readonly Sample[], team: string): { violations: Record<string, number>; points: Record<string, number> } {
  const violations: Record<string, number> = {};
  const points: Record<string, number> = {};
  for (const s of samples) {
    if (s.labels.team !== team || s.value === 0) continue;
    if (s.name === 'tollgate_budget_violations_total') violations[`${s.labels.rule}/${s.labels.action}`] = (violations[`${s.labels.rule}/${s.labels.action}`] ?? 0) + s.value;
    if (s.name === 'tollgate_budget_points_total') points[s.labels.outcome] = s.value;
  }
  return { violations, points };
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Points per export of the exploding team: two metrics of USERS series. */
const EXPLODING_POINTS = 2 * USERS;
const REFUSED_PER_EXPORT = 2 * (USERS - PER_METRIC_LIMIT);

// ─── Tests ─────────────────────────────────────────────────────────────────────────────────────

describe('cardinality budgets through tollgate serve', () => {
  let downstream: Downstream | undefined;
  let tollgates: TollgateProcess[] = [];
  let clients: SdkMeter[] = [];
  let proxy: RecordingProxy | undefined;

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.shutdown().catch(() => undefined)));
    for (const t of tollgates) await t.stop();
    await proxy?.close();
    await downstream?.close();
    [downstream, tollgates, clients, proxy] = [undefined, [], [], undefined];
  });

  async function start(rules: string, options: { dataDir?: string } = {}): Promise<TollgateProcess> {
    downstream ??= await startDownstream();
    const tollgate = await startTollgate(configFor(downstream, writeRules(rules)), options);
    tollgates.push(tollgate);
    return tollgate;
  }

  function track(pair: Clients): Clients {
    clients.push(pair.steady, pair.exploding);
    return pair;
  }

  for (const temporality of ['cumulative', 'delta'] as const) {
    test(`real SDK, ${temporality}: the team under budget is untouched, the exploding team gets exactly its limit and an overflow series, totals kept, decisions in /metrics`, { timeout: 30_000 }, async () => {
      const tollgate = await start(scenarioRules('enforce'));
      const pair = track(startClients(tollgate.http, temporality));
      // Decisions are counted before the SDK gets its answer: /metrics after each export.
      const afterExport: ReturnType<typeof budgetCounts>[] = [];
      await sendRounds(pair, {
        afterRound: async () => {
          afterExport.push(budgetCounts(await scrapeMetrics(tollgate.api), EXPLODING));
        },
      });
      await waitFor('both exports of both teams downstream', () => requestsOfTeam(downstream!, EXPLODING).length === 2 && requestsOfTeam(downstream!, STEADY).length === 2);
      assertEnforcedScenario(downstream!, pair, temporality);
      const temporalities = requestsOfTeam(downstream!, EXPLODING)
        .flat()
        .map((flat) => dataOf(flat.item).aggregationTemporality);
      assert.deepEqual(new Set(temporalities), new Set([temporality === 'delta' ? 1 : 2]), 'the SDK used the temporality asked for');

      await waitFor('a sweep to publish the gauges', async () => (await gauge(tollgate.api, 'tollgate_team_active_series', EXPLODING)) === TEAM_LIMIT);
      const samples = await scrapeMetrics(tollgate.api);
      assert.equal(await gauge(tollgate.api, 'tollgate_team_active_series', STEADY), REGIONS.length);
      assert.equal(await gauge(tollgate.api, 'tollgate_team_series_limit', EXPLODING), TEAM_LIMIT);
      assert.equal(await gauge(tollgate.api, 'tollgate_team_series_limit', STEADY), STEADY_LIMIT);
      // Export 1: the first 5 series of each metric admitted (the counter's next ones refused by
      // the per-metric cap, the histogram's by the then full team budget), 15 + 15 overflowed.
      assert.deepEqual(afterExport[0].points, { admitted: TEAM_LIMIT, overflowed: REFUSED_PER_EXPORT }, 'export 1: points by outcome');
      assert.equal(total(afterExport[0].violations), REFUSED_PER_EXPORT, 'export 1: every refused point is a violation');
      // Export 2: the admitted series pass, the refused ones are refused again (each export
      // carries every user), and each refusal is counted, as it is for delta and in audit mode.
      const exploding = budgetCounts(samples, EXPLODING);
      assert.deepEqual(exploding.points, { admitted: TEAM_LIMIT, passed: TEAM_LIMIT, overflowed: 2 * REFUSED_PER_EXPORT }, 'exploding team: points by outcome');
      assert.equal(total(exploding.violations), exploding.points.overflowed, 'every point handled by the action is a counted violation');
      for (const key of Object.keys(exploding.violations)) assert.match(key, /^(max_active_series|max_series_per_metric)\/overflow$/);
      assert.equal(sampleSum(samples, 'tollgate_budget_violations_total', { team: EXPLODING, mode: 'enforce' }), 2 * REFUSED_PER_EXPORT);
      const steady = budgetCounts(samples, STEADY);
      assert.deepEqual(steady.points, { admitted: REGIONS.length, passed: REGIONS.length }, 'steady team: points by outcome');
      assert.deepEqual(steady.violations, {}, 'steady team: no violation');
    });
  }

  test('real SDK, cumulative, two instances of the exploding team: each resource keeps its own overflow series with its own totals', { timeout: 30_000 }, async () => {
    const tollgate = await start(scenarioRules('enforce'));
    const instances = ['signup-1', 'signup-2'].map((instance) =>
      startSdkMeter({ http: tollgate.http, resourceAttributes: { 'service.name': 'signup', 'service.namespace': EXPLODING, 'service.instance.id': instance } }),
    );
    clients.push(...instances);
    const workloads = instances.map((instance) => explodingWorkload(instance.meter));
    for (const round of [1, 2]) {
      // One after the other: the first instance takes the whole budget, the second has every series refused.
      for (const [i, instance] of instances.entries()) {
        workloads[i](round);
        await instance.collect();
      }
    }
    for (const instance of instances) assert.ok(instance.exports.every((e) => e.code === EXPORT_SUCCESS), `every SDK export succeeded: ${JSON.stringify(instance.exports)}`);
    const received = (instance: string): FlatItem[][] => requestsOfResource(downstream!, 'service.instance.id', instance);
    await waitFor('both exports of both instances downstream', () => received('signup-1').length === 2 && received('signup-2').length === 2);
    const first = assertTotalsKept(received('signup-1'), instances[0], 'signup-1');
    const second = assertTotalsKept(received('signup-2'), instances[1], 'signup-2');
    for (const name of [COUNTER, HISTOGRAM]) {
      assert.equal(first[0].get(name)?.split(',').length, PER_METRIC_LIMIT, `signup-1 ${name}: the limit of series`);
      assert.equal(first[1].get(name), first[0].get(name));
      assert.equal(second[0].get(name), '', `signup-2 ${name}: every series in the overflow series`);
      assert.equal(second[1].get(name), '');
    }
  });

  for (const temporality of ['cumulative', 'delta'] as const) {
    test(`audit mode, ${temporality}: the downstream gets the SDK bytes unchanged, the violations counted are those of enforce`, { timeout: 30_000 }, async () => {
      // The same traffic through an enforcing and an auditing Tollgate.
      const counts: Record<string, ReturnType<typeof budgetCounts>> = {};
      for (const mode of ['enforce', 'audit'] as const) {
        downstream = await startDownstream();
        const tollgate = await start(scenarioRules(mode));
        proxy = await startRecordingProxy(tollgate.http);
        const pair = track(startClients(proxy.address, temporality));
        await sendRounds(pair);
        await waitFor('both exports of both teams downstream', () => requestsOfTeam(downstream!, EXPLODING).length === 2 && requestsOfTeam(downstream!, STEADY).length === 2);
        await waitFor('a sweep to publish the gauges', async () => (await gauge(tollgate.api, 'tollgate_team_active_series', EXPLODING)) === TEAM_LIMIT);
        counts[mode] = budgetCounts(await scrapeMetrics(tollgate.api), EXPLODING);
        if (mode === 'enforce') {
          assertEnforcedScenario(downstream, pair, temporality);
        } else {
          const base64 = (bodies: readonly Uint8Array[]): string[] => bodies.map((b) => Buffer.from(b).toString('base64')).sort();
          const sentBodies = proxy.requests.filter((r) => r.path === '/v1/metrics').map((r) => r.body);
          const receivedBodies = downstream.requests.filter((r) => r.signal === 'metrics').map((r) => r.body);
          assert.equal(sentBodies.length, 4, 'two exports of each team went through the proxy');
          assert.deepEqual(base64(receivedBodies), base64(sentBodies), 'audit: the downstream received the bytes the SDK sent');
          const everything = flattenRequests('metrics', downstream.accepted('metrics'));
          assert.deepStrictEqual(sortItems(everything), sortItems(expectedMetricItems([...pair.steady.metricExports, ...pair.exploding.metricExports])), 'audit: field for field what the SDK sent');
          assert.equal(everything.flatMap((flat) => pointsOf(flat.item)).filter(isOverflow).length, 0, 'audit: no overflow series');
        }
        await Promise.all([pair.steady.shutdown(), pair.exploding.shutdown()]);
        await proxy.close();
        await tollgate.stop();
        await downstream.close();
        [downstream, proxy] = [undefined, undefined];
      }
      assert.equal(total(counts.audit.violations), 2 * REFUSED_PER_EXPORT, 'audit: every refusal of both exports counted');
      assert.deepEqual(counts.audit.violations, counts.enforce.violations, 'the same violations by rule and action in both modes');
      const { audited, ...auditRest } = counts.audit.points;
      const { overflowed, ...enforceRest } = counts.enforce.points;
      assert.equal(audited, overflowed, 'what enforce overflowed, audit counted as audited');
      assert.deepEqual(auditRest, enforceRest, 'admitted and passed alike');
    });
  }

  test('window expiry: series unseen for the active window free their budget, new series are admitted again', { timeout: 30_000 }, async () => {
    const tollgate = await start(`version: 1
mode: enforce
teams:
  - name: windowed
    match:
      service.namespace: windowed
    budgets:
      metrics:
        max_active_series: 5
        active_window: 2s
        action: drop
`);
    const first = range('u-', 0, 5);
    const later = range('u-', 5, 10);
    assert.equal(await post(tollgate.http, sumRequest('windowed', 'visits', first)), 200);
    await waitFor('the first series downstream', () => usersReceived(downstream!, 'windowed', 'visits').length === 5);
    // u-0 is an existing series and passes; the five new ones are over the budget and dropped.
    assert.equal(await post(tollgate.http, sumRequest('windowed', 'visits', ['u-0', ...later])), 200);
    const lastSeen = Date.now();
    await waitFor('the second request downstream', () => usersReceived(downstream!, 'windowed', 'visits').length === 6);
    assert.deepEqual(usersReceived(downstream!, 'windowed', 'visits'), [...first, 'u-0'], 'the series over the budget were dropped');
    assert.equal(sampleSum(await scrapeMetrics(tollgate.api), 'tollgate_budget_violations_total', { team: 'windowed', rule: 'max_active_series', action: 'drop' }), 5);
    await waitFor('the gauge to show the full budget', async () => (await gauge(tollgate.api, 'tollgate_team_active_series', 'windowed')) === 5);

    // No traffic: after the 2 s window (and a sweep) every series is gone.
    await waitFor('the series to expire', async () => (await gauge(tollgate.api, 'tollgate_team_active_series', 'windowed')) === 0, 10_000);
    assert.ok(Date.now() - lastSeen >= 2_000, `expired ${Date.now() - lastSeen} ms after the last point: not before the window`);

    assert.equal(await post(tollgate.http, sumRequest('windowed', 'visits', later)), 200);
    await waitFor('the new series downstream', () => usersReceived(downstream!, 'windowed', 'visits').length === 11);
    assert.deepEqual(usersReceived(downstream!, 'windowed', 'visits').slice(6), later, 'the freed budget admits the new series');
    await waitFor('the gauge to count them', async () => (await gauge(tollgate.api, 'tollgate_team_active_series', 'windowed')) === 5);
    const samples = await scrapeMetrics(tollgate.api);
    assert.equal(sampleSum(samples, 'tollgate_budget_violations_total', { team: 'windowed' }), 5, 'no new violation');
    assert.equal(sampleSum(samples, 'tollgate_budget_points_total', { team: 'windowed', outcome: 'admitted' }), 10);
  });

  test('restart after SIGKILL: the series come back within a snapshot interval, the budget is not handed out afresh, the SQLite file is intact', { timeout: 30_000 }, async () => {
    const rules = `version: 1
mode: enforce
teams:
  - name: restarted
    match:
      service.namespace: restarted
    budgets:
      metrics:
        max_active_series: 10
        action: drop
`;
    const first = await start(rules);
    const dbPath = join(first.dataDir, 'tollgate.db');
    const known = range('r-', 0, 6);

    // Traffic on six series, until the process is killed under it.
    let flowing = true;
    const traffic = (async () => {
      while (flowing) {
        await post(first.http, sumRequest('restarted', 'jobs', known)).catch(() => undefined);
        await sleep(50);
      }
    })();
    try {
      await waitFor('the six series in the gauge', async () => (await gauge(first.api, 'tollgate_team_active_series', 'restarted')) === 6);
      const counted = Date.now();
      // A snapshot taken after the gauge showed them holds them (read while the process writes: WAL).
      await waitFor('a snapshot of the series state', () => {
        const db = new Database(dbPath, { readonly: true, fileMustExist: true });
        try {
          const row = db.prepare<[], { taken_at: number }>("SELECT taken_at FROM snapshots WHERE name = 'cardinality-budgets'").get();
          return row !== undefined && row.taken_at > counted;
        } finally {
          db.close();
        }
      });
      first.child.kill('SIGKILL');
      assert.equal(await first.stop(), null, 'killed, no exit code');
      assert.equal(first.child.signalCode, 'SIGKILL');
    } finally {
      flowing = false;
      await traffic;
    }

    const second = await start(rules, { dataDir: first.dataDir });
    assert.match(second.stderr(), /"cardinality state restored".*"series":6/, 'the snapshot was restored');
    await waitFor('the gauge after the first sweep', async () => (await gauge(second.api, 'tollgate_team_active_series', 'restarted')) === 6, 5_000);

    // Six new series against 4 left of the budget: a fresh budget would take all six.
    const fresh = range('r-', 6, 12);
    const before = usersReceived(downstream!, 'restarted', 'jobs').length;
    assert.equal(await post(second.http, sumRequest('restarted', 'jobs', fresh)), 200);
    await waitFor('the admitted new series downstream', () => usersReceived(downstream!, 'restarted', 'jobs').length >= before + 4);
    await sleep(200);
    assert.deepEqual(usersReceived(downstream!, 'restarted', 'jobs').slice(before), fresh.slice(0, 4), 'only the budget left is admitted');
    const samples = await scrapeMetrics(second.api);
    assert.equal(sampleSum(samples, 'tollgate_budget_violations_total', { team: 'restarted', rule: 'max_active_series', action: 'drop' }), 2);
    assert.equal(sampleSum(samples, 'tollgate_budget_points_total', { team: 'restarted', outcome: 'admitted' }), 4);
    await waitFor('the gauge at the limit', async () => (await gauge(second.api, 'tollgate_team_active_series', 'restarted')) === 10);

    assert.equal(await second.stop(), 0, 'clean exit');
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  test('usage store: per-minute usage and violations with sample label sets, read back after stop', { timeout: 30_000 }, async () => {
    const startedAt = Date.now();
    const tollgate = await start(scenarioRules('enforce', 'drop'));
    const pair = track(startClients(tollgate.http, 'cumulative'));
    await sendRounds(pair);
    await waitFor('both exports of both teams downstream', () => requestsOfTeam(downstream!, EXPLODING).length === 2 && requestsOfTeam(downstream!, STEADY).length === 2);
    await waitFor('a sweep to publish the gauges', async () => (await gauge(tollgate.api, 'tollgate_team_active_series', EXPLODING)) === TEAM_LIMIT);
    await Promise.all([pair.steady.shutdown(), pair.exploding.shutdown()]);
    // Shutting the providers down exported once more: 3 exports of each team in all.
    const exportsSent = pair.exploding.metricExports.length;
    assert.equal(exportsSent, 3);
    await waitFor('the last exports downstream', () => requestsOfTeam(downstream!, EXPLODING).length === exportsSent);
    assert.equal(await tollgate.stop(), 0);

    const store = openUsageStore({ dataDir: tollgate.dataDir });
    try {
      const sum = (team: string): { itemsIn: number; passed: number; dropped: number; overflowed: number; minutes: number } => {
        const series = store.reader.usage(team, 'metrics', startedAt - 60_000, Date.now() + 60_000);
        const used = series.points.filter((p) => p.itemsIn > 0);
        return {
          itemsIn: used.reduce((n, p) => n + p.itemsIn, 0),
          passed: used.reduce((n, p) => n + p.passed, 0),
          dropped: used.reduce((n, p) => n + p.dropped, 0),
          overflowed: used.reduce((n, p) => n + p.overflowed, 0),
          minutes: used.length,
        };
      };
      const exploding = sum(EXPLODING);
      assert.ok(exploding.minutes >= 1 && exploding.minutes <= 2, 'rows per minute');
      assert.deepEqual(
        { itemsIn: exploding.itemsIn, passed: exploding.passed, dropped: exploding.dropped, overflowed: exploding.overflowed },
        { itemsIn: exportsSent * EXPLODING_POINTS, passed: exportsSent * TEAM_LIMIT, dropped: exportsSent * REFUSED_PER_EXPORT, overflowed: 0 },
        'exploding team usage',
      );
      const steady = sum(STEADY);
      assert.deepEqual(
        { itemsIn: steady.itemsIn, passed: steady.passed, dropped: steady.dropped, overflowed: steady.overflowed },
        { itemsIn: exportsSent * REGIONS.length, passed: exportsSent * REGIONS.length, dropped: 0, overflowed: 0 },
        'steady team usage',
      );

      const recorded = store.reader.violations(EXPLODING, { since: startedAt - 60_000 }).items;
      // The team went from 0 to 100 % of max_active_series between two sweeps: one warning, naming
      // the highest threshold crossed (95 %).
      const warnings = recorded.filter((v) => v.rule === 'warning_threshold');
      assert.deepEqual(warnings.map((v) => [v.action, v.samples[0]?.threshold]), [['warn', '0.95']], 'one warning per crossing');
      const violations = recorded.filter((v) => v.rule !== 'warning_threshold');
      assert.equal(violations.reduce((n, v) => n + v.count, 0), exportsSent * REFUSED_PER_EXPORT, 'violations counted in the store');
      assert.deepEqual(new Set(violations.map((v) => v.action)), new Set(['drop']));
      assert.deepEqual(new Set(violations.map((v) => v.metric)), new Set([COUNTER, HISTOGRAM]));
      for (const violation of violations) {
        assert.ok(violation.samples.length >= 1, `samples of ${violation.metric}/${violation.rule}`);
        for (const sample of violation.samples) {
          assert.deepEqual(Object.keys(sample).sort(), ['http.route', 'user.id'], 'a sample is the label set of a refused series');
          assert.match(sample['user.id'], /^u-\d+$/);
        }
      }
      // A request refuses 15 series of each metric: a violation row keeps a few of them, not one.
      for (const violation of violations) {
        const admitted = new Set(usersReceived(downstream!, EXPLODING, violation.metric));
        assert.equal(admitted.size, PER_METRIC_LIMIT);
        assert.equal(violation.samples.length, 3, `${violation.metric}/${violation.rule}: three sample label sets`);
        for (const sample of violation.samples) assert.ok(!admitted.has(sample['user.id']), `${violation.metric}: samples are refused series`);
      }
      assert.equal(store.reader.violations(STEADY).items.length, 0);

      const budgets = parseRules(scenarioRules('enforce', 'drop'), 'rules.yaml').teams.find((t) => t.name === EXPLODING)?.budgets;
      const status = store.reader.teamBudgetStatus(EXPLODING, budgets);
      assert.equal(status.metrics.usage, TEAM_LIMIT);
      assert.equal(status.metrics.limit, TEAM_LIMIT);
      assert.equal(status.metrics.status, 'exceeded');
      const top = store.reader.topMetrics(EXPLODING, 10);
      assert.deepEqual(top.map((m) => [m.metric, m.active]).sort(), [[HISTOGRAM, PER_METRIC_LIMIT], [COUNTER, PER_METRIC_LIMIT]].sort());
    } finally {
      store.close();
    }
  });
});
