/**
 * Prometheus exposition text (the classic text format and OpenMetrics) → one OTLP metrics
 * request, so a scraped app is checked by exactly the code that checks OTLP. A metric family
 * becomes one OTLP metric: counters a monotonic sum, histograms and summaries one point per
 * label set (the `le` and `quantile` labels and the `_bucket`/`_sum`/`_count` samples are parts
 * of one point in OTLP, not series of their own), everything else a gauge. Sample values do
 * not matter to a check and are not carried.
 */
import type { OtlpObject } from '../otlp/object-codec.js';

export interface PrometheusMetric {
  readonly name: string;
  readonly type: string;
  /** 1-based line of the family's first sample. */
  readonly line: number;
  /** Distinct label sets (without `le` / `quantile`), in order of appearance. */
  readonly labelSets: readonly Readonly<Record<string, string>>[];
}

export class PrometheusTextError extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'PrometheusTextError';
  }
}

const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_total', '_created'],
};
/** Labels that split one OTLP point into Prometheus samples. */
const PART_LABELS = new Set(['le', 'quantile']);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Parses `{a="x",b="y"}` starting at `text[start] === '{'`; returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = NAME.exec(text.slice(i))?.[0];
    if (!name) throw new PrometheusTextError(line, `expected a label name at column ${i + 1}`);
    i += name.length;
    while (text[i] === ' ') i++;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new PrometheusTextError(line, `expected ="…" after label "${name}"`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new PrometheusTextError(line, `unterminated value of label "${name}"`);
      i++;
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i++];
        value += next === 'n' ? '\n' : (next ?? '');
      } else value += c;
    }
    labels[name] = value;
  }
}

/** The family a sample belongs to: its declared family when the name is family + a known suffix. */
function familyOf(sample: string, types: ReadonlyMap<string, string>): string {
  if (types.has(sample)) return sample;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      if (!sample.endsWith(suffix)) continue;
      const base = sample.slice(0, -suffix.length);
      if (types.get(base) === type) return base;
    }
  }
  return sample;
}

export function parsePrometheusText(text: string): PrometheusMetric[] {
  const types = new Map<string, string>();
  const families = new Map<string, { name: string; type: string; line: number; seen: Set<string>; labelSets: Record<string, string>[] }>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types.set(type[1], type[2].toLowerCase());
      continue;
    }
    const sample = NAME.exec(line)?.[0];
    if (!sample) throw new PrometheusTextError(n + 1, 'expected a metric name');
    const family = familyOf(sample, types);
    if (sample.endsWith('_created') && family !== sample) continue;
    let labels: Record<string, string> = {};
    let rest = line.slice(sample.length);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, sample.length, n + 1);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    if (!/^\s+\S/.test(rest)) throw new PrometheusTextError(n + 1, `sample "${sample}" has no value`);
    const own = Object.fromEntries(Object.entries(labels).filter(([key]) => !PART_LABELS.has(key)));
    let entry = families.get(family);
    if (!entry) families.set(family, (entry = { name: family, type: types.get(family) ?? 'untyped', line: n + 1, seen: new Set(), labelSets: [] }));
    const id = JSON.stringify(Object.entries(own).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (!entry.seen.has(id)) {
      entry.seen.add(id);
      entry.labelSets.push(own);
    }
  }
  return [...families.values()].map(({ name, type, line, labelSets }) => ({ name, type, line, labelSets }));
}

function attributes(labels: Readonly<Record<string, string>>): OtlpObject[] {
  return Object.entries(labels).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

function otlpMetric(metric: PrometheusMetric): OtlpObject {
  const dataPoints = metric.labelSets.map((labels) => ({ attributes: attributes(labels) }));
  switch (metric.type) {
    case 'counter':
      return { name: metric.name, sum: { dataPoints, aggregationTemporality: 2, isMonotonic: true } };
    case 'histogram':
    case 'gaugehistogram':
      return { name: metric.name, histogram: { dataPoints, aggregationTemporality: 2 } };
    case 'summary':
      return { name: metric.name, summary: { dataPoints } };
    default:
      return { name: metric.name, gauge: { dataPoints } };
  }
}

/** The OTLP metrics request (canonical object form) for parsed families, under one resource. */
export function prometheusToOtlp(metrics: readonly PrometheusMetric[], resource: Readonly<Record<string, string>>): OtlpObject {
  return {
    resourceMetrics: [{ resource: { attributes: attributes(resource) }, scopeMetrics: [{ scope: { name: 'prometheus' }, metrics: metrics.map(otlpMetric) }] }],
  };
}
