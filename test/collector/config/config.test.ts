import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_YAML, loadConfig, parseConfig, tollgateConfigSchema } from '../../../collector/config/config.js';
import type { ExporterConfig, TollgateConfig } from '../../../collector/config/config.js';
import { validate } from '../../../collector/config/validate.js';
import type { Endpoint } from '../../../collector/config/validate.js';

const MiB = 2 ** 20;

/** The issues of a config text as `line:col path: message`, or a failure if it was accepted. */
function configIssues(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, 'tollgate.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.issues.map((issue) => `${issue.line ?? '-'}:${issue.column ?? '-'} ${issue.path}: ${issue.message}`);
  }
  assert.fail('expected the config to be rejected');
}

const DEFAULT_EXPECTED: TollgateConfig = {
  data_dir: './data',
  receivers: {
    otlp: {
      protocols: {
        http: { enabled: true, endpoint: { host: '127.0.0.1', port: 4318 }, max_request_body_size: 64 * MiB },
        grpc: { enabled: true, endpoint: { host: '127.0.0.1', port: 4317 }, max_recv_msg_size: 64 * MiB },
      },
    },
  },
  exporters: { file: { type: 'file', path: './data/export', max_file_size: 100 * MiB, max_files: 5 } },
  processors: {
    attribute_policy: { hash_key: 'tollgate-default-hash-key', hash_length: 16 },
    cardinality: { report_drops: false, sweep_interval: 30_000, snapshot_interval: 60_000, max_tracked_series_per_team: 4_000_000, max_label_trackers: 10_000 },
    sampling: {
      sample_rate_attribute: false,
      mode: 'head',
      tail: { decision_wait: 5000, max_spans_per_trace: 1000, max_buffered_bytes: 64 * MiB, decision_cache_size: 100_000, max_backlog_bytes: 32 * MiB },
    },
  },
  usage_store: { flush_interval: 10_000, minute_retention_days: 7, hourly_retention_days: 90 },
  limits: { memory_limit: 512 * MiB, max_concurrent_requests: 256 },
  api: { endpoint: { host: '127.0.0.1', port: 8717 }, tokens: [] },
  rules: null,
  shutdown: { drain_timeout: 10_000 },
  telemetry: { logs: { level: 'info' } },
};

test('with no file the embedded default applies: loopback receivers, file exporter in ./data/export', () => {
  const config = loadConfig(undefined, {});
  assert.deepEqual(config, DEFAULT_EXPECTED);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.exporters.file) && Object.isFrozen(config.receivers.otlp.protocols.http.endpoint));
});

test('the embedded default YAML, an empty file and an empty object all mean the same config', () => {
  assert.deepEqual(parseConfig(DEFAULT_CONFIG_YAML, 'default.yaml', {}), DEFAULT_EXPECTED);
  assert.deepEqual(parseConfig('', 'empty.yaml', {}), DEFAULT_EXPECTED);
  assert.deepEqual(parseConfig('# only comments\n', 'comments.yaml', {}), DEFAULT_EXPECTED);
  const result = validate(tollgateConfigSchema, {});
  assert.ok(result.ok);
  assert.deepEqual(result.value, DEFAULT_EXPECTED);
});

test('the commented otlphttp example in the default YAML is valid once uncommented', () => {
  const uncommented = DEFAULT_CONFIG_YAML.replace(/^ {2}# /gm, '  ');
  assert.notEqual(uncommented, DEFAULT_CONFIG_YAML);
  const config = parseConfig(uncommented, 'default.yaml', { BACKEND_TOKEN: 't0k3n' });
  const backend = config.exporters['otlphttp/backend'];
  assert.equal(backend.type, 'otlphttp');
  assert.equal(backend.type === 'otlphttp' && backend.headers.authorization, 'Bearer t0k3n');
});

const FULL_EXAMPLE = `
data_dir: /var/lib/tollgate
receivers:
  otlp:
    protocols:
      http: { endpoint: ":4318", max_request_body_size: 16MiB }
      grpc: { endpoint: "[::1]:4317", max_recv_msg_size: 4194304, enabled: false }
exporters:
  file:
    max_files: 3
  file/audit:
    path: /srv/audit
    max_file_size: 10MB
  otlphttp/backend:
    endpoint: https://otlp.example.com/otlp/
    logs_endpoint: https://logs.example.com/ingest
    compression: none
    headers:
      authorization: Bearer abc
      x-scope-orgid: team-a
    timeout: 2500ms
    retry_on_failure: { enabled: false, initial_interval: 1s, max_interval: 1m, max_elapsed_time: 0, multiplier: 2, randomization_factor: 0 }
    sending_queue: { max_in_flight_bytes: 1GiB, queue_size: 2 }
processors:
  cardinality: { report_drops: true, sweep_interval: 5s, snapshot_interval: 2m, max_tracked_series_per_team: 1000, max_label_trackers: 0 }
  sampling: { sample_rate_attribute: true, mode: tail, tail: { decision_wait: 2s, max_spans_per_trace: 50, max_buffered_bytes: 1MiB, decision_cache_size: 10, max_backlog_bytes: 2MiB } }
usage_store: { flush_interval: 500ms, minute_retention_days: 2, hourly_retention_days: 30 }
limits:
  memory_limit: 1GiB
  max_concurrent_requests: 32
api:
  endpoint: 0.0.0.0:9000
rules: ./rules.yaml
shutdown:
  drain_timeout: 1m
telemetry:
  logs:
    level: debug
`;

test('a full example: every key set, units converted, signal URLs and file paths resolved', () => {
  const config = parseConfig(FULL_EXAMPLE, 'full.yaml', {});
  const expectedExporters: Record<string, ExporterConfig> = {
    file: { type: 'file', path: '/var/lib/tollgate/export', max_file_size: 100 * MiB, max_files: 3 },
    'file/audit': { type: 'file', path: '/srv/audit', max_file_size: 10_000_000, max_files: 5 },
    'otlphttp/backend': {
      type: 'otlphttp',
      endpoint: 'https://otlp.example.com/otlp/',
      traces_endpoint: 'https://otlp.example.com/otlp/v1/traces',
      metrics_endpoint: 'https://otlp.example.com/otlp/v1/metrics',
      logs_endpoint: 'https://logs.example.com/ingest',
      compression: 'none',
      headers: { authorization: 'Bearer abc', 'x-scope-orgid': 'team-a' },
      timeout: 2500,
      retry_on_failure: { enabled: false, initial_interval: 1000, max_interval: 60_000, max_elapsed_time: 0, multiplier: 2, randomization_factor: 0 },
      sending_queue: { max_in_flight_bytes: 1024 * MiB, queue_size: 2 },
    },
  };
  assert.deepEqual(config, {
    data_dir: '/var/lib/tollgate',
    receivers: {
      otlp: {
        protocols: {
          http: { enabled: true, endpoint: { host: '0.0.0.0', port: 4318 }, max_request_body_size: 16 * MiB },
          grpc: { enabled: false, endpoint: { host: '::1', port: 4317 }, max_recv_msg_size: 4 * MiB },
        },
      },
    },
    exporters: expectedExporters,
    processors: {
      attribute_policy: { hash_key: 'tollgate-default-hash-key', hash_length: 16 },
      cardinality: { report_drops: true, sweep_interval: 5000, snapshot_interval: 120_000, max_tracked_series_per_team: 1000, max_label_trackers: 0 },
      sampling: {
        sample_rate_attribute: true,
        mode: 'tail',
        tail: { decision_wait: 2000, max_spans_per_trace: 50, max_buffered_bytes: MiB, decision_cache_size: 10, max_backlog_bytes: 2 * MiB },
      },
    },
    usage_store: { flush_interval: 500, minute_retention_days: 2, hourly_retention_days: 30 },
    limits: { memory_limit: 1024 * MiB, max_concurrent_requests: 32 },
    api: { endpoint: { host: '0.0.0.0', port: 9000 }, tokens: [] },
    rules: './rules.yaml',
    shutdown: { drain_timeout: 60_000 },
    telemetry: { logs: { level: 'debug' } },
  });
});

test('otlphttp defaults: gzip, 10s timeout, collector retry settings, signal paths appended to the base', () => {
  const config = parseConfig('exporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:4318\n', 'x.yaml', {});
  assert.deepEqual(Object.keys(config.exporters), ['otlphttp']);
  assert.deepEqual(config.exporters.otlphttp, {
    type: 'otlphttp',
    endpoint: 'http://127.0.0.1:4318',
    traces_endpoint: 'http://127.0.0.1:4318/v1/traces',
    metrics_endpoint: 'http://127.0.0.1:4318/v1/metrics',
    logs_endpoint: 'http://127.0.0.1:4318/v1/logs',
    compression: 'gzip',
    headers: {},
    timeout: 10_000,
    retry_on_failure: { enabled: true, initial_interval: 5000, max_interval: 30_000, max_elapsed_time: 300_000, multiplier: 1.5, randomization_factor: 0.5 },
    sending_queue: { max_in_flight_bytes: 64 * MiB, queue_size: 1000 },
  });
});

test('the file exporter path follows data_dir unless set', () => {
  assert.equal(parseConfig('data_dir: ./state/\n', 'x.yaml', {}).exporters.file.type, 'file');
  const exporters = parseConfig('data_dir: ./state/\nexporters: { file: , file/b: { path: ./b } }\n', 'x.yaml', {}).exporters;
  assert.deepEqual(
    Object.entries(exporters).map(([key, e]) => [key, e.type === 'file' ? e.path : '']),
    [
      ['file', './state/export'],
      ['file/b', './b'],
    ],
  );
});

const BAD_CONFIG = `data_dir: ""
receivers:
  otlp:
    protocols:
      http: { endpoint: "localhost", max_request_body_size: lots }
exporters:
  otlhttp: {}
  otlphttp/backend:
    endpiont: http://x
    compression: brotli
    retry_on_failure: { multiplier: 0.5 }
limits:
  memry_limit: 1GiB
telemetry:
  logs: { level: verbose }
`;

test('a bad config lists every error with its path and line, in file order', () => {
  assert.deepEqual(configIssues(BAD_CONFIG), [
    '1:11 data_dir: must not be empty',
    '5:25 receivers.otlp.protocols.http.endpoint: must be an endpoint like "127.0.0.1:4318" or "[::1]:4317"',
    '5:61 receivers.otlp.protocols.http.max_request_body_size: must be a byte size like "64MiB"',
    '7:12 exporters.otlhttp: unknown exporter type "otlhttp" (did you mean "otlphttp"?)',
    // A missing key points at the mapping it is missing from.
    '9:5 exporters.otlphttp/backend.endpoint: is required',
    '9:15 exporters.otlphttp/backend.endpiont: unknown key "endpiont" (did you mean "endpoint"?)',
    '10:18 exporters.otlphttp/backend.compression: must be one of "gzip", "none"',
    '11:37 exporters.otlphttp/backend.retry_on_failure.multiplier: must be a number >= 1',
    '13:16 limits.memry_limit: unknown key "memry_limit" (did you mean "memory_limit"?)',
    '15:18 telemetry.logs.level: must be one of "debug", "info", "warn", "error"',
  ]);
});

test('the ConfigError message names the file on every line', () => {
  assert.throws(
    () => parseConfig('limits: { memory_limit: lots }\nexporters: { otlhttp: {} }\n', 'conf/tollgate.yaml', {}),
    (caught: unknown) => {
      assert.ok(caught instanceof ConfigError);
      assert.equal(caught.name, 'ConfigError');
      assert.equal(caught.sourceName, 'conf/tollgate.yaml');
      assert.equal(
        caught.message,
        [
          'invalid configuration in conf/tollgate.yaml (2 errors):',
          '  conf/tollgate.yaml:1:25: limits.memory_limit: must be a byte size like "64MiB"',
          '  conf/tollgate.yaml:2:23: exporters.otlhttp: unknown exporter type "otlhttp" (did you mean "otlphttp"?)',
        ].join('\n'),
      );
      return true;
    },
  );
});

test('cross-key checks: clashing listeners, initial_interval above max_interval, no exporter at all', () => {
  assert.deepEqual(configIssues('api: { endpoint: ":4318" }\n'), ['1:18 api.endpoint: 0.0.0.0:4318 clashes with receivers.otlp.protocols.http.endpoint (127.0.0.1:4318)']);
  // A disabled receiver does not hold its port, and port 0 is always free.
  parseConfig('receivers: { otlp: { protocols: { http: { enabled: false } } } }\napi: { endpoint: 127.0.0.1:4318 }\n', 'x.yaml', {});
  parseConfig('receivers: { otlp: { protocols: { http: { endpoint: ":0" }, grpc: { endpoint: ":0" } } } }\n', 'x.yaml', {});
  assert.deepEqual(configIssues('exporters:\n  otlphttp:\n    endpoint: http://x\n    retry_on_failure: { initial_interval: 1m }\n'), [
    '4:43 exporters.otlphttp.retry_on_failure.initial_interval: must not exceed max_interval (30s)',
  ]);
  assert.deepEqual(configIssues('exporters: {}\n'), ['1:12 exporters: must configure at least 1 exporter']);
  assert.deepEqual(configIssues('processors: { batch: {} }\n'), ['1:22 processors.batch: unknown key "batch" (expected one of: attribute_policy, cardinality, sampling)']);
  assert.deepEqual(configIssues('usage_store: { minute_retention_days: 10, hourly_retention_days: 5 }\n'), [
    '1:66 usage_store.hourly_retention_days: must be at least minute_retention_days (10)',
  ]);
  assert.deepEqual(configIssues('- a\n- b\n'), ['1:1 : must be a mapping of keys to values, not a list']);
});

test('environment substitution: ${env:NAME}, ${NAME}, fallbacks, $$ and typed whole values', () => {
  const env = { TOKEN: 's3cret', DIR: '/srv/tg', FILES: '7', PORT: '9100', LEVEL: 'warn', NUMERIC_TOKEN: '0123', EMPTY: '' };
  const config = parseConfig(
    `data_dir: \${DIR}
exporters:
  file:
    max_files: \${env:FILES}
  otlphttp:
    endpoint: http://collector:\${env:PORT}
    headers:
      authorization: "Bearer \${env:TOKEN}"
      x-token: \${env:NUMERIC_TOKEN}
      x-price: "$$5 \${env:MISSING:-none} \${env:EMPTY:-fallback}"
telemetry:
  logs:
    level: \${env:LEVEL}
`,
    'env.yaml',
    env,
  );
  assert.equal(config.data_dir, '/srv/tg');
  assert.deepEqual(config.exporters.file, { type: 'file', path: '/srv/tg/export', max_file_size: 100 * MiB, max_files: 7 });
  const otlp = config.exporters.otlphttp;
  assert.ok(otlp.type === 'otlphttp');
  assert.equal(otlp.endpoint, 'http://collector:9100');
  // A string field keeps the variable's text even when it looks like a number.
  assert.deepEqual(otlp.headers, { authorization: 'Bearer s3cret', 'x-token': '0123', 'x-price': '$5 none fallback' });
  assert.equal(config.telemetry.logs.level, 'warn');
});

test('environment substitution: an unset variable or a bad reference is an error naming the key', () => {
  assert.deepEqual(
    configIssues(`data_dir: \${env:DATA_DIR}
limits:
  max_concurrent_requests: \${MAX_REQ}
exporters:
  otlphttp: { endpoint: "http://x", headers: { a: "\${file:/etc/token}" } }
`),
    [
      '1:11 data_dir: environment variable "DATA_DIR" is not set',
      '3:28 limits.max_concurrent_requests: environment variable "MAX_REQ" is not set',
      '5:51 exporters.otlphttp.headers.a: unsupported reference "${file:/etc/token}": use ${env:NAME}',
    ],
  );
  // Inside a YAML flow mapping ({ ... }) a reference must be quoted; a quoted whole reference still reads as a number.
  assert.equal(parseConfig('limits: { max_concurrent_requests: "${N}" }\n', 'x.yaml', { N: '12' }).limits.max_concurrent_requests, 12);
  assert.deepEqual(configIssues('limits: { max_concurrent_requests: "${N}" }\n', { N: 'many' }), ['1:36 limits.max_concurrent_requests: must be a positive integer']);
});

test('YAML syntax errors are reported with line and column', () => {
  assert.deepEqual(configIssues('limits:\n  memory_limit: [1,\napi: {}\n'), [
    '3:1 : YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
  assert.deepEqual(configIssues('api: {}\napi: {}\n'), ['2:1 : YAML syntax error: Map keys must be unique']);
  assert.match(
    (() => {
      try {
        parseConfig('a: "unterminated\n', 'broken.yaml', {});
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })(),
    /^invalid configuration in broken\.yaml \(\d+ errors?\):\n {2}broken\.yaml:\d+:\d+: YAML syntax error: /,
  );
});

test('loadConfig reads a file, and a missing file is a ConfigError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
  const path = join(dir, 'tollgate.yaml');
  writeFileSync(path, 'telemetry: { logs: { level: error } }\n');
  assert.equal(loadConfig(path, {}).telemetry.logs.level, 'error');
  writeFileSync(path, 'telemetry: { logs: { levle: error } }\n');
  assert.throws(() => loadConfig(path, {}), (error: unknown) => error instanceof ConfigError && error.message.includes(`${path}:1:29: telemetry.logs.levle: unknown key "levle" (did you mean "level"?)`));
  assert.throws(() => loadConfig(join(dir, 'absent.yaml'), {}), (error: unknown) => error instanceof ConfigError && error.issues[0].message === 'file not found');
});

// The exact shape other components program against; a change to the schema that alters it fails to compile.
type ExpectedConfig = {
  readonly data_dir: string;
  readonly receivers: {
    readonly kafka?: ExpectedKafkaReceiver;
    readonly otlp: {
      readonly protocols: {
        readonly http: { readonly enabled: boolean; readonly endpoint: Endpoint; readonly max_request_body_size: number };
        readonly grpc: { readonly enabled: boolean; readonly endpoint: Endpoint; readonly max_recv_msg_size: number };
      };
    };
  };
  readonly exporters: Readonly<Record<string, ExpectedFileExporter | ExpectedOtlpHttpExporter | ExpectedKafkaExporter>>;
  readonly processors: {
    readonly attribute_policy: { readonly hash_key: string; readonly hash_length: number };
    readonly cardinality: {
      readonly report_drops: boolean;
      readonly sweep_interval: number;
      readonly snapshot_interval: number;
      readonly max_tracked_series_per_team: number;
      readonly max_label_trackers: number;
    };
    readonly sampling: {
      readonly sample_rate_attribute: boolean;
      readonly mode: 'head' | 'tail';
      readonly tail: {
        readonly decision_wait: number;
        readonly max_spans_per_trace: number;
        readonly max_buffered_bytes: number;
        readonly decision_cache_size: number;
        readonly max_backlog_bytes: number;
      };
    };
  };
  readonly usage_store: { readonly flush_interval: number; readonly minute_retention_days: number; readonly hourly_retention_days: number };
  readonly limits: { readonly memory_limit: number; readonly max_concurrent_requests: number };
  readonly api: {
    readonly endpoint: Endpoint;
    readonly tokens: readonly { readonly name: string; readonly team?: string; readonly admin: boolean; readonly sha256?: string; readonly token_file?: string }[];
  };
  readonly rules: string | null;
  readonly shutdown: { readonly drain_timeout: number };
  readonly telemetry: { readonly logs: { readonly level: 'debug' | 'info' | 'warn' | 'error' } };
};
type ExpectedFileExporter = { readonly type: 'file'; readonly path: string; readonly max_file_size: number; readonly max_files: number };
type ExpectedRetry = {
  readonly enabled: boolean;
  readonly initial_interval: number;
  readonly max_interval: number;
  readonly max_elapsed_time: number;
  readonly multiplier: number;
  readonly randomization_factor: number;
};
type ExpectedKafkaExporter = {
  readonly type: 'kafka';
  readonly brokers: readonly string[];
  readonly client_id: string;
  readonly topics: { readonly traces: string; readonly metrics: string; readonly logs: string };
  readonly keys: { readonly traces: 'trace_id' | 'service.name' | 'none'; readonly metrics: 'service.name' | 'none'; readonly logs: 'service.name' | 'none' };
  readonly compression: 'zstd' | 'gzip' | 'none';
  readonly timeout: number;
  readonly max_batch_size: number;
  readonly retry_on_failure: ExpectedRetry;
  readonly sending_queue: { readonly max_in_flight_bytes: number; readonly queue_size: number };
};
type ExpectedKafkaReceiver = {
  readonly brokers: readonly string[];
  readonly client_id: string;
  readonly group_id: string;
  readonly topics: { readonly traces: string | null; readonly metrics: string | null; readonly logs: string | null };
  readonly initial_offset: 'latest' | 'earliest';
  readonly session_timeout: number;
  readonly retry: { readonly initial_interval: number; readonly max_interval: number };
};
type ExpectedOtlpHttpExporter = {
  readonly type: 'otlphttp';
  readonly endpoint: string;
  readonly traces_endpoint: string;
  readonly metrics_endpoint: string;
  readonly logs_endpoint: string;
  readonly compression: 'gzip' | 'none';
  readonly headers: Readonly<Record<string, string>>;
  readonly timeout: number;
  readonly retry_on_failure: ExpectedRetry;
  readonly sending_queue: { readonly max_in_flight_bytes: number; readonly queue_size: number };
};
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

test('TollgateConfig has the documented shape', () => {
  const sameShape: MutuallyAssignable<TollgateConfig, ExpectedConfig> = true;
  const sameExporter: MutuallyAssignable<ExporterConfig, ExpectedFileExporter | ExpectedOtlpHttpExporter | ExpectedKafkaExporter> = true;
  assert.ok(sameShape && sameExporter);
});

test('api.tokens: a team or admin token from a hash, an env-substituted token (hashed at once) or a file', () => {
  const hash = 'a'.repeat(64);
  const config = parseConfig(
    `api:
  tokens:
    - { name: ops, admin: true, token_file: /run/secrets/admin }
    - { name: checkout, team: checkout, sha256: ${hash} }
    - { name: search, team: search, token: "\${env:SEARCH_TOKEN}" }
`,
    'x.yaml',
    { SEARCH_TOKEN: 'search-token-0123456789' },
  );
  assert.deepEqual(config.api.tokens, [
    { name: 'ops', admin: true, token_file: '/run/secrets/admin' },
    { name: 'checkout', team: 'checkout', admin: false, sha256: hash },
    { name: 'search', team: 'search', admin: false, sha256: createHash('sha256').update('search-token-0123456789').digest('hex') },
  ]);
  assert.ok(!JSON.stringify(config).includes('search-token-0123456789'), 'the plain token is not kept');
});

test('api.tokens: exactly one scope, exactly one source, a valid hash and unique names', () => {
  assert.deepEqual(
    configIssues(`api:
  tokens:
    - { name: a, sha256: ${'b'.repeat(64)} }
    - { name: b, team: t, admin: true, sha256: ${'b'.repeat(64)} }
    - { name: c, team: t }
    - { name: d, team: t, sha256: ABC, token_file: /x }
    - { name: a, team: t, token: short }
`),
    [
      '3:7 api.tokens[0]: set exactly one of `team` and `admin: true`',
      '4:7 api.tokens[1]: set exactly one of `team` and `admin: true`',
      '5:7 api.tokens[2]: set exactly one of `sha256`, `token` and `token_file` (got none)',
      '6:35 api.tokens[3].sha256: must be 64 lowercase hex digits (the SHA-256 of the token)',
      '7:34 api.tokens[4].token: must be at least 16 characters long',
    ],
  );
  assert.deepEqual(configIssues(`api:\n  tokens:\n    - { name: a, admin: true, sha256: ${'c'.repeat(64)} }\n    - { name: a, team: t, sha256: ${'d'.repeat(64)} }\n`), [
    '4:15 api.tokens[1].name: duplicate token name "a"',
  ]);
});
