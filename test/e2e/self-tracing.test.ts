import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsRequest } from '../../bench/workloads.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import { startDownstream } from '../support/downstream.js';
import { startTollgate } from '../support/tollgate-process.js';

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, Tollgate traces its own export requests', async () => {
  const backend = await startDownstream();
  const tracesBackend = await startDownstream();
  const tollgate = await startTollgate(`exporters:\n  otlphttp:\n    endpoint: ${backend.url}\n    compression: none\n`, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: tracesBackend.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'tollgate-under-test' },
  });
  try {
    const response = await fetch(`http://${tollgate.http}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: metricsRequest(10) });
    assert.equal(response.status, 200);
    const deadline = Date.now() + 10_000;
    while (tracesBackend.accepted('traces').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const spans = tracesBackend.accepted('traces').flatMap((request) =>
      (request.resourceSpans as OtlpObject[]).flatMap((rs) => (rs.scopeSpans as OtlpObject[]).flatMap((ss) => ss.spans as OtlpObject[])),
    );
    const consume = spans.find((span) => span.name === 'tollgate.consume metrics');
    assert.ok(consume, `a tollgate.consume span arrived; got ${spans.map((s) => s.name as string).join(', ')}`);
    const attrs = Object.fromEntries((consume.attributes as OtlpObject[]).map((a) => [a.key, Object.values(a.value as OtlpObject)[0]]));
    assert.equal(attrs['tollgate.items.received'], '10');
    const resource = (tracesBackend.accepted('traces')[0].resourceSpans as OtlpObject[])[0].resource as OtlpObject;
    assert.ok(JSON.stringify(resource).includes('tollgate-under-test'));
  } finally {
    await tollgate.stop();
    await backend.close();
    await tracesBackend.close();
  }
});
