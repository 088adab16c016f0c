import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRequest, encodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import { dropItem } from '../../collector/otlp/edits.js';
import type { Exporter, ExportRequest } from '../../collector/pipeline/contracts.js';
import { createPipeline } from '../../collector/pipeline/pipeline.js';
import type { Processor } from '../../collector/pipeline/processor.js';
import { createSelfMetrics } from '../../collector/telemetry/metrics.js';
import { sampleIn } from '../support/prometheus.js';

/** One gauge with a point per value, each point carrying its value as attribute `n`. */
function gaugeRequest(values: readonly number[]): Uint8Array {
  const dataPoints = values.map((n) => ({ asInt: String(n), timeUnixNano: '9', attributes: [{ key: 'n', value: { intValue: String(n) } }] }));
  const request: OtlpObject = { resourceMetrics: [{ resource: {}, scopeMetrics: [{ scope: {}, metrics: [{ name: 'g', gauge: { dataPoints } }] }] }] };
  return encodeRequest('metrics', request);
}

function exportedValues(body: Uint8Array): string[] {
  const request = decodeRequest('metrics', body) as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ gauge: { dataPoints: OtlpObject[] } }> }> }> };
  return request.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints.map((p) => p.asInt as string);
}

/** The exporter is the pipeline's neighbour here: it only keeps what it is given. */
function capturingExporter(): Exporter & { readonly received: ExportRequest[] } {
  const received: ExportRequest[] = [];
  return {
    name: 'capture',
    received,
    start: () => Promise.resolve(),
    export: (request) => {
      received.push(request);
      return Promise.resolve({ kind: 'accepted' });
    },
    queuedItems: () => 0,
    shutdown: () => Promise.resolve(),
  };
}

const dropFirst: Processor = {
  name: 'drop-first',
  signals: ['metrics'],
  process: (ix, edits) => {
    dropItem(ix, edits, 0);
    return undefined;
  },
};

describe('pipeline: processors in turn', () => {
  it('shows each processor what the earlier ones left, skips idle processors and exports the last rewrite', async () => {
    const idle: Processor = {
      name: 'idle',
      signals: ['metrics'],
      idle: () => true,
      process: () => assert.fail('an idle processor must not run'),
    };
    const seen: number[] = [];
    const dropLast: Processor = {
      name: 'drop-last',
      signals: ['metrics'],
      process: (ix, edits) => {
        seen.push(ix.itemCount);
        dropItem(ix, edits, ix.itemCount - 1);
        return undefined;
      },
    };
    const exporter = capturingExporter();
    const metrics = createSelfMetrics({ defaultMetrics: false });
    const pipeline = createPipeline({ processors: [dropFirst, idle, dropLast], exporters: [exporter], metrics, memoryLimitBytes: 1 << 20 });

    const result = await pipeline.consume('metrics', gaugeRequest([1, 2, 3, 4]));

    assert.equal(result.received, 4);
    assert.deepEqual(seen, [3], 'the third processor sees the request without the point the first dropped');
    assert.equal(exporter.received.length, 1);
    assert.equal(exporter.received[0].items, 2);
    assert.deepEqual(exportedValues(exporter.received[0].body), ['2', '3']);
    const text = await metrics.registry.metrics();
    const items = (processor: string, direction: string): number =>
      sampleIn(text, 'tollgate_processor_items_total', { processor, signal: 'metrics', direction });
    assert.equal(items('idle', 'in'), 3);
    assert.equal(items('idle', 'out'), 3, 'an idle processor passes everything through');
    assert.equal(items('drop-last', 'out'), 2);
    await pipeline.shutdown(Date.now() + 1000);
  });

  it('leaves attribute edits and item drops pending for a processor that reads through them, and applies them all at the end', async () => {
    const seen: Array<{ items: number; firstDropped: boolean }> = [];
    const reader: Processor = {
      name: 'reader',
      signals: ['metrics'],
      readsPendingEdits: true,
      process: (ix, edits) => {
        seen.push({ items: ix.itemCount, firstDropped: edits.isDropped(ix.itemNode[0]) });
        dropItem(ix, edits, ix.itemCount - 1);
        return undefined;
      },
    };
    const exporter = capturingExporter();
    const pipeline = createPipeline({ processors: [dropFirst, reader], exporters: [exporter], metrics: createSelfMetrics({ defaultMetrics: false }), memoryLimitBytes: 1 << 20 });

    await pipeline.consume('metrics', gaugeRequest([1, 2, 3, 4]));

    assert.deepEqual(seen, [{ items: 4, firstDropped: true }], 'the reader sees the request as received, with the drop pending');
    assert.equal(exporter.received[0].items, 2);
    assert.deepEqual(exportedValues(exporter.received[0].body), ['2', '3']);
    await pipeline.shutdown(Date.now() + 1000);
  });
});

