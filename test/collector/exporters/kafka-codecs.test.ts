// The zstd codec registered with kafkajs (no broker): frames it writes are standard zstd, and it
// reads frames other producers write (streamed, without a declared size; several in a row).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { createZstdCodec, registerKafkaCodecs } from '../../../collector/exporters/kafka-codecs.js';
import { encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

// Written by the zstd command-line tool (v1.5.4) reading a pipe, as a streaming producer
// writes them: `printf 'OTLP over Kafka, zstd from a stream. ' | zstd -c` and
// `printf 'second frame.' | zstd -c`. Their headers declare no content size.
const CLI_FRAME = Buffer.from('KLUv/QRYKQEAT1RMUCBvdmVyIEthZmthLCB6c3RkIGZyb20gYSBzdHJlYW0uIF1Hylw=', 'base64');
const CLI_SECOND_FRAME = Buffer.from('KLUv/QRYaQAAc2Vjb25kIGZyYW1lLkEogqo=', 'base64');
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function records(buffer: Buffer): { buffer: Buffer } {
  return { buffer };
}

function metricsBody(points: number): Buffer {
  const dataPoints = Array.from({ length: points }, (_, i): OtlpObject => ({
    asInt: String(i),
    timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i)),
    attributes: [
      { key: 'http.route', value: { stringValue: `/api/v1/orders/${i % 7}` } },
      { key: 'http.response.status_code', value: { intValue: String(i % 13 === 0 ? 503 : 200) } },
    ],
  }));
  const body = encodeRequest('metrics', {
    resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] }, scopeMetrics: [{ metrics: [{ name: 'http.server.requests', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } }] }] }],
  });
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

describe('zstd codec for kafkajs', () => {
  it('round-trips an OTLP request through a standard zstd frame that is several times smaller', async () => {
    const codec = createZstdCodec();
    const body = metricsBody(2000);
    const compressed = await codec.compress(records(body));
    assert.deepEqual(compressed.subarray(0, 4), ZSTD_MAGIC, 'starts with the zstd frame magic number');
    assert.ok(compressed.length * 4 < body.length, `${compressed.length} compressed bytes for ${body.length}`);
    assert.deepEqual(await codec.decompress(compressed), body);
  });

  it('keeps each compressed batch intact while it compresses the next ones, small, large and outsized', async () => {
    const codec = createZstdCodec();
    // Distinct contents, so a result that shared memory with a later one would decode wrongly.
    const batches = [metricsBody(3000), metricsBody(10), metricsBody(3000).reverse(), Buffer.concat(Array.from({ length: 22 }, () => metricsBody(3000)))];
    assert.ok(batches[3].length > 5 * 1024 * 1024, `${batches[3].length} bytes: past the kept output buffer`);
    const compressed: Buffer[] = [];
    for (const batch of batches) compressed.push(await codec.compress(records(batch)));
    for (const [i, frame] of compressed.entries()) assert.ok((await codec.decompress(frame)).equals(batches[i]), `batch ${i}`);
  });

  it('decodes a streamed frame without a declared content size, and frames back to back', async () => {
    const codec = createZstdCodec();
    assert.equal((await codec.decompress(CLI_FRAME)).toString(), 'OTLP over Kafka, zstd from a stream. ');
    assert.equal((await codec.decompress(Buffer.concat([CLI_FRAME, CLI_SECOND_FRAME]))).toString(), 'OTLP over Kafka, zstd from a stream. second frame.');
  });

  it('rejects bytes that are not zstd instead of returning garbage', async () => {
    const codec = createZstdCodec();
    await assert.rejects(codec.decompress(Buffer.from('not a zstd frame at all')), /Zstandard/);
  });

  it('is registered in kafkajs under its zstd type, once', async () => {
    registerKafkaCodecs();
    const first: unknown = CompressionCodecs[CompressionTypes.ZSTD]();
    registerKafkaCodecs();
    assert.equal(CompressionCodecs[CompressionTypes.ZSTD](), first, 'a second registration keeps the first codec');
    const codec = first as ReturnType<typeof createZstdCodec>;
    const body = metricsBody(10);
    assert.deepEqual(await codec.decompress(await codec.compress(records(body))), body);
  });
});
