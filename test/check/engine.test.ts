// The check engine on hand-built OTLP: which findings each check produces, at which level, with
// the counts worked out by hand from the inputs; suppressions; baselines; protobuf framings.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseOtlpJson } from '../../collector/otlp/otlp-json.js';
import { EmptySampleError, parseSuppressions, renderJson, runCheck } from '../../collector/check/index.js';
import type { CheckInput, CheckOptions, CheckReport, Finding } from '../../collector/check/index.js';
import { checkRules, encoder, labelSets, metricsRequest } from './support.js';

const CHECKOUT = { 'service.name': 'checkout' };
const NOW = Date.parse('2026-06-01T12:00:00Z');

function otlp(...lines: string[]): CheckInput {
  return { kind: 'otlp', path: 'sample.jsonl', bytes: encoder.encode(`${lines.join('\n')}\n`) };
}

function check(inputs: CheckInput[], options: Partial<CheckOptions> = {}): CheckReport {
  return runCheck({ rules: checkRules(), inputs, maxGrowth: 0.2, failOn: 'error', now: NOW, version: 'test', ...options });
}

const byRule = (report: CheckReport, ruleId: string): Finding[] => report.findings.filter((f) => f.ruleId === ruleId);

describe('tollgate check engine', () => {
  test('a deny-listed label is an error, and the series it would have made are not counted', () => {
    // 4 points that differ only in user_id: after the enforced drop they are one series.
    const report = check([otlp(metricsRequest(CHECKOUT, { 'http.requests': labelSets(4, 'user_id', 'u', { 'http.route': '/cart' }) }))]);
    const [finding] = byRule(report, 'attribute-policy/no-user-ids');
    assert.equal(finding.level, 'error');
    assert.equal(finding.team, 'checkout');
    assert.equal(finding.metric, 'http.requests');
    assert.equal(finding.label, 'user_id');
    assert.match(finding.message, /4 data points/);
    assert.deepEqual(finding.origin, { path: 'sample.jsonl', line: 1 });
    assert.equal(report.metrics[0].series, 1);
    assert.equal(report.summary.labels, 2, 'user_id and http.route were checked');
    assert.equal(report.passed, false);
  });

  test('an audit-mode policy is a warning: passes with --fail-on error, fails with warning', () => {
    const input = otlp(metricsRequest(CHECKOUT, { 'signups': [{ contact: 'ann@example.com' }, { contact: 'bob@example.com' }] }));
    const report = check([input]);
    const [finding] = byRule(report, 'attribute-policy/emails-in-labels');
    assert.equal(finding.level, 'warning');
    assert.match(finding.message, /looks like email/);
    assert.equal(report.metrics[0].series, 2, 'audit mode changes nothing, so both values still count');
    assert.equal(report.passed, true);
    assert.equal(check([input], { failOn: 'warning' }).passed, false);
  });

  test('series are counted after enforced policies: a redacted label collapses, a rejected point is not counted', () => {
    const rules = checkRules(
      `version: 1
mode: enforce
attribute_policies:
  - name: redact-emails
    signals: [metrics]
    values: [email]
    action: redact
  - name: reject-debug
    signals: [metrics]
    keys: [debug]
    action: reject
`,
    );
    const report = check(
      [
        otlp(
          metricsRequest(CHECKOUT, {
            // Three e-mails, one replacement: one series; the plain value is a second one.
            signups: [{ contact: 'a@example.com' }, { contact: 'b@example.com' }, { contact: 'c@example.com' }, { contact: 'nobody' }],
            // The point carrying `debug` is refused by the pipeline, so it never counts.
            jobs: [{ queue: 'q1' }, { queue: 'q2', debug: 'yes' }],
          }),
        ),
      ],
      { rules },
    );
    const stats = new Map(report.metrics.map((m) => [m.name, m]));
    assert.equal(stats.get('signups')?.series, 2);
    assert.equal(stats.get('signups')?.labels.get('contact'), 2);
    assert.equal(stats.get('jobs')?.series, 1);
    assert.equal(stats.get('jobs')?.points, 1);
    assert.equal(report.summary.points, 5);
    assert.deepEqual(report.findings.map((f) => [f.ruleId, f.level]).sort(), [['attribute-policy/redact-emails', 'error'], ['attribute-policy/reject-debug', 'error']]);
  });

  test('log records with the example rules: truncate acts only on long values, bodies are checked by value', () => {
    const rules = checkRules(readFileSync(new URL('../../rules/examples/platform-team.yaml', import.meta.url), 'utf8'));
    const attribute = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const logs = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [attribute('service.name', 'cart')] },
          scopeLogs: [
            {
              logRecords: [
                { body: { stringValue: 'order placed' }, attributes: [attribute('order.id', 'o-1')] },
                { body: { stringValue: 'mail sent to ann@example.com' }, attributes: [attribute('prompt', 'x'.repeat(5000))] },
              ],
            },
          ],
        },
      ],
    });
    const report = check([otlp(logs)], { rules });
    assert.deepEqual(
      report.findings.map((f) => [f.ruleId, f.label, f.level]).sort(),
      [
        ['attribute-policy/redact-secrets', '(body)', 'error'],
        ['attribute-policy/truncate-long-values', 'prompt', 'error'],
      ],
    );
    assert.match(report.findings.find((f) => f.label === '(body)')!.message, /^the body of log records \(its value looks like email or credit_card or jwt or /);
    assert.equal(report.summary.items, 2);
  });

  test('series per metric: over the default cap and over a per_metric cap; exempt metrics are not capped', () => {
    const report = check([
      otlp(
        metricsRequest(CHECKOUT, {
          orders: labelSets(6, 'shop', 's'), // default cap 5 → over
          'big.table': labelSets(6, 'shard', 's'), // per_metric cap 10 → fine
          up: labelSets(7, 'instance', 'i'), // exempt
        }),
      ),
    ]);
    const findings = byRule(report, 'cardinality/series-per-metric');
    assert.deepEqual(findings.map((f) => f.metric), ['orders']);
    assert.match(findings[0].message, /6 series .* cap of 5 \(default_max_series_per_metric/);
    // Projected team series: 6 + 6, without the exempt metric = 12 of 20: below the 80 % threshold.
    assert.deepEqual(byRule(report, 'budget/projected-active-series'), []);
    assert.equal(report.summary.series, 19);
    assert.equal(report.summary.metrics, 3);
  });

  test('per-label distinct values over the cap', () => {
    const report = check([otlp(metricsRequest(CHECKOUT, { 'http.requests': labelSets(4, 'http.route', '/r') }))]);
    const [finding] = byRule(report, 'cardinality/label-distinct-values');
    assert.equal(finding.label, 'http.route');
    assert.match(finding.message, /4 distinct values .* cap of 3/);
  });

  test('projected active series: current usage from the API plus the sample, against the limit the API reports', () => {
    const input = otlp(metricsRequest(CHECKOUT, { a: labelSets(3, 'k', 'v'), b: labelSets(3, 'k', 'v') }));
    const over = check([input], { usage: new Map([['checkout', { usage: 15, limit: 20 }]]) });
    const [exceeded] = byRule(over, 'budget/projected-active-series');
    assert.equal(exceeded.level, 'error');
    assert.match(exceeded.message, /21 active series \(15 active now \+ 6 in this sample\), over its budget of 20/);
    // A budget exception reported by the API (limit 100) wins over the rules' 20.
    assert.deepEqual(byRule(check([input], { usage: new Map([['checkout', { usage: 15, limit: 100 }]]) }), 'budget/projected-active-series'), []);
    const near = byRule(check([input], { usage: new Map([['checkout', { usage: 10, limit: 20 }]]) }), 'budget/projected-active-series');
    assert.equal(near[0].level, 'warning');
    assert.match(near[0].message, /16 active series .* 80 % of its budget of 20, past the 80 % warning threshold/);
  });

  test('baseline: new metric (note), new label (warning), growth beyond --max-growth (error)', () => {
    const baseline = [otlp(metricsRequest(CHECKOUT, { kept: labelSets(5, 'k', 'v'), grown: labelSets(5, 'k', 'v') }))];
    const report = check(
      [otlp(metricsRequest(CHECKOUT, { kept: labelSets(5, 'k', 'v', { region: 'eu' }), grown: labelSets(6, 'k', 'v'), fresh: [{}] }))],
      { baseline, maxGrowth: 0.1 },
    );
    assert.deepEqual(byRule(report, 'baseline/new-metric').map((f) => [f.metric, f.level]), [['fresh', 'note']]);
    assert.deepEqual(byRule(report, 'baseline/new-label').map((f) => [f.metric, f.label, f.level]), [['kept', 'region', 'warning']]);
    const growth = byRule(report, 'baseline/series-growth');
    assert.deepEqual(growth.map((f) => f.metric), ['grown']);
    assert.match(growth[0].message, /from 5 to 6 series \(\+20 %\), more than the allowed 10 %/);
    // 20 % growth is allowed by the default 20 %.
    assert.deepEqual(byRule(check([otlp(metricsRequest(CHECKOUT, { grown: labelSets(6, 'k', 'v') }))], { baseline }), 'baseline/series-growth'), []);
  });

  test('a saved --format json report is a baseline too', () => {
    const saved = check([otlp(metricsRequest(CHECKOUT, { grown: labelSets(2, 'k', 'v') }))]);
    const baseline: CheckInput[] = [{ kind: 'auto', path: 'main.json', bytes: encoder.encode(renderJson(saved)) }];
    const report = check([otlp(metricsRequest(CHECKOUT, { grown: labelSets(4, 'k', 'v') }))], { baseline });
    assert.match(byRule(report, 'baseline/series-growth')[0].message, /from 2 to 4 series/);
  });

  test('suppressions: one in force hides its finding and is counted; an expired one is reported and hides nothing', () => {
    const suppressions = parseSuppressions(
      [
        'suppressions:',
        '  - rule: attribute-policy/no-user-ids',
        '    metric: legacy.*',
        '    owner: "@checkout"',
        '    expires: 2026-12-31',
        '    reason: v1 API goes away',
        '  - rule: cardinality/*',
        '    metric: orders',
        '    owner: ops@example.com',
        '    expires: 2026-01-31',
      ].join('\n'),
      'suppressions.yaml',
    );
    const report = check(
      [otlp(metricsRequest(CHECKOUT, { 'legacy.hits': [{ user_id: 'u1' }], 'new.hits': [{ user_id: 'u2' }], orders: labelSets(6, 'shop', 's') }))],
      { suppressions },
    );
    const policy = byRule(report, 'attribute-policy/no-user-ids');
    assert.deepEqual(policy.map((f) => [f.metric, f.suppressedBy?.owner]), [['legacy.hits', '@checkout'], ['new.hits', undefined]].sort());
    const [expired] = byRule(report, 'suppression/expired');
    assert.equal(expired.level, 'warning');
    assert.deepEqual(expired.origin, { path: 'suppressions.yaml', line: 7 });
    assert.match(expired.message, /owned by ops@example.com expired on 2026-01-31.*1 finding in this run/);
    assert.equal(byRule(report, 'cardinality/series-per-metric')[0].suppressedBy, undefined);
    assert.equal(report.summary.suppressed, 1);
    assert.equal(report.summary.expiredSuppressions, 1);
    assert.equal(report.summary.findings.error, 2);
  });

  test('an invalid suppressions file names the key path and line', () => {
    assert.throws(
      () => parseSuppressions('suppressions:\n  - rule: x\n    owner: me\n    expires: soon\n', 's.yaml'),
      (error: Error) => /s\.yaml:4:\d+: suppressions\[0\]\.expires: must be a date/.test(error.message),
    );
  });

  test('spans are checked against attribute policies; nothing at all is an error, not a pass', () => {
    const spans = JSON.stringify({
      resourceSpans: [{ resource: {}, scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'pay', attributes: [{ key: 'card.number', value: { stringValue: '4111' } }] }] }] }],
    });
    const report = check([otlp(spans)]);
    assert.equal(report.summary.items, 1);
    assert.equal(byRule(report, 'attribute-policy/no-card-numbers-in-spans')[0].level, 'error');
    assert.throws(() => check([otlp('')]), EmptySampleError);
    assert.throws(() => check([otlp(metricsRequest(CHECKOUT, {}))]), /nothing to check/);
  });

  test('protobuf inputs, one request or length-prefixed requests, give the same sample as JSON lines', () => {
    const a = metricsRequest(CHECKOUT, { orders: labelSets(6, 'shop', 's') });
    const b = metricsRequest({ 'service.name': 'other' }, { misc: [{ user_id: 'x' }] });
    const framed = (...messages: Uint8Array[]): Uint8Array => {
      const out = Buffer.alloc(messages.reduce((n, m) => n + 4 + m.length, 0));
      let at = 0;
      for (const m of messages) {
        out.writeUInt32BE(m.length, at);
        out.set(m, at + 4);
        at += 4 + m.length;
      }
      return out;
    };
    const json = check([otlp(a, b)]);
    const single = check([{ kind: 'otlp', path: 'a.pb', bytes: parseOtlpJson('metrics', a) }, { kind: 'otlp', path: 'b.pb', bytes: parseOtlpJson('metrics', b) }]);
    const stream = check([{ kind: 'otlp', path: 'all.pb', bytes: framed(parseOtlpJson('metrics', a), parseOtlpJson('metrics', b)) }]);
    const shape = (r: CheckReport) => ({ summary: { ...r.summary, inputs: 0, requests: 0 }, findings: r.findings.map((f) => [f.ruleId, f.team, f.metric, f.label]) });
    assert.deepEqual(shape(single), shape(json));
    assert.deepEqual(shape(stream), shape(json));
    assert.equal(stream.summary.requests, 2);
    assert.throws(() => check([{ kind: 'otlp', path: 'bad.pb', bytes: Uint8Array.of(0, 0, 0, 9, 1) }]), /bad\.pb: message 1 is cut short/);
  });
});
