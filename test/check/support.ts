// Builders shared by the check tests: rules text with a team that has every kind of cap, and
// OTLP/JSON metrics requests written the way the file exporter writes them.
import { parseRules } from '../../rules/load.js';
import type { CompiledRules } from '../../rules/compiled.js';

export const CHECK_RULES_YAML = `version: 1
mode: enforce
teams:
  - name: checkout
    match:
      service.name: checkout
    budgets:
      metrics:
        max_active_series: 20
        default_max_series_per_metric: 5
        per_metric:
          - metric: "big.*"
            max_active_series: 10
        per_label:
          - label: http.route
            max_distinct_values: 3
        exempt_metrics: [up]
        warning_thresholds: [0.8]
  - name: everyone-else
    budgets:
      metrics:
        max_active_series: 1000
        mode: audit
attribute_policies:
  - name: no-user-ids
    signals: [metrics]
    targets: [attributes]
    keys: [user_id]
    action: drop
  - name: emails-in-labels
    signals: [metrics]
    targets: [attributes]
    values: [email]
    action: redact
    mode: audit
  - name: no-card-numbers-in-spans
    signals: [traces]
    keys: [card.number]
    action: reject
`;

export function checkRules(yaml = CHECK_RULES_YAML): CompiledRules {
  return parseRules(yaml, 'check-rules.yaml');
}

export type Labels = Readonly<Record<string, string>>;

/** One gauge metric per entry, one data point per label set, under one resource: an OTLP/JSON metrics request. */
export function metricsRequest(resource: Labels, metrics: Readonly<Record<string, readonly Labels[]>>): string {
  const attributes = (labels: Labels) => Object.entries(labels).map(([key, value]) => ({ key, value: { stringValue: value } }));
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: attributes(resource) },
        scopeMetrics: [
          {
            scope: { name: 'test' },
            metrics: Object.entries(metrics).map(([name, sets]) => ({
              name,
              gauge: { dataPoints: sets.map((labels) => ({ attributes: attributes(labels), asDouble: 1, timeUnixNano: '1700000000000000000' })) },
            })),
          },
        ],
      },
    ],
  });
}

/** `n` label sets `{ [key]: prefix0 … prefix(n-1) }` merged into `base`. */
export function labelSets(n: number, key: string, prefix: string, base: Labels = {}): Labels[] {
  return Array.from({ length: n }, (_, i) => ({ ...base, [key]: `${prefix}${i}` }));
}

export const encoder = new TextEncoder();
