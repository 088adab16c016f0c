/**
 * Input bytes → requests of the sample. Pure: the CLI and the API read files, scrape URLs and
 * take request bodies, and hand the bytes here.
 *
 * OTLP files are recognised by their first bytes: `{"` is OTLP/JSON lines as the file exporter
 * (and the Collector's) writes them, one Export*ServiceRequest per line, the signal read from
 * the line's top-level key; 0x0a is one protobuf Export*ServiceRequest (its first field,
 * `resource_metrics`, `resource_spans` or `resource_logs`, has tag 0x0a); 0x00 is a stream of
 * protobuf requests each prefixed by its length as 4 bytes big-endian (the Collector's file
 * exporter with `format: proto`). The signal of a protobuf request is found by scanning it.
 */
import { encodeRequest } from '../otlp/object-codec.js';
import { OtlpJsonError, parseOtlpJson } from '../otlp/otlp-json.js';
import type { Signal } from '../otlp/signal.js';
import { WireError } from '../otlp/wire.js';
import { parsePrometheusText, prometheusToOtlp, PrometheusTextError } from './prometheus-text.js';
import type { SampleBuilder } from './sample.js';

/** An input that cannot be read as what it claims to be; `where` names the file (and line). */
export class CheckInputError extends Error {
  constructor(readonly where: string, reason: string) {
    super(`${where}: ${reason}`);
    this.name = 'CheckInputError';
  }
}

export type InputKind = 'otlp' | 'prometheus';

const SIGNAL_KEYS: readonly [string, Signal][] = [
  ['resourceMetrics', 'metrics'],
  ['resource_metrics', 'metrics'],
  ['resourceSpans', 'traces'],
  ['resource_spans', 'traces'],
  ['resourceLogs', 'logs'],
  ['resource_logs', 'logs'],
];

/** The signal of one OTLP/JSON request line, from its first top-level key (default metrics). */
export function signalOfJsonLine(line: string): Signal {
  const head = line.slice(0, 64);
  for (const [key, signal] of SIGNAL_KEYS) if (head.includes(`"${key}"`)) return signal;
  return 'metrics';
}

const isSpace = (b: number | undefined) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * JSON lines: only whitespace, or `{` then `"` or `}` (whitespace between allowed). A protobuf
 * request never matches: after 0x0a and a length byte that happens to be `{` (123) comes a
 * field tag (0x0a or 0x12), never `"`.
 */
function looksLikeJsonLines(bytes: Uint8Array): boolean {
  let i = 0;
  while (isSpace(bytes[i])) i++;
  if (i === bytes.length) return true;
  if (bytes[i] !== 0x7b) return false;
  i++;
  while (isSpace(bytes[i])) i++;
  return bytes[i] === 0x22 || bytes[i] === 0x7d;
}

const isProtobufStart = (bytes: Uint8Array) => bytes[0] === 0x0a || bytes[0] === 0x00;

/** What a file holds when the caller does not say (`--baseline`): OTLP or Prometheus text. */
export function detectKind(bytes: Uint8Array): InputKind {
  return looksLikeJsonLines(bytes) || isProtobufStart(bytes) ? 'otlp' : 'prometheus';
}

/** Each line decoded on its own: a 100 MB file is never one 100 MB string (nor its split copy). */
function addJsonLines(builder: SampleBuilder, bytes: Uint8Array, path: string): void {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lineNumber = 0;
  for (let start = 0; start < buffer.length; ) {
    let end = buffer.indexOf(0x0a, start);
    if (end < 0) end = buffer.length;
    lineNumber++;
    const line = buffer.toString('utf8', start, end).trim();
    start = end + 1;
    if (line === '') continue;
    const signal = signalOfJsonLine(line);
    try {
      builder.addRequest(signal, parseOtlpJson(signal, line), { path, line: lineNumber });
    } catch (error) {
      if (error instanceof OtlpJsonError || error instanceof WireError) throw new CheckInputError(`${path}:${lineNumber}`, `not an OTLP/JSON ${signal} request: ${error.message}`);
      throw error;
    }
  }
}

/**
 * The three Export*ServiceRequest messages look alike on the wire (field 1, length-delimited),
 * so each protobuf message is read as the first signal whose strict scan accepts it. Metrics come
 * first: a span's start time (fixed64 field 7) and a log record's time (fixed64 field 1) are
 * wire types a Metric refuses, while a gauge-only Metric would pass for a Span. A failed scan
 * leaves the sample untouched (addRequest scans before it counts).
 */
const PROTOBUF_SIGNALS: readonly Signal[] = ['metrics', 'traces', 'logs'];

function addProtobuf(builder: SampleBuilder, bytes: Uint8Array, path: string): void {
  const add = (message: Uint8Array, index: number): void => {
    let first: WireError | undefined;
    for (const signal of PROTOBUF_SIGNALS) {
      try {
        builder.addRequest(signal, message, { path, line: 0 });
        return;
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
        first ??= error;
      }
    }
    throw new CheckInputError(path, `message ${index + 1} is not an OTLP protobuf metrics, traces or logs request: ${first?.message ?? 'unreadable'}`);
  };
  if (bytes[0] !== 0x00) {
    add(bytes, 0);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let index = 0;
  for (let pos = 0; pos < bytes.length; index++) {
    if (pos + 4 > bytes.length) throw new CheckInputError(path, `truncated length prefix of message ${index + 1}`);
    const length = view.getUint32(pos);
    if (pos + 4 + length > bytes.length) throw new CheckInputError(path, `message ${index + 1} is cut short`);
    add(bytes.subarray(pos + 4, pos + 4 + length), index);
    pos += 4 + length;
  }
}

/** Adds an OTLP file's requests (JSON lines or protobuf, see above) to the sample. */
export function addOtlpInput(builder: SampleBuilder, bytes: Uint8Array, path: string): void {
  if (looksLikeJsonLines(bytes)) addJsonLines(builder, bytes, path);
  else if (isProtobufStart(bytes)) addProtobuf(builder, bytes, path);
  else throw new CheckInputError(path, 'neither OTLP/JSON lines nor OTLP protobuf');
}

/** Adds Prometheus exposition text to the sample as one OTLP request under `resource`. */
export function addPrometheusInput(builder: SampleBuilder, text: string, path: string, resource: Readonly<Record<string, string>>): void {
  let metrics;
  try {
    metrics = parsePrometheusText(text);
  } catch (error) {
    if (error instanceof PrometheusTextError) throw new CheckInputError(`${path}:${error.line}`, `not Prometheus exposition text: ${error.message}`);
    throw error;
  }
  if (metrics.length === 0) return;
  const metricLines = new Map(metrics.map((m) => [m.name, m.line]));
  builder.addRequest('metrics', encodeRequest('metrics', prometheusToOtlp(metrics, resource)), { path, line: metrics[0].line, metricLines });
}
