// deploy/prometheus/alerts.yaml: every rule is well-formed, every expression parses with the
// PromQL grammar Prometheus' own UI uses (@prometheus-io/lezer-promql), and every metric, label
// and label value it selects exists on a running Tollgate — one driven through the situations
// the alerts are about (failing and slow downstream, full queue, malformed data, an enforced
// budget, a broken rules file), then scraped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { createSelfMetrics } from '../../collector/telemetry/metrics.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream } from '../support/downstream.js';
import { parsePrometheus } from '../support/prometheus.js';
import type { Sample } from '../support/prometheus.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ALERTS_PATH = join(ROOT, 'deploy/prometheus/alerts.yaml');

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Matcher {
  readonly label: string;
  readonly op: string;
  readonly value: string;
}

interface Selector {
  readonly metric: string;
  readonly matchers: readonly Matcher[];
}

interface ParsedExpr {
  readonly errors: readonly string[];
  readonly selectors: readonly Selector[];
  /** Labels named in by (...) / without (...) / on (...) / ignoring (...). */
  readonly grouping: readonly string[];
}

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

const children = (node: SyntaxNode): SyntaxNode[] => {
  const list: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) list.push(child);
  return list;
};

/** Parses a PromQL expression and lists its selectors and grouping labels. */
export function parsePromql(expr: string): ParsedExpr {
  const text = (node: SyntaxNode): string => expr.slice(node.from, node.to);
  const errors: string[] = [];
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  parser.parse(expr).iterate({
    enter(ref) {
      if (ref.type.isError) errors.push(`syntax error at ${ref.from}: ${JSON.stringify(expr.slice(Math.max(0, ref.from - 10), ref.from + 10))}`);
      if (ref.name === 'GroupingLabels') for (const child of children(ref.node)) if (child.name === 'LabelName') grouping.push(text(child));
      if (ref.name !== 'VectorSelector') return;
      const nodes = children(ref.node);
      const name = nodes.find((n) => n.name === 'Identifier');
      const matchers = nodes
        .filter((n) => n.name === 'LabelMatchers')
        .flatMap(children)
        .filter((n) => n.name === 'UnquotedLabelMatcher')
        .map((m) => {
          const [label, op, value] = children(m);
          return { label: text(label), op: text(op), value: JSON.parse(text(value)) as string };
        });
      if (name) selectors.push({ metric: text(name), matchers });
    },
  });
  return { errors, selectors, grouping };
}

const rules = (parse(readFileSync(ALERTS_PATH, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);

/** Written by Prometheus, not Tollgate. */
const PROMETHEUS_METRICS = new Set(['up']);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

describe('deploy/prometheus/alerts.yaml', () => {
  it('every rule has a unique CamelCase name, a severity, a summary and a description, and a valid for', () => {
    assert.ok(rules.length >= 10);
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length);
    for (const rule of rules) {
      assert.match(rule.alert, /^Tollgate[A-Z][A-Za-z]+$/);
      assert.ok(['critical', 'warning', 'info'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
      assert.match(rule.for ?? '0m', /^\d+[smh]$/, `${rule.alert}: for`);
    }
  });

  it('every expression parses as PromQL (and the parser does find errors)', () => {
    for (const rule of rules) assert.deepEqual(parsePromql(rule.expr).errors, [], `${rule.alert}: ${rule.expr}`);
    assert.notDeepEqual(parsePromql('sum(rate(tollgate_exporter_items_total[5m])').errors, []);
    assert.notDeepEqual(parsePromql('tollgate_in_flight_bytes / / 2').errors, []);
  });

  it('selects labels each metric has, and groups by labels its metrics carry', () => {
    const { registry } = createSelfMetrics();
    for (const rule of rules) {
      const { selectors, grouping } = parsePromql(rule.expr);
      const carried = new Set(['instance', 'job']);
      for (const { metric, matchers } of selectors) {
        if (PROMETHEUS_METRICS.has(metric)) continue;
        const suffix = HISTOGRAM_SUFFIXES.find((s) => metric.endsWith(s));
        const base = registry.getSingleMetric(metric) ?? (suffix ? registry.getSingleMetric(metric.slice(0, -suffix.length)) : undefined);
        if (!base) continue; // default process metrics: their existence is checked on the scrape below
        const labels = [...((base as unknown as { labelNames: string[] }).labelNames ?? []), ...(suffix === '_bucket' ? ['le'] : [])];
        for (const label of labels) carried.add(label);
        for (const matcher of matchers) assert.ok(labels.includes(matcher.label), `${rule.alert}: ${metric} has no label ${matcher.label}`);
      }
      for (const label of grouping) assert.ok(carried.has(label), `${rule.alert}: grouping by ${label}, which no selected metric carries`);
    }
  });

  describe('against a running Tollgate', () => {
    let downstream: Downstream;
    let tollgate: TollgateProcess;
    let dataDir: string;
    let samples: Sample[];
    let exposition: string;

    before(async () => {
      // metrics accepted, traces refused for good (500), logs retried (503) so the queue fills.
      downstream = await startDownstream(({ signal }) => ({ status: signal === 'metrics' ? 200 : signal === 'traces' ? 500 : 503 }));
      dataDir = mkdtempSync(join(tmpdir(), 'tollgate-alerts-'));
      const rulesPath = join(dataDir, 'rules.yaml');
      writeFileSync(rulesPath, 'version: 1\nmode: enforce\nteams:\n  - name: alerting\n    budgets:\n      metrics:\n        max_active_series: 1\n        action: drop\n');
      tollgate = await startTollgate(
        [
          `rules: ${rulesPath}`,
          'exporters:',
          '  otlphttp/downstream:',
          `    endpoint: ${downstream.url}`,
          '    retry_on_failure: { initial_interval: 1s, max_interval: 1s, max_elapsed_time: 20s }',
          '    sending_queue: { queue_size: 1 }',
          'processors:',
          '  cardinality: { sweep_interval: 1s }',
          'usage_store: { flush_interval: 200ms }',
          'shutdown: { drain_timeout: 1s }',
        ].join('\n'),
        { dataDir },
      );
      const post = (signal: string, body: unknown, contentType = 'application/json', signalAbort?: AbortSignal): Promise<Response> =>
        fetch(`http://${tollgate.http}/v1/${signal}`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body), signal: signalAbort });
      const points = [1, 2, 3].map((n) => ({ asInt: '1', timeUnixNano: '1700000000000000000', attributes: [{ key: 'n', value: { intValue: String(n) } }] }));
      const metrics = { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'requests', gauge: { dataPoints: points } }] }] }] };
      assert.equal((await post('metrics', metrics)).status, 200);
      const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'GET /', startTimeUnixNano: '1', endTimeUnixNano: '2', status: { code: 2 } };
      const spans = { resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] };
      assert.equal((await post('traces', spans)).status, 400, 'a permanent downstream refusal is passed on to the client');
      const logs = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 17, body: { stringValue: 'kept: an error log' } }] }] }] };
      // The first logs request waits in the exporter's retries (its client is left hanging, then aborted); the second finds the queue full.
      const abort = new AbortController();
      const held = post('logs', logs, 'application/json', abort.signal).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await post('logs', logs)).status, 503, 'a full queue is refused to the client');
      assert.equal((await post('metrics', new Uint8Array([0xff, 0xff, 0xff]), 'application/x-protobuf')).status, 400);
      writeFileSync(rulesPath, 'version: 1\nteams: [{ name: broken, tier: no-such-tier }]\n');
      tollgate.child.kill('SIGHUP');
      // A sweep (1 s) sets the budget gauges; the retrying logs export produces retries meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      exposition = await (await fetch(`http://${tollgate.api}/metrics`)).text();
      samples = parsePrometheus(exposition);
      abort.abort();
      await held;
    });

    after(async () => {
      await tollgate?.stop();
      await downstream?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('every metric an alert selects is exposed', () => {
      const typed = new Set([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]));
      for (const rule of rules) {
        for (const { metric } of parsePromql(rule.expr).selectors) {
          if (PROMETHEUS_METRICS.has(metric)) continue;
          const suffix = HISTOGRAM_SUFFIXES.find((s) => metric.endsWith(s) && typed.has(metric.slice(0, -s.length)));
          assert.ok(typed.has(metric) || suffix, `${rule.alert}: ${metric} is not exposed by Tollgate`);
        }
      }
    });

    it('every label value an alert matches on occurs (and each != excludes a value that occurs)', () => {
      for (const rule of rules) {
        for (const { metric, matchers } of parsePromql(rule.expr).selectors) {
          if (PROMETHEUS_METRICS.has(metric)) continue;
          for (const matcher of matchers) {
            const values = new Set(samples.filter((s) => s.name === metric).map((s) => s.labels[matcher.label]));
            const wanted = matcher.op.endsWith('~') ? matcher.value.split('|') : [matcher.value];
            for (const value of wanted) assert.ok(values.has(value), `${rule.alert}: no ${metric}{${matcher.label}="${value}"} after the scenario (seen: ${[...values].join(', ')})`);
          }
        }
      }
    });

    it('the scenario put each alert\'s condition in place (the series are non-zero where they should be)', () => {
      const sum = (name: string, labels: Record<string, string>): number =>
        samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);
      assert.ok(sum('tollgate_exporter_items_total', { outcome: 'failed', signal: 'traces' }) >= 1);
      assert.ok(sum('tollgate_exporter_items_total', { outcome: 'busy', signal: 'logs' }) >= 1);
      assert.ok(sum('tollgate_exporter_retries_total', { signal: 'logs' }) >= 1);
      assert.ok(sum('tollgate_receiver_items_total', { outcome: 'refused' }) >= 2);
      assert.equal(sum('tollgate_rules_reload_total', { outcome: 'failure' }), 1);
      assert.ok(sum('tollgate_budget_violations_total', { team: 'alerting', mode: 'enforce' }) >= 2, 'two of three new series refused');
      assert.equal(sum('tollgate_team_active_series', { team: 'alerting' }), 1);
      assert.equal(sum('tollgate_team_series_limit', { team: 'alerting' }), 1);
      assert.ok(sum('tollgate_usage_store_flushes_total', { outcome: 'ok' }) >= 1);
    });
  });
});
