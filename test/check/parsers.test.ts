// The pieces around the engine: Prometheus text → metric families, and --source lookups.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PrometheusTextError, createSourceIndex, metricSpellings, parsePrometheusText } from '../../collector/check/index.js';

describe('Prometheus exposition text', () => {
  test('histogram and summary samples fold into one family per label set; le and quantile are not labels', () => {
    const text = [
      '# HELP rpc_seconds RPC latency.',
      '# TYPE rpc_seconds histogram',
      'rpc_seconds_bucket{method="get",le="0.1"} 1',
      'rpc_seconds_bucket{method="get",le="+Inf"} 2',
      'rpc_seconds_sum{method="get"} 0.3',
      'rpc_seconds_count{method="get"} 2',
      'rpc_seconds_bucket{method="put",le="+Inf"} 1',
      '# TYPE gc summary',
      'gc{quantile="0.5"} 1',
      'gc_sum 2',
      'gc_count 3',
      '# TYPE jobs counter',
      'jobs_total{queue="a \\"quoted\\", with comma"} 4 1700000000000',
      'jobs_created{queue="x"} 1',
      'untyped_thing 1',
      '',
    ].join('\n');
    const families = parsePrometheusText(text);
    assert.deepEqual(
      families.map((f) => [f.name, f.type, f.line, f.labelSets]),
      [
        ['rpc_seconds', 'histogram', 3, [{ method: 'get' }, { method: 'put' }]],
        ['gc', 'summary', 9, [{}]],
        ['jobs', 'counter', 13, [{ queue: 'a "quoted", with comma' }]],
        ['untyped_thing', 'untyped', 15, [{}]],
      ],
    );
  });

  test('malformed lines are errors with their line number', () => {
    assert.throws(() => parsePrometheusText('ok 1\nbroken{a="x" 1\n'), (e: Error) => e instanceof PrometheusTextError && e.line === 2);
    assert.throws(() => parsePrometheusText('no_value\n'), /line 1: sample "no_value" has no value/);
  });
});

describe('--source locations', () => {
  const index = createSourceIndex([
    { path: 'src/z.ts', text: "counter('other');\n" },
    { path: 'src/a.py', text: 'import x\n\nREQS = Counter("http_requests", "doc", ["route"])\n\ndef f():\n    REQS.labels(route=r).inc()\n' },
    { path: 'src/b.ts', text: "const m = meter.createHistogram('rpc.duration');\nm.record(1, {\n  'rpc.method': x,\n  user_id,\n});\n" },
  ]);

  test('a Prometheus name is found as the code spells it', () => {
    assert.deepEqual(metricSpellings('http_requests_total'), ['http_requests_total', 'http_requests', 'http.requests.total', 'http.requests']);
    assert.deepEqual(index.metric('http_requests_total'), { path: 'src/a.py', line: 3 });
    assert.deepEqual(index.metric('rpc_duration'), { path: 'src/b.ts', line: 1 });
    assert.equal(index.metric('nowhere'), undefined);
  });

  test('a label is found after its metric, quoted or as an object key', () => {
    const near = index.metric('rpc.duration');
    assert.deepEqual(index.label('rpc.method', near), { path: 'src/b.ts', line: 3 });
    assert.deepEqual(index.label('user_id', near), { path: 'src/b.ts', line: 4 });
    assert.deepEqual(index.label('other', undefined), { path: 'src/z.ts', line: 1 });
  });
});
