// With the embedded default's exporter setup (the file exporter only), what a real
// @opentelemetry/sdk-node application sends to `tollgate serve` lands in
// `<data_dir>/export/{traces,metrics,logs}.jsonl`: one OTLP/JSON line per export request,
// decoding (with plain JSON.parse) to exactly the spans, data points and log records the SDK
// produced.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';
import { EXPORT_SUCCESS, withTimeout, produceTelemetry, startSdkApp, WORKLOAD } from '../support/sdk-app.js';
import type { SdkApp } from '../support/sdk-app.js';
import { expectedLogItems, expectedMetricItems, expectedSpanItems, flattenRequests, sortItems } from '../support/sdk-expected.js';

describe('real OpenTelemetry SDK → tollgate serve with the file exporter', () => {
  let tollgate: TollgateProcess | undefined;
  let app: SdkApp | undefined;

  after(async () => {
    try {
      if (app) await withTimeout(app.shutdown(), 5_000, 'SDK shutdown').catch(() => undefined);
      app?.dispose();
    } finally {
      await tollgate?.stop();
    }
  });

  test('traces, metrics and logs are written as OTLP/JSON lines equal to what the SDK produced', { timeout: 30_000 }, async () => {
    tollgate = await startTollgate('exporters:\n  file: {}\n');
    app = startSdkApp({
      http: tollgate.http,
      grpc: tollgate.grpc,
      resourceAttributes: { 'service.name': 'checkout', 'service.namespace': 'shop', 'tollgate.e2e.case': 'file-exporter' },
    });
    produceTelemetry();
    const produced = await app.snapshot();
    // The file exporter acknowledges a request only once its line is written, so after the
    // SDK's flush every line is on disk.
    await withTimeout(app.shutdown(), 20_000, 'SDK shutdown');
    assert.deepEqual(
      app.exports.filter((e) => e.code !== EXPORT_SUCCESS),
      [],
      `failed SDK exports; Tollgate stderr:\n${tollgate.stderr()}`,
    );
    assert.equal(produced.spans.length, WORKLOAD.spans);
    assert.equal(produced.logs.length, WORKLOAD.logs);

    const exportDir = join(tollgate.dataDir, 'export');
    const readLines = async (signal: Signal): Promise<OtlpObject[]> => {
      const text = await readFile(join(exportDir, `${signal}.jsonl`), 'utf8');
      assert.ok(text.endsWith('\n'), `${signal}.jsonl ends with a newline`);
      return text
        .slice(0, -1)
        .split('\n')
        .map((line, index) => {
          try {
            return JSON.parse(line) as OtlpObject;
          } catch (error) {
            assert.fail(`${signal}.jsonl line ${index + 1} is not JSON (${(error as Error).message}): ${line.slice(0, 200)}`);
          }
        });
    };
    const requestsOf = (exporter: string): number => app!.exports.filter((e) => e.exporter === exporter).length;

    // Traces: one line per export request (HTTP and gRPC), so every span twice.
    const traceLines = await readLines('traces');
    assert.equal(traceLines.length, requestsOf('traces/http') + requestsOf('traces/grpc'), 'lines in traces.jsonl (one per request)');
    const expectedSpans = expectedSpanItems(produced.spans);
    assert.deepStrictEqual(sortItems(flattenRequests('traces', traceLines)), sortItems([...expectedSpans, ...expectedSpans]), 'spans in traces.jsonl');

    // Logs.
    const logLines = await readLines('logs');
    assert.equal(logLines.length, requestsOf('logs/http'), 'lines in logs.jsonl (one per request)');
    assert.deepStrictEqual(sortItems(flattenRequests('logs', logLines)), sortItems(expectedLogItems(produced.logs)), 'log records in logs.jsonl');

    // Metrics.
    const metricLines = await readLines('metrics');
    assert.equal(metricLines.length, requestsOf('metrics/http'), 'lines in metrics.jsonl (one per request)');
    assert.deepStrictEqual(sortItems(flattenRequests('metrics', metricLines)), sortItems(expectedMetricItems(app.metricExports)), 'metrics in metrics.jsonl');

    assert.equal(await tollgate.stop(), 0, 'tollgate exit code after SIGTERM');
  });
});
