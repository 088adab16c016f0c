// What a producer really put on the broker's disk: the compression codec of every record batch
// of a topic, read from the partition log files (Kafka's v2 record batch header), so a test can
// check the codec without trusting the client library that wrote or reads the batches.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Kafka's codec ids (the low three bits of a batch's attributes). */
export const KAFKA_CODECS: Readonly<Record<number, string>> = { 0: 'none', 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' };

// Batch header: baseOffset int64, batchLength int32 (bytes after this field), partitionLeaderEpoch
// int32, magic int8, crc uint32, attributes int16.
const LENGTH_AT = 8;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LENGTH_END = 12;

/** The codec name of each record batch of `topic` (every partition), in log order per partition. */
export function topicBatchCodecs(brokerDir: string, topic: string): string[] {
  const data = join(brokerDir, 'data');
  const codecs: string[] = [];
  for (const partition of readdirSync(data).filter((name) => name.startsWith(`${topic}-`) && /-\d+$/.test(name))) {
    for (const file of readdirSync(join(data, partition)).filter((name) => name.endsWith('.log')).sort()) {
      const log = readFileSync(join(data, partition, file));
      for (let at = 0; at + ATTRIBUTES_AT + 2 <= log.length; at += LENGTH_END + log.readInt32BE(at + LENGTH_AT)) {
        const magic = log.readInt8(at + MAGIC_AT);
        if (magic !== 2) throw new Error(`${partition}/${file} at ${at}: record batch magic ${magic}, expected 2`);
        const codec = log.readInt16BE(at + ATTRIBUTES_AT) & 0x07;
        codecs.push(KAFKA_CODECS[codec] ?? `unknown codec ${codec}`);
      }
    }
  }
  return codecs;
}
