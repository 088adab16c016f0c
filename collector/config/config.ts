/**
 * The process config of `tollgate serve`: listen addresses, exporters, data directory, limits.
 * It is read once at start (governance rules are a separate, hot-reloaded file). Keys follow the
 * OpenTelemetry Collector's style (snake_case, `type/name` component keys, `${env:NAME}`), so an
 * operator who knows one can read the other.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parse as parseYamlScalar, parseDocument } from 'yaml';
import type { Document, YAMLError } from 'yaml';
import {
  UntypedScalar,
  arrayOf,
  boolean,
  byteSize,
  components,
  duration,
  endpoint,
  enumOf,
  formatDuration,
  formatEndpoint,
  formatPath,
  integer,
  nullable,
  number,
  object,
  optional,
  record,
  refine,
  string,
  url,
  validate,
} from './validate.js';
import type { ConfigIssue, Endpoint, Infer, PathSegment, ReportIssue, Schema, Simplify } from './validate.js';

// ─── Schema ────────────────────────────────────────────────────────────────────────────────────

const LISTEN_NOTE = '`:port` means `0.0.0.0:port` (every IPv4 interface); IPv6 addresses are bracketed and quoted in YAML (`"[::]:4317"`).';

// Kafka settings shared by the Kafka receiver, the Kafka exporter and global budgets.

/** Kafka's legal topic names: letters, digits, `.`, `_`, `-`, at most 249 characters. */
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const kafkaTopic = (description: string) => string({ pattern: { regex: KAFKA_TOPIC, message: 'must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)' }, description });
const kafkaBrokers = arrayOf(string({ pattern: { regex: /^[^\s:/]+:\d{1,5}$/, message: 'must be host:port' }, description: 'A bootstrap broker.' }), {
  minItems: 1,
  description: 'Kafka bootstrap brokers (`host:port`).',
});
const kafkaClientId = optional(string({ minLength: 1, description: 'Kafka client id.' }), 'tollgate');
/** The Collector's default topics for `otlp_proto` messages. */
const KAFKA_DEFAULT_TOPICS = { traces: 'otlp_spans', metrics: 'otlp_metrics', logs: 'otlp_logs' } as const;

const otlpHttpReceiverSchema = object(
  {
    enabled: optional(boolean({ description: 'Serve OTLP/HTTP (protobuf and JSON).' }), true),
    endpoint: optional(endpoint({ description: `Listen address. ${LISTEN_NOTE}` }), '127.0.0.1:4318'),
    max_request_body_size: optional(
      byteSize({ min: 1, description: 'Largest request body accepted, counted after decompression; a larger request is refused with 413.' }),
      '64MiB',
    ),
  },
  { description: 'OTLP over HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`).' },
);

const otlpGrpcReceiverSchema = object(
  {
    enabled: optional(boolean({ description: 'Serve OTLP/gRPC.' }), true),
    endpoint: optional(endpoint({ description: `Listen address. ${LISTEN_NOTE}` }), '127.0.0.1:4317'),
    max_recv_msg_size: optional(
      byteSize({ min: 1, description: 'Largest message accepted, counted after decompression; a larger one is refused with RESOURCE_EXHAUSTED.' }),
      '64MiB',
    ),
  },
  { description: 'OTLP over gRPC.' },
);

const kafkaReceiverTopic = (signal: 'traces' | 'metrics' | 'logs') =>
  optional(nullable(kafkaTopic(`Topic of ${signal} messages; \`null\` does not consume ${signal}.`)), KAFKA_DEFAULT_TOPICS[signal]);

const kafkaReceiverFields = object(
  {
    brokers: kafkaBrokers,
    client_id: kafkaClientId,
    group_id: optional(string({ minLength: 1, description: 'Consumer group; replicas in one group share the partitions.' }), 'tollgate'),
    topics: optional(
      object(
        { traces: kafkaReceiverTopic('traces'), metrics: kafkaReceiverTopic('metrics'), logs: kafkaReceiverTopic('logs') },
        { description: 'Topic per signal; each message one OTLP protobuf `Export*ServiceRequest` (the Collector\'s `otlp_proto` encoding).' },
      ),
      {},
    ),
    initial_offset: optional(
      enumOf(['latest', 'earliest'], { description: 'Where a group without committed offsets starts reading: `latest` (new messages only, as the Collector) or `earliest`.' }),
      'latest',
    ),
    session_timeout: optional(duration({ min: 6000, max: 300_000, description: 'Kafka group session timeout: a receiver silent this long loses its partitions to the others.' }), '30s'),
    retry: optional(
      object(
        {
          initial_interval: optional(duration({ min: 1, description: 'First wait before a message the pipeline refused (busy, export failing) is tried again.' }), '1s'),
          max_interval: optional(duration({ min: 1, description: 'Longest wait between tries; the wait doubles up to it. The partition waits meanwhile and nothing past the message is committed.' }), '30s'),
        },
        { description: 'Backoff while the pipeline pushes back.' },
      ),
      {},
    ),
  },
  { description: 'Consumes OTLP from Kafka with a consumer group; offsets are committed only after the pipeline accepted a message (at least once). See docs/kafka.md.' },
);

const kafkaReceiverSchema = refine(kafkaReceiverFields, (raw, report) => {
  const topics = Object.values(raw.topics).filter((topic): topic is string => topic !== null);
  if (topics.length === 0) report(['topics'], 'must name at least one topic');
  if (new Set(topics).size !== topics.length) report(['topics'], 'each signal needs its own topic (messages do not say which signal they carry)');
  if (raw.retry.initial_interval > raw.retry.max_interval) report(['retry', 'initial_interval'], `must not exceed max_interval (${formatDuration(raw.retry.max_interval)})`);
  return raw;
});

const receiversSchema = object(
  {
    kafka: optional(kafkaReceiverSchema),
    otlp: optional(
      object(
        {
          protocols: optional(
            object({ http: optional(otlpHttpReceiverSchema, {}), grpc: optional(otlpGrpcReceiverSchema, {}) }, { description: 'Transports the OTLP receiver serves.' }),
            {},
          ),
        },
        { description: 'The OTLP receiver.' },
      ),
      {},
    ),
  },
  { description: 'Where telemetry comes in.' },
);

const fileExporterSchema = object(
  {
    path: optional(string({ minLength: 1, description: 'Directory the export files are written to. Defaults to `<data_dir>/export`.' })),
    max_file_size: optional(byteSize({ min: 1, description: 'Size at which the current file is rotated.' }), '100MiB'),
    max_files: optional(integer({ min: 1, description: 'Rotated files kept; older ones are deleted.' }), 5),
  },
  { description: 'Writes exported telemetry to rotating local files.' },
);

const retrySchema = object(
  {
    enabled: optional(boolean({ description: 'Retry failed exports that the downstream marks retryable.' }), true),
    initial_interval: optional(duration({ min: 1, description: 'Wait before the first retry.' }), '5s'),
    max_interval: optional(duration({ min: 1, description: 'Upper bound for the wait between retries.' }), '30s'),
    max_elapsed_time: optional(duration({ description: 'Give up on a request after retrying this long; `0` retries without a time limit.' }), '300s'),
    multiplier: optional(number({ min: 1, description: 'Growth factor of the wait between retries.' }), 1.5),
    randomization_factor: optional(number({ min: 0, max: 1, description: 'Jitter: each wait is randomized by ± this fraction.' }), 0.5),
  },
  { description: 'Exponential backoff for retryable failures (as in the collector).' },
);

const sendingQueueSchema = object(
  {
    max_in_flight_bytes: optional(
      byteSize({ min: 1, description: 'Request bytes held (queued or sending) before new exports are answered "busy" (the client is told to retry).' }),
      '64MiB',
    ),
    queue_size: optional(
      integer({ min: 1, description: 'Requests held (waiting or being sent) before new exports are answered "busy". Each signal sends one request at a time, in order.' }),
      1000,
    ),
  },
  { description: 'Bounds on what this exporter holds in memory.' },
);

/** HTTP header names are RFC 9110 tokens; values must not smuggle a line break. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const otlpHttpExporterFields = object(
  {
    endpoint: url({ description: 'Base URL of the downstream OTLP/HTTP receiver; `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended to its path.' }),
    traces_endpoint: optional(url({ description: 'Full URL for traces, used as is. Defaults to `<endpoint>/v1/traces`.' })),
    metrics_endpoint: optional(url({ description: 'Full URL for metrics, used as is. Defaults to `<endpoint>/v1/metrics`.' })),
    logs_endpoint: optional(url({ description: 'Full URL for logs, used as is. Defaults to `<endpoint>/v1/logs`.' })),
    compression: optional(enumOf(['gzip', 'none'], { description: 'Request body compression.' }), 'gzip'),
    headers: optional(
      record(string({ pattern: { regex: /^[^\r\n]*$/, message: 'must not contain a line break' } }), {
        keyPattern: { regex: HEADER_NAME, message: 'is not a valid HTTP header name' },
        description: 'Extra request headers, e.g. `authorization: "Bearer ${env:TOKEN}"`.',
      }),
      {},
    ),
    timeout: optional(duration({ min: 1, description: 'Timeout of one HTTP request.' }), '10s'),
    retry_on_failure: optional(retrySchema, {}),
    sending_queue: optional(sendingQueueSchema, {}),
  },
  { description: 'Sends OTLP/HTTP protobuf to a downstream collector or backend.' },
);

/** Appends the OTLP signal path to a base URL's path, as the collector does: `http://h/otlp` → `http://h/otlp/v1/traces`. */
export function signalUrl(base: string, signal: 'traces' | 'metrics' | 'logs'): string {
  const parsed = new URL(base);
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/v1/${signal}`;
  return parsed.toString();
}

function reportRetryIntervals(retry: Infer<typeof retrySchema>, report: ReportIssue): void {
  if (retry.initial_interval > retry.max_interval) {
    report(['retry_on_failure', 'initial_interval'], `must not exceed max_interval (${formatDuration(retry.max_interval)})`);
  }
}

const otlpHttpExporterSchema = refine(otlpHttpExporterFields, (raw, report) => {
  reportRetryIntervals(raw.retry_on_failure, report);
  // Resolved here so that exporters never repeat the "full URL or base plus path" rule.
  return {
    ...raw,
    traces_endpoint: raw.traces_endpoint ?? signalUrl(raw.endpoint, 'traces'),
    metrics_endpoint: raw.metrics_endpoint ?? signalUrl(raw.endpoint, 'metrics'),
    logs_endpoint: raw.logs_endpoint ?? signalUrl(raw.endpoint, 'logs'),
  };
});

const resourceKey = (signal: string) =>
  optional(enumOf(['service.name', 'none'], { description: `Message key of ${signal}: the resource's \`service.name\` (a request with several services is split per service), or \`none\`.` }), 'service.name');

const kafkaExporterFields = object(
  {
    brokers: kafkaBrokers,
    client_id: kafkaClientId,
    topics: optional(
      object(
        {
          traces: optional(kafkaTopic('Topic of spans.'), KAFKA_DEFAULT_TOPICS.traces),
          metrics: optional(kafkaTopic('Topic of metrics.'), KAFKA_DEFAULT_TOPICS.metrics),
          logs: optional(kafkaTopic('Topic of logs.'), KAFKA_DEFAULT_TOPICS.logs),
        },
        { description: 'Topic per signal; each message is one OTLP protobuf `Export*ServiceRequest` (the Collector\'s `otlp_proto` encoding).' },
      ),
      {},
    ),
    keys: optional(
      object(
        {
          traces: optional(
            enumOf(['trace_id', 'service.name', 'none'], {
              description: 'Message key of spans: `trace_id` (32 hex digits; a request is split per trace, so a trace stays in one partition), `service.name` or `none`.',
            }),
            'trace_id',
          ),
          metrics: resourceKey('metrics'),
          logs: resourceKey('logs'),
        },
        { description: 'Message keys: Kafka keeps the messages of one key in one partition, in order.' },
      ),
      {},
    ),
    compression: optional(
      enumOf(['zstd', 'gzip', 'none'], { description: 'Record batch compression. `zstd` needs Kafka 2.1 or later; `gzip` for older brokers.' }),
      'zstd',
    ),
    timeout: optional(duration({ min: 1, description: 'How long the broker may take to acknowledge one send (acks from every in-sync replica).' }), '10s'),
    max_batch_size: optional(
      byteSize({ min: 1, description: 'Request bytes (uncompressed) gathered into one send. Keep it under the broker\'s `message.max.bytes`; a single larger request is still sent alone.' }),
      '1MiB',
    ),
    retry_on_failure: optional(retrySchema, {}),
    sending_queue: optional(sendingQueueSchema, {}),
  },
  { description: 'Produces OTLP to Kafka: acks from all in-sync replicas before a request counts as exported. See docs/kafka.md.' },
);

const kafkaExporterSchema = refine(kafkaExporterFields, (raw, report) => {
  reportRetryIntervals(raw.retry_on_failure, report);
  return raw;
});

const exportersSchema = components(
  { file: fileExporterSchema, otlphttp: otlpHttpExporterSchema, kafka: kafkaExporterSchema },
  {
    noun: 'exporter',
    // With no exporter, accepted telemetry would vanish without a trace: refuse that config.
    minEntries: 1,
    description: 'Where telemetry goes, keyed `type` or `type/name` (`otlphttp/backend`). Every exporter receives every signal.',
  },
);

const limitsSchema = object(
  {
    memory_limit: optional(
      byteSize({ min: 1, description: 'Request bytes in flight across the whole process; above it receivers answer 503 / UNAVAILABLE so clients back off.' }),
      '512MiB',
    ),
    max_concurrent_requests: optional(integer({ min: 1, description: 'Requests each receiver handles at once; more are refused as busy.' }), 256),
  },
  { description: 'Backpressure limits.' },
);

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The hex SHA-256 of a bearer token: what the API keeps and compares, never the token. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const apiTokenFields = object(
  {
    name: string({ minLength: 1, description: 'Names the token in logs (never the token itself).' }),
    team: optional(string({ minLength: 1, description: 'The one team this token sees; another team\'s resources answer 404.' })),
    admin: optional(boolean({ description: '`true`: the token sees every team and may call admin routes. Set either this or `team`.' }), false),
    sha256: optional(
      string({ pattern: { regex: SHA256_HEX, message: 'must be 64 lowercase hex digits (the SHA-256 of the token)' }, description: 'SHA-256 of the token, hex (`printf %s "$TOKEN" | sha256sum`).' }),
    ),
    token: optional(
      string({ minLength: 16, description: 'The token itself, normally `${env:NAME}`; it is hashed while the config is read and only the hash is kept.' }),
    ),
    token_file: optional(string({ minLength: 1, description: 'A file holding the token (surrounding whitespace ignored), read at start, e.g. a mounted secret.' })),
  },
  { description: 'One bearer token: exactly one of `team` and `admin: true`, exactly one of `sha256`, `token` and `token_file`.' },
);

const apiTokenSchema = refine(apiTokenFields, (raw, report) => {
  if ((raw.team === undefined) === !raw.admin) report([], 'set exactly one of `team` and `admin: true`');
  const sources = (['sha256', 'token', 'token_file'] as const).filter((key) => raw[key] !== undefined);
  if (sources.length !== 1) report([], `set exactly one of \`sha256\`, \`token\` and \`token_file\` (got ${sources.length === 0 ? 'none' : sources.join(', ')})`);
  // Hashed here so the plain token never outlives config parsing.
  const { token, ...rest } = raw;
  return token === undefined ? rest : { ...rest, sha256: sha256Hex(token) };
});

const apiTokensSchema = refine(
  arrayOf(apiTokenSchema, { description: 'Bearer tokens of the `/api/v1` routes. None configured: the first start creates an admin token in `<data_dir>/admin.token`.' }),
  (tokens, report) => {
    tokens.forEach((token, index) => {
      if (tokens.findIndex((other) => other.name === token.name) !== index) report([index, 'name'], `duplicate token name "${token.name}"`);
    });
    return tokens;
  },
);

const aggregatorFields = object(
  {
    group_id: optional(string({ minLength: 1, description: 'Consumer group of the aggregator on the usage topic (run one aggregator per group; a second one takes over its partitions if it stops).' }), 'tollgate-aggregator'),
    publish_interval: optional(duration({ min: 100, description: 'How often each team\'s global state is recomputed and published to the state topic.' }), '10s'),
    report_ttl: optional(
      duration({ min: 100, description: 'A sidecar\'s last report counts this long; a sidecar silent for longer drops out of the global figures with its series.' }),
      '60s',
    ),
    topic_partitions: optional(integer({ min: 1, max: 10_000, description: 'Partitions of the usage and state topics when the aggregator creates them (existing topics are left as they are).' }), 3),
  },
  { description: '`tollgate aggregate` only: the process that merges the usage reports and publishes the global state.' },
);

const globalBudgetsFields = object(
  {
    brokers: kafkaBrokers,
    client_id: kafkaClientId,
    instance_id: optional(
      string({ pattern: { regex: /^[^\s]{1,200}$/, message: 'must be 1–200 characters without whitespace' }, description: 'This process\'s identity in usage reports, stable across restarts (e.g. the pod name). Defaults to the host name.' }),
    ),
    usage_topic: optional(kafkaTopic('Topic the sidecars publish their usage reports to (keyed by team).'), 'tollgate.usage'),
    state_topic: optional(kafkaTopic('Compacted topic the aggregator publishes each team\'s global state to (keyed by team).'), 'tollgate.budget-state'),
    report_interval: optional(duration({ min: 100, description: 'How often a sidecar publishes its usage reports.' }), '10s'),
    max_state_age: optional(
      duration({ min: 100, description: 'A team\'s global state older than this (aggregator or Kafka down) is ignored: the sidecar falls back to its local limit.' }),
      '60s',
    ),
    max_message_size: optional(
      byteSize({ min: 20_000, max: 100 * 1024 * 1024, description: 'Largest usage report message; a team with more sketch bytes is split into several (keep it under the broker\'s `message.max.bytes`).' }),
      '900KiB',
    ),
    aggregator: optional(aggregatorFields, {}),
  },
  { description: 'Team budgets across many sidecars through Kafka (docs/scale-out.md). Absent: every sidecar enforces its budgets locally.' },
);

const globalBudgetsSchema = refine(globalBudgetsFields, (raw, report) => {
  // Otherwise a sidecar reporting on time would still drop out between two of its reports.
  if (raw.aggregator.report_ttl < 2 * raw.report_interval) {
    report(['aggregator', 'report_ttl'], `must be at least twice report_interval (${formatDuration(raw.report_interval)})`);
  }
  // Otherwise every state would be stale before the next one arrives, and sidecars would flap to local limits.
  if (raw.max_state_age < 2 * raw.aggregator.publish_interval) {
    report(['max_state_age'], `must be at least twice aggregator.publish_interval (${formatDuration(raw.aggregator.publish_interval)})`);
  }
  if (raw.usage_topic === raw.state_topic) report(['state_topic'], 'must differ from usage_topic');
  return raw;
});

/** Used when no key is configured; `tollgate serve` warns, since anyone can reproduce such hashes. */
export const DEFAULT_HASH_KEY = 'tollgate-default-hash-key';

const rootFields = object({
  data_dir: optional(string({ minLength: 1, description: 'Directory for state (SQLite) and the file exporter; relative to the working directory.' }), './data'),
  receivers: optional(receiversSchema, {}),
  exporters: optional(exportersSchema, { file: {} }),
  processors: optional(
    object(
      {
        attribute_policy: optional(
          object(
            {
              hash_key: optional(
                string({ minLength: 8, description: 'Key of the HMAC-SHA256 behind the `hash` action. Set the same secret on every replica (e.g. `${env:TOLLGATE_HASH_KEY}`) so hashed values join up across them.' }),
                DEFAULT_HASH_KEY,
              ),
              hash_length: optional(integer({ min: 8, max: 64, description: 'Hex characters of the HMAC kept in a hashed value.' }), 16),
            },
            { description: 'The attribute policy processor; the policies themselves live in the rules file.' },
          ),
          {},
        ),
        cardinality: optional(
          object(
            {
              report_drops: optional(
                boolean({ description: 'Report data points a budget dropped to the client as OTLP partial success. Off by default: budgets are the platform team\'s business, and SDKs log partial success as a warning.' }),
                false,
              ),
              sweep_interval: optional(duration({ min: 1000, description: 'How often series unseen for their team\'s active window are forgotten, and budget gauges and usage are refreshed.' }), '30s'),
              snapshot_interval: optional(
                duration({ min: 1000, description: 'How often series tables and label sketches are saved to the usage store, so a restart (even `kill -9`) loses at most this much.' }),
                '60s',
              ),
              max_tracked_series_per_team: optional(integer({ min: 1, max: 67_108_864, description: 'Hard cap on series tracked per team, whatever its budget: bounds memory (about 32 bytes a series). New series beyond it are refused (rule `series_table_full`).' }), 4_000_000),
              max_label_trackers: optional(integer({ min: 0, description: 'Distinct-value sketches kept per (team, metric, label); beyond it labels go untracked and per-label caps cannot refuse them.' }), 10_000),
            },
            { description: 'The cardinality budget processor; the budgets themselves live in the rules file.' },
          ),
          {},
        ),
        sampling: optional(
          object(
            {
              sample_rate_attribute: optional(
                boolean({ description: 'Add a `SampleRate` attribute (integer "1 in N") to kept spans and log records that stand for more than one, for backends that read it. The `th` threshold in tracestate (spans) or `sampling.threshold` (logs) is always written.' }),
                false,
              ),
              mode: optional(
                enumOf(['head', 'tail'], {
                  description:
                    '`head` decides each span as it passes (sidecars: every sidecar keeps the same traces). `tail` (a gateway that sees whole traces) holds spans by trace id for the decision wait and decides each trace on all its spans: one span matching a keep rule keeps the whole trace. Log records are always decided at once.',
                }),
                'head',
              ),
              tail: optional(
                object(
                  {
                    decision_wait: optional(duration({ min: 1, description: 'How long the first span of a trace waits for the rest before the trace is decided.' }), '5s'),
                    max_spans_per_trace: optional(integer({ min: 1, description: 'A trace with this many spans buffered is decided at once; its later spans follow that decision.' }), 1000),
                    max_buffered_bytes: optional(
                      byteSize({ min: 1024, description: 'Memory bound of the span buffer (spans, resources, bookkeeping). A span that does not fit is decided at once, as a head sampler would: the buffer never grows beyond this.' }),
                      '64MiB',
                    ),
                    decision_cache_size: optional(integer({ min: 0, description: 'Trace decisions remembered for late spans (spans arriving after their trace was decided).' }), 100_000),
                    max_backlog_bytes: optional(
                      byteSize({ min: 1024, description: 'Decided spans waiting for the exporters; above it new trace requests are refused with a retryable status (backpressure).' }),
                      '32MiB',
                    ),
                  },
                  { description: 'Tail mode settings (used when `mode: tail`).' },
                ),
                {},
              ),
            },
            { description: 'The sampler of spans and log records; tiers, budgets and keep rules live in the rules file.' },
          ),
          {},
        ),
      },
      { description: 'Process-level settings of processors (governance policy lives in the rules file).' },
    ),
    {},
  ),
  usage_store: optional(
    object(
      {
        flush_interval: optional(duration({ min: 100, description: 'How often recorded usage is written to SQLite, in one transaction (never on the request path).' }), '10s'),
        minute_retention_days: optional(number({ min: 0.01, description: 'Days minute rows are kept before they are rolled up into hourly rows.' }), 7),
        hourly_retention_days: optional(number({ min: 0.01, description: 'Days hourly rows and violations are kept; at least `minute_retention_days`.' }), 90),
      },
      { description: 'The usage store: `<data_dir>/tollgate.db` (SQLite, WAL). See docs/usage-store.md.' },
    ),
    {},
  ),
  limits: optional(limitsSchema, {}),
  api: optional(
    object(
      {
        endpoint: optional(endpoint({ description: `Listen address of the budget REST API and /metrics. ${LISTEN_NOTE}` }), '127.0.0.1:8717'),
        tokens: optional(apiTokensSchema, []),
      },
      { description: 'The budget API.' },
    ),
    {},
  ),
  global_budgets: optional(globalBudgetsSchema),
  rules: optional(nullable(string({ minLength: 1 })), null, {
    description: 'Path to the governance rules file; `null` uses the embedded default rules.',
  }),
  shutdown: optional(
    object(
      { drain_timeout: optional(duration({ description: 'On SIGTERM, how long in-flight requests and exporter queues may drain before they are aborted.' }), '10s') },
      { description: 'Graceful shutdown.' },
    ),
    {},
  ),
  telemetry: optional(
    object(
      {
        logs: optional(
          object({ level: optional(enumOf(['debug', 'info', 'warn', 'error'], { description: 'Lowest level written.' }), 'info') }, { description: 'The internal log.' }),
          {},
        ),
      },
      { description: "Tollgate's own telemetry." },
    ),
    {},
  ),
});

type RawConfig = Infer<typeof rootFields>;

export type OtlpHttpReceiverConfig = Infer<typeof otlpHttpReceiverSchema>;
export type OtlpGrpcReceiverConfig = Infer<typeof otlpGrpcReceiverSchema>;
export type RetryConfig = Infer<typeof retrySchema>;
export type SendingQueueConfig = Infer<typeof sendingQueueSchema>;
export type LimitsConfig = Infer<typeof limitsSchema>;
export type GlobalBudgetsConfig = Infer<typeof globalBudgetsSchema>;
/** One `api.tokens` entry after parsing: a plain `token` has become its `sha256`. */
export type ApiTokenConfig = Infer<typeof apiTokenSchema>;

export type FileExporterConfig = Simplify<Omit<Infer<typeof fileExporterSchema>, 'path'> & { readonly type: 'file'; readonly path: string }>;
export type OtlpHttpExporterConfig = Simplify<Infer<typeof otlpHttpExporterSchema> & { readonly type: 'otlphttp' }>;
export type KafkaExporterConfig = Simplify<Infer<typeof kafkaExporterSchema> & { readonly type: 'kafka' }>;
export type KafkaReceiverConfig = Infer<typeof kafkaReceiverSchema>;
/** One configured exporter; `type` tells which. The map key (`otlphttp/backend`) is its name. */
export type ExporterConfig = FileExporterConfig | OtlpHttpExporterConfig | KafkaExporterConfig;

/** `./data` → `./data/export`, keeping the relative form the user wrote. */
function defaultExportPath(dataDir: string): string {
  return `${dataDir.replace(/[\\/]+$/, '')}/export`;
}

function withFileExportPaths(exporters: RawConfig['exporters'], dataDir: string): Readonly<Record<string, ExporterConfig>> {
  const resolved = Object.entries(exporters).map(([key, exporter]): [string, ExporterConfig] => [
    key,
    exporter.type === 'file' ? { ...exporter, path: exporter.path ?? defaultExportPath(dataDir) } : exporter,
  ]);
  return Object.fromEntries(resolved);
}

interface Listener {
  readonly segments: readonly PathSegment[];
  readonly endpoint: Endpoint;
}

function enabledListeners(config: RawConfig): Listener[] {
  const { http, grpc } = config.receivers.otlp.protocols;
  const listeners: Listener[] = [];
  if (http.enabled) listeners.push({ segments: ['receivers', 'otlp', 'protocols', 'http', 'endpoint'], endpoint: http.endpoint });
  if (grpc.enabled) listeners.push({ segments: ['receivers', 'otlp', 'protocols', 'grpc', 'endpoint'], endpoint: grpc.endpoint });
  listeners.push({ segments: ['api', 'endpoint'], endpoint: config.api.endpoint });
  return listeners;
}

const ANY_HOST = new Set(['0.0.0.0', '::']);

/** Two listeners clash on the same port when their hosts are equal or either listens everywhere. Port 0 picks a free port. */
function clash(a: Endpoint, b: Endpoint): boolean {
  return a.port !== 0 && a.port === b.port && (a.host === b.host || ANY_HOST.has(a.host) || ANY_HOST.has(b.host));
}

/** Catches "address already in use" at validation time, with both keys named, instead of at bind time. */
function reportClashingListeners(config: RawConfig, report: ReportIssue): void {
  const listeners = enabledListeners(config);
  listeners.forEach((listener, index) => {
    const earlier = listeners.slice(0, index).find((other) => clash(other.endpoint, listener.endpoint));
    if (earlier) report(listener.segments, `${formatEndpoint(listener.endpoint)} clashes with ${formatPath(earlier.segments)} (${formatEndpoint(earlier.endpoint)})`);
  });
}

/** The schema of the serve config file. */
export const tollgateConfigSchema = refine(rootFields, (raw, report) => {
  reportClashingListeners(raw, report);
  // Otherwise rolled-up hours would be deleted while younger minute rows still exist.
  if (raw.usage_store.hourly_retention_days < raw.usage_store.minute_retention_days) {
    report(['usage_store', 'hourly_retention_days'], `must be at least minute_retention_days (${raw.usage_store.minute_retention_days})`);
  }
  return { ...raw, exporters: withFileExportPaths(raw.exporters, raw.data_dir) };
});

/** The validated, defaults-applied, deeply frozen serve config. Durations are ms, sizes are bytes. */
export type TollgateConfig = Infer<typeof tollgateConfigSchema>;

// ─── The embedded default ──────────────────────────────────────────────────────────────────────

/** What `tollgate serve` runs with when no config file is given; printable as a starting point. */
export const DEFAULT_CONFIG_YAML = `# Tollgate process config, read once by tollgate serve.
# Values shown are the defaults. Strings may use \${env:NAME} (or \${NAME}, \${env:NAME:-fallback}).
# Durations: 250ms, 5s, 2m, 1h. Sizes: 512KiB, 64MiB, 1GiB, 10MB. Reference: docs/config.md

# State (SQLite) and the file exporter live here.
data_dir: ./data

receivers:
  otlp:
    protocols:
      http:
        enabled: true
        endpoint: 127.0.0.1:4318        # ":4318" = every IPv4 interface, "[::]:4318" = IPv6 too
        max_request_body_size: 64MiB    # after decompression
      grpc:
        enabled: true
        endpoint: 127.0.0.1:4317
        max_recv_msg_size: 64MiB

# Keyed "type" or "type/name". Known types: file, otlphttp, kafka.
exporters:
  file:
    # path: ./data/export             # defaults to <data_dir>/export
    max_file_size: 100MiB
    max_files: 5
  # otlphttp/backend:
  #   endpoint: http://127.0.0.1:4318 # /v1/traces, /v1/metrics, /v1/logs are appended
  #   compression: gzip               # gzip | none
  #   headers:
  #     authorization: "Bearer \${env:BACKEND_TOKEN}"
  #   timeout: 10s
  #   retry_on_failure: { enabled: true, initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
  #   sending_queue: { max_in_flight_bytes: 64MiB, queue_size: 1000 }
  # kafka:                            # docs/kafka.md
  #   brokers: [kafka-0:9092]
  #   topics: { traces: otlp_spans, metrics: otlp_metrics, logs: otlp_logs }
  #   keys: { traces: trace_id, metrics: service.name, logs: service.name }
  #   compression: zstd               # zstd | gzip | none
  #   timeout: 10s                    # broker acknowledgement (acks from all in-sync replicas)

processors:
  attribute_policy:
    hash_key: \${env:TOLLGATE_HASH_KEY:-tollgate-default-hash-key}   # set a secret shared by all replicas
    hash_length: 16
  cardinality:
    report_drops: false               # true: budget drops are reported to clients as partial success
    sweep_interval: 30s               # expire series unseen for the team's window; refresh gauges
    snapshot_interval: 60s            # series state saved to SQLite (survives a restart)
    max_tracked_series_per_team: 4000000
    max_label_trackers: 10000
  sampling:
    sample_rate_attribute: false      # true: kept items also carry SampleRate = N of "1 in N"
    mode: head                        # tail: a gateway buffers spans by trace id and decides whole traces
    tail:
      decision_wait: 5s
      max_spans_per_trace: 1000
      max_buffered_bytes: 64MiB       # full: new spans are decided at once (head decision)
      decision_cache_size: 100000     # decisions kept for late spans
      max_backlog_bytes: 32MiB        # decided spans waiting for exporters before 503

usage_store:                          # <data_dir>/tollgate.db (SQLite, WAL)
  flush_interval: 10s
  minute_retention_days: 7
  hourly_retention_days: 90

limits:
  memory_limit: 512MiB                # request bytes in flight; above it receivers answer 503/UNAVAILABLE
  max_concurrent_requests: 256        # per receiver

api:
  endpoint: 127.0.0.1:8717
  tokens: []                          # none: the first start writes an admin token to <data_dir>/admin.token
    # - { name: ops, admin: true, token_file: /run/secrets/tollgate-admin }
    # - { name: checkout-ci, team: checkout, sha256: <64 hex digits> }
    # - { name: search, team: search, token: "\${env:SEARCH_API_TOKEN}" }

rules: null                           # path to the rules file; null = the embedded default rules

# Team budgets across many sidecars through Kafka (docs/scale-out.md); absent = local budgets only.
# global_budgets:
#   brokers: [kafka-0:9092]
#   instance_id: \${env:HOSTNAME}         # defaults to the host name
#   usage_topic: tollgate.usage
#   state_topic: tollgate.budget-state  # compacted
#   report_interval: 10s
#   max_state_age: 60s                  # older global state: fall back to local limits
#   aggregator: { group_id: tollgate-aggregator, publish_interval: 10s, report_ttl: 60s }

shutdown:
  drain_timeout: 10s

telemetry:
  logs:
    level: info                       # debug | info | warn | error
`;

// ─── Errors ────────────────────────────────────────────────────────────────────────────────────

/** A config issue with the place in the source file it came from, when known (1-based). */
export interface SourceIssue extends ConfigIssue {
  readonly line?: number;
  readonly column?: number;
}

/** `tollgate.yaml:12:7: exporters.file.max_files: must be a positive integer` */
export function formatIssue(sourceName: string, issue: SourceIssue): string {
  const where = issue.line === undefined ? sourceName : `${sourceName}:${issue.line}:${issue.column ?? 1}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/** Thrown when a config file cannot be read, parsed or validated; `issues` lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly sourceName: string,
    readonly issues: readonly SourceIssue[],
    subject = 'configuration',
  ) {
    const count = `${issues.length} error${issues.length === 1 ? '' : 's'}`;
    super([`invalid ${subject} in ${sourceName} (${count}):`, ...issues.map((issue) => `  ${formatIssue(sourceName, issue)}`)].join('\n'));
  }
}

// ─── Environment substitution ──────────────────────────────────────────────────────────────────

export type Environment = Readonly<Record<string, string | undefined>>;

const REFERENCE = /\$\$|\$\{([^}]*)\}/g;
const WHOLE_REFERENCE = /^\$\{[^}]*\}$/;
const REFERENCE_BODY = /^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** The value YAML would give the text if written unquoted, when that is a number or boolean. */
function typedReading(text: string): unknown {
  try {
    const parsed: unknown = parseYamlScalar(text);
    return typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : text;
  } catch {
    return text;
  }
}

function expandString(text: string, env: Environment, problems: string[]): unknown {
  if (!text.includes('$')) return text;
  const expanded = text.replace(REFERENCE, (match: string, body: string | undefined) => {
    if (body === undefined) return '$'; // "$$" is a literal dollar sign
    const reference = REFERENCE_BODY.exec(body);
    if (!reference) {
      problems.push(`unsupported reference "${match}": use \${env:NAME}`);
      return match;
    }
    const [, name, fallback] = reference;
    const value = env[name];
    if (value !== undefined && !(value === '' && fallback !== undefined)) return value;
    if (fallback !== undefined) return fallback;
    problems.push(`environment variable "${name}" is not set`);
    return match;
  });
  return WHOLE_REFERENCE.test(text) && problems.length === 0 ? new UntypedScalar(expanded, typedReading(expanded)) : expanded;
}

/**
 * Replaces `${env:NAME}`, `${NAME}` and `${env:NAME:-fallback}` in every string value (not in
 * keys); `$$` stands for a literal `$`. A value that is one whole reference becomes an
 * UntypedScalar, so `max_files: ${env:MAX_FILES}` can be a number. A reference to an unset
 * variable is an issue naming the key path; the value is then left as written.
 */
export function expandEnvironment(value: unknown, env: Environment): { readonly value: unknown; readonly issues: readonly ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const walk = (node: unknown, segments: readonly PathSegment[]): unknown => {
    if (typeof node === 'string') {
      const problems: string[] = [];
      const expanded = expandString(node, env, problems);
      for (const message of problems) issues.push({ path: formatPath(segments), message, segments });
      return expanded;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...segments, index]));
    if (typeof node === 'object' && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, walk(child, [...segments, key])]));
    }
    return node;
  };
  return { value: walk(value, []), issues };
}

// ─── Reading YAML sources ──────────────────────────────────────────────────────────────────────

export interface ReadYamlOptions {
  /** Variables for `${env:NAME}`; `false` turns substitution off. Default: process.env. */
  readonly env?: Environment | false;
  /** What the file is, for the error headline: "configuration", "rules". */
  readonly subject?: string;
}

function syntaxIssue(error: YAMLError, lineCounter: LineCounter): SourceIssue {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return { path: '', segments: [], message: `YAML syntax error: ${error.message}`, line, column: col };
}

/** The start offset of the deepest YAML node on the way to `segments` (a missing key points at its parent). */
function sourceOffset(doc: Document, segments: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as { range?: [number, number, number] } | null)?.range?.[0];
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      next = pair ? (pair.value ?? pair.key) : undefined;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    const range = (next as { range?: [number, number, number] } | null | undefined)?.range;
    if (!range) break;
    node = next;
    offset = range[0];
  }
  return offset;
}

function locate(issue: ConfigIssue, doc: Document, lineCounter: LineCounter): SourceIssue {
  const offset = sourceOffset(doc, issue.segments);
  if (offset === undefined) return issue;
  const { line, col } = lineCounter.linePos(offset);
  return { ...issue, line, column: col };
}

/** Top to bottom, like a compiler; issues with no position (e.g. a missing top-level key) first. Stable. */
function inSourceOrder(issues: readonly SourceIssue[]): SourceIssue[] {
  return [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

const samePath = (a: readonly PathSegment[], b: readonly PathSegment[]) => a.length === b.length && a.every((segment, i) => segment === b[i]);

/**
 * Parses YAML text, substitutes environment variables and validates the result against
 * `schema`; returns the frozen value or throws a ConfigError listing every issue with its line.
 * Shared by the process config and (later) the rules file.
 */
export function readYamlSource<Out>(schema: Schema<Out, unknown>, text: string, sourceName: string, options: ReadYamlOptions = {}): Out {
  const subject = options.subject ?? 'configuration';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(sourceName, doc.errors.map((error) => syntaxIssue(error, lineCounter)), subject);

  // An empty file means "all defaults".
  const raw: unknown = doc.toJS() ?? {};
  const env = options.env ?? process.env;
  const expansion = env === false ? { value: raw, issues: [] } : expandEnvironment(raw, env);
  const result = validate(schema, expansion.value);
  // A failed substitution leaves "${...}" in place; do not also complain that it is not a number.
  const validationIssues = result.ok ? [] : result.errors.filter((issue) => !expansion.issues.some((e) => samePath(e.segments, issue.segments)));
  const issues = [...expansion.issues, ...validationIssues];
  if (issues.length > 0 || !result.ok) throw new ConfigError(sourceName, inSourceOrder(issues.map((issue) => locate(issue, doc, lineCounter))), subject);
  return result.value;
}

// ─── Loading the serve config ──────────────────────────────────────────────────────────────────

/** Parses and validates config text; `sourceName` names it in errors. */
export function parseConfig(text: string, sourceName: string, env: Environment = process.env): TollgateConfig {
  return readYamlSource(tollgateConfigSchema, text, sourceName, { env });
}

/** Reads the config file at `path`, or the embedded default when there is none. Throws ConfigError. */
export function loadConfig(path: string | undefined, env: Environment = process.env): TollgateConfig {
  if (path === undefined) return parseConfig(DEFAULT_CONFIG_YAML, '<default config>', env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read the file: ${(error as Error).message}`;
    throw new ConfigError(path, [{ path: '', segments: [], message: reason }]);
  }
  return parseConfig(text, path, env);
}
