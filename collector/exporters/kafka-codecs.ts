// Kafka record-batch compression beyond gzip. kafkajs ships gzip only and looks codecs up in
// one process-wide table (its public `CompressionCodecs`), so registering zstd there once lets
// the exporter produce zstd batches and every consumer (the Kafka receiver, global budgets)
// read zstd batches from any producer, the OpenTelemetry Collector's included.
//
// Why zstd is the exporter's default: on an OTLP metrics request it compresses about 6× faster
// than zlib's gzip level 6 and a little smaller (docs/benchmarks.md, "Kafka exporter
// throughput"); kafkajs's later encoding layers (CRC32C, copies) then run over the small
// compressed batch.
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import type * as ZstdNapi from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding.js';

// kafkajs's index does not name CompressionCodecs in a way Node's ESM loader can see.
const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Zstd {
  readonly binding: typeof ZstdBinding;
  readonly Decompressor: typeof ZstdNapi.Decompressor;
}

/**
 * zstd-napi is a native module built at install; it is loaded only when a Kafka client is
 * built, so a Tollgate without Kafka starts even where it was not built, and one with Kafka
 * fails at start with a message that says what to do.
 */
function loadZstd(): Zstd {
  const load = createRequire(import.meta.url);
  try {
    return { binding: load('zstd-napi/binding.js') as typeof ZstdBinding, Decompressor: (load('zstd-napi') as typeof ZstdNapi).Decompressor };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Kafka zstd compression needs the zstd-napi native module, which did not load (build it with \`npm rebuild zstd-napi\`): ${reason}`);
  }
}

/** What kafkajs hands a codec to compress: its encoder of the batch's records. */
interface RecordsEncoder {
  readonly buffer: Buffer;
}

export interface KafkaCodec {
  compress(encoder: RecordsEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** The largest compression output buffer kept between batches: a few default-sized (1 MiB) batches. */
const MAX_SCRATCH_BYTES = 4 * 1024 * 1024;

/** zstd's own default level, and the Java client's; levels 1 and 2 cost about the same CPU here. */
export const ZSTD_LEVEL = 3;

/**
 * Synchronous native calls on the event loop: a 1 MiB batch takes well under a millisecond,
 * less than handing it to a worker thread and back (kafkajs's gzip) costs on one core.
 *
 * Compression writes into one scratch buffer kept across batches and copies out only the
 * compressed bytes. A fresh worst-case-sized output buffer per batch (what zstd-napi's
 * Compressor does) is a batch-sized allocation more per send, and V8 counts such outside-heap
 * memory towards its next full collection: reusing the buffer took about a tenth off the
 * exporter's CPU per request when every send carried one request.
 */
export function createZstdCodec(level = ZSTD_LEVEL): KafkaCodec {
  const { binding, Decompressor } = loadZstd();
  const context = new binding.CCtx();
  context.setParameter(binding.CParameter.compressionLevel, level);
  let scratch = Buffer.alloc(0);
  const decompressor = new Decompressor();
  return {
    // kafkajs awaits codecs: a failure must reject, not throw at the call.
    compress: (encoder) =>
      new Promise((resolve) => {
        const input = encoder.buffer;
        const bound = binding.compressBound(input.length);
        // An outsized batch (one huge request) gets a buffer of its own, not kept afterwards.
        const output = bound <= scratch.length ? scratch : Buffer.allocUnsafeSlow(bound);
        if (output !== scratch && bound <= MAX_SCRATCH_BYTES) scratch = output;
        resolve(Buffer.from(output.subarray(0, context.compress2(output, input))));
      }),
    // Frames with or without a declared content size (Java's streaming producer writes the
    // latter), and several frames back to back, all decode.
    decompress: (buffer) => new Promise((resolve) => resolve(decompressor.decompress(buffer))),
  };
}

let registered = false;

/** Makes kafkajs able to write and read zstd batches; every Kafka client is built after this. */
export function registerKafkaCodecs(): void {
  if (registered) return;
  const zstd = createZstdCodec();
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstd;
  registered = true;
}
