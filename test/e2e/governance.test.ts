// Governance end to end, with real parts: `tollgate serve` as a child process with a rules file,
// the real OpenTelemetry SDK as the client, a real OTLP/HTTP downstream. The rules act on the
// data the downstream receives, the actions are counted in /metrics, and the rules file is
// hot-reloaded (file change and SIGHUP) while traffic flows, a broken file keeping the old rules.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { metrics, trace, ValueType } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { encodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject, OtlpValue } from '../../collector/otlp/object-codec.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream } from '../support/downstream.js';
import { sampleSum, scrapeMetrics } from '../support/prometheus.js';
import { startSdkApp, stopE2eParts, withTimeout } from '../support/sdk-app.js';
import type { SdkApp } from '../support/sdk-app.js';
import { flattenRequests } from '../support/sdk-expected.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

const HASH_KEY = 'e2e-governance-secret';

/** What `hash` must produce: HMAC-SHA256 of the value under the configured key, hex, first 16 characters. */
function expectedHash(value: string): string {
  return createHmac('sha256', HASH_KEY).update(value).digest('hex').slice(0, 16);
}

function attributes(owner: OtlpValue | undefined): Record<string, OtlpValue> {
  const list = ((owner as OtlpObject | undefined)?.attributes ?? []) as OtlpObject[];
  return Object.fromEntries(list.map((kv) => [kv.key as string, kv.value]));
}

function dataPointsOf(metric: OtlpObject): OtlpObject[] {
  return ((metric.sum as OtlpObject | undefined)?.dataPoints ?? []) as OtlpObject[];
}

function writeRules(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configFor(downstream: Downstream, rulesPath: string): string {
  return [
    `rules: ${rulesPath}`,
    'processors:',
    '  attribute_policy:',
    `    hash_key: ${HASH_KEY}`,
    'exporters:',
    '  otlphttp:',
    `    endpoint: ${downstream.url}`,
    '',
  ].join('\n');
}

const ENFORCED_RULES = `version: 1
mode: enforce
teams:
  # Tier critical keeps every span and log record: this test is about attribute policies, not sampling.
  - name: shop
    match:
      service.namespace: shop
    tier: critical
  - name: others
    tier: critical
attribute_policies:
  - name: no-user-id-in-metrics
    signals: [metrics]
    keys: [user_id]
    action: drop
  - name: pseudonymize-customer
    signals: [traces, logs]
    keys: [customer.id]
    action: hash
  - name: no-passwords
    signals: [logs]
    keys: [password]
    action: reject
  - name: redact-email
    signals: [traces, logs]
    targets: [attributes, body]
    values: [email]
    action: redact
  - name: others-only
    teams: [others]
    signals: [traces]
    keys: [http.route]
    action: drop
`;

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('governance rules in the default pipeline of tollgate serve', () => {
  let downstream: Downstream | undefined;
  let tollgate: TollgateProcess | undefined;
  let app: SdkApp | undefined;

  afterEach(async () => {
    await stopE2eParts({ app, tollgate, downstream });
    [app, tollgate, downstream] = [undefined, undefined, undefined];
  });

  test('real SDK traffic: labels dropped and series merged, values hashed and redacted, a record rejected as partial success, actions counted', { timeout: 40_000 }, async () => {
    downstream = await startDownstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-rules-'));
    tollgate = await startTollgate(configFor(downstream, writeRules(dir, 'rules.yaml', ENFORCED_RULES)));
    app = startSdkApp({ http: tollgate.http, resourceAttributes: { 'service.name': 'checkout', 'service.namespace': 'shop' } });

    const orders = metrics.getMeter('governance-e2e').createCounter('shop.orders', { valueType: ValueType.INT });
    orders.add(1, { user_id: 'u-1', route: '/a' });
    orders.add(2, { user_id: 'u-2', route: '/a' });
    orders.add(5, { user_id: 'u-3', route: '/b' });
    trace
      .getTracer('governance-e2e')
      .startSpan('checkout', { attributes: { 'customer.id': 'c-42', contact: 'jane.doe@example.com', 'http.route': '/checkout' } })
      .end();
    const logger = logs.getLogger('governance-e2e');
    logger.emit({ severityNumber: SeverityNumber.INFO, body: 'mail sent to jane.doe@example.com', attributes: { 'customer.id': 'c-42' } });
    logger.emit({ severityNumber: SeverityNumber.WARN, body: 'login', attributes: { password: 'hunter2' } });
    await withTimeout(app.shutdown(), 15_000, 'SDK flush');

    // Metrics: user_id is gone and the points that differed only by it are one series each, summed.
    const points = flattenRequests('metrics', downstream.accepted('metrics'))
      .filter((flat) => flat.item.name === 'shop.orders')
      .flatMap((flat) => dataPointsOf(flat.item));
    const byRoute = Object.fromEntries(points.map((p) => [(attributes(p).route as OtlpObject).stringValue as string, p]));
    assert.equal(points.length, 2, 'one point per remaining series');
    assert.deepEqual(Object.keys(attributes(byRoute['/a'])), ['route'], 'user_id dropped');
    assert.equal(byRoute['/a'].asInt, '3', 'u-1 and u-2 merged: 1 + 2');
    assert.equal(byRoute['/b'].asInt, '5');

    // Traces: customer.id hashed with the configured key, the e-mail redacted, the team-scoped policy not applied.
    const [span] = flattenRequests('traces', downstream.accepted('traces')).map((flat) => flat.item);
    const spanAttributes = attributes(span);
    assert.deepEqual(spanAttributes['customer.id'], { stringValue: expectedHash('c-42') });
    assert.deepEqual(spanAttributes.contact, { stringValue: '[REDACTED]' });
    assert.deepEqual(spanAttributes['http.route'], { stringValue: '/checkout' }, 'the policy of team "others" does not apply to team shop');

    // Logs: the body with an e-mail redacted, the record with a password rejected and reported to the SDK.
    const records = flattenRequests('logs', downstream.accepted('logs')).map((flat) => flat.item);
    assert.equal(records.length, 1, 'the record carrying a password never left Tollgate');
    assert.deepEqual(records[0].body, { stringValue: '[REDACTED]' });
    assert.deepEqual(attributes(records[0])['customer.id'], { stringValue: expectedHash('c-42') });
    const partial = app.diagnostics.find((line) => line.includes('Partial Success'));
    assert.ok(partial, `the SDK was told about the rejected record; diagnostics: ${app.diagnostics.join(' | ')}`);
    assert.match(partial, /"rejectedLogRecords":"?1"?/);
    assert.match(partial, /no-passwords/, 'the message names the policy');

    const samples = await scrapeMetrics(tollgate.api);
    const actions = (policy: string, action: string, signal: string): number => sampleSum(samples, 'tollgate_attribute_actions_total', { policy, action, signal, mode: 'enforce' });
    assert.equal(actions('no-user-id-in-metrics', 'drop', 'metrics'), 3);
    assert.equal(actions('pseudonymize-customer', 'hash', 'traces'), 1);
    assert.equal(actions('pseudonymize-customer', 'hash', 'logs'), 1);
    assert.equal(actions('redact-email', 'redact', 'traces'), 1);
    assert.equal(actions('redact-email', 'redact', 'logs'), 1);
    assert.equal(actions('no-passwords', 'reject', 'logs'), 1);
    assert.equal(sampleSum(samples, 'tollgate_reaggregated_points_total', { outcome: 'merged' }), 1, 'one point folded into another');
  });

  test('hot reload while traffic flows: a broken file keeps the old rules, a fixed one is swapped in, SIGHUP reloads, the hash is in /metrics and the logs', { timeout: 60_000 }, async () => {
    downstream = await startDownstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-rules-'));
    const dropUserId = `version: 1\nmode: enforce\nattribute_policies:\n  - name: users\n    signals: [metrics]\n    keys: [user_id]\n    action: drop\n`;
    const hashUserId = dropUserId.replace('action: drop', 'action: hash');
    const rulesPath = writeRules(dir, 'rules.yaml', dropUserId);
    const running = await startTollgate(configFor(downstream, rulesPath));
    tollgate = running;

    const rulesHashes = async (): Promise<string[]> => (await scrapeMetrics(running.api)).filter((s) => s.name === 'tollgate_rules_info' && s.value === 1).map((s) => s.labels.hash);
    const reloads = async (outcome: string): Promise<number> => sampleSum(await scrapeMetrics(running.api), 'tollgate_rules_reload_total', { outcome });
    const [firstHash] = await rulesHashes();
    assert.match(firstHash, /^[0-9a-f]{64}$/);
    assert.match(running.stderr(), new RegExp(`"rules loaded".*"hash":"${firstHash}"`));

    // Traffic: one request every 20 ms, each numbered in a resource attribute, each point carrying user_id.
    const statuses: number[] = [];
    let sent = 0;
    let flowing = true;
    const traffic = (async () => {
      while (flowing) {
        const seq = sent++;
        const body = encodeRequest('metrics', {
          resourceMetrics: [
            {
              resource: { attributes: [{ key: 'seq', value: { intValue: String(seq) } }] },
              scopeMetrics: [{ metrics: [{ name: 'logins', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: '1', timeUnixNano: '1', attributes: [{ key: 'user_id', value: { stringValue: 'u-7' } }] }] } }] }],
            },
          ],
        });
        const response = await fetch(`http://${running.http}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
        await response.arrayBuffer();
        statuses.push(response.status);
        await sleep(20);
      }
    })();
    const sentNow = (): number => sent;
    /** How the rules in force treated user_id in each request the downstream received, by sequence number. */
    const treatment = (): Map<number, 'dropped' | 'hashed' | 'raw'> => {
      const seen = new Map<number, 'dropped' | 'hashed' | 'raw'>();
      for (const flat of flattenRequests('metrics', downstream!.accepted('metrics'))) {
        const seq = Number((attributes(flat.resource).seq as OtlpObject).intValue);
        const userId = attributes(dataPointsOf(flat.item)[0]).user_id as OtlpObject | undefined;
        seen.set(seq, userId === undefined ? 'dropped' : userId.stringValue === expectedHash('u-7') ? 'hashed' : 'raw');
      }
      return seen;
    };

    try {
      await waitFor('traffic under the first rules', () => treatment().size >= 5);

      writeRules(dir, 'rules.yaml', `${dropUserId}  - name: typo\n    signals: [metrics]\n    keyz: [x]\n    action: drop\n`);
      await waitFor('the broken file to be refused', async () => (await reloads('failure')) >= 1);
      const afterFailure = sentNow();
      await waitFor('traffic after the refusal', () => treatment().size > afterFailure + 3);
      assert.deepEqual(await rulesHashes(), [firstHash], 'the old rules are still in force');
      assert.match(running.stderr(), /"rules reload failed.*keyz/, 'the log names the error');

      writeRules(dir, 'rules.yaml', hashUserId);
      await waitFor('the fixed file to be swapped in', async () => (await reloads('success')) >= 1);
      const afterSuccess = sentNow();
      await waitFor('traffic after the swap', () => [...treatment().keys()].some((seq) => seq > afterSuccess + 3));
      const [secondHash] = await rulesHashes();
      assert.notEqual(secondHash, firstHash);
      assert.deepEqual(await rulesHashes(), [secondHash], 'exactly one rules hash is reported');
      assert.match(running.stderr(), new RegExp(`"rules reloaded".*"hash":"${secondHash}"`));

      // SIGHUP with the file unchanged re-reads it (the file watcher alone would not: the content is the same).
      const unchangedBefore = await reloads('unchanged');
      running.child.kill('SIGHUP');
      await waitFor('SIGHUP to reload', async () => (await reloads('unchanged')) === unchangedBefore + 1);
    } finally {
      flowing = false;
      await traffic;
    }

    // Every request was answered 200 and each one was treated by exactly one rules version:
    // the first until some point after the fixed file was written, then the second.
    assert.ok(statuses.length > 20 && statuses.every((s) => s === 200), `statuses: ${[...new Set(statuses)].join(',')}`);
    const seen = treatment();
    assert.equal(seen.size, statuses.length, 'every acknowledged request arrived');
    const ordered = [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, how]) => how);
    assert.ok(!ordered.includes('raw'), 'no request passed without a policy');
    const firstHashed = ordered.indexOf('hashed');
    assert.ok(firstHashed > 0, 'both rules versions saw traffic');
    assert.ok(ordered.slice(firstHashed).every((how) => how === 'hashed'), 'the swap happened once, between requests');
  });

  test('a rules file that cannot be loaded at start stops serve with its errors (exit 1)', { timeout: 30_000 }, async () => {
    downstream = await startDownstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-rules-'));
    const rulesPath = writeRules(dir, 'rules.yaml', 'version: 1\nattribute_policies:\n  - name: x\n    keys: [a]\n    action: explode\n');
    await assert.rejects(startTollgate(configFor(downstream, rulesPath)), (error: Error) => {
      assert.match(error.message, /exited with 1/);
      assert.match(error.message, /attribute_policies\[0\]\.action|attribute_policies\.0\.action/);
      return true;
    });
  });
});
