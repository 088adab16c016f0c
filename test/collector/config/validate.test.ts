import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UntypedScalar,
  arrayOf,
  boolean,
  byteSize,
  components,
  describeSchema,
  duration,
  editDistance,
  endpoint,
  enumOf,
  formatByteSize,
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
  suggestClosest,
  url,
  validate,
} from '../../../collector/config/validate.js';
import type { AnySchema, ConfigIssue, Endpoint, Infer } from '../../../collector/config/validate.js';

/** The value, or a failure that shows the issues. */
function valid(schema: AnySchema, input: unknown): unknown {
  const result = validate(schema, input);
  assert.ok(result.ok, `expected ${JSON.stringify(input)} to be valid, got ${JSON.stringify(result.ok ? null : result.errors)}`);
  return result.value;
}

/** The issues as `path: message` lines, which reads well in assertion diffs. */
function issues(schema: AnySchema, input: unknown): string[] {
  const result = validate(schema, input);
  assert.ok(!result.ok, `expected ${JSON.stringify(input)} to be invalid`);
  return result.errors.map((issue: ConfigIssue) => `${issue.path}: ${issue.message}`);
}

/** Scalars are checked as the value of key `v`, so messages carry a path. */
function scalarIssue(schema: AnySchema, input: unknown): string {
  const [line, ...more] = issues(object({ v: schema }), { v: input });
  assert.deepEqual(more, []);
  return line.replace(/^v: /, '');
}

test('string: accepts text, rejects other types, enforces minLength and pattern', () => {
  assert.equal(valid(string(), 'abc'), 'abc');
  assert.equal(valid(string(), ''), '');
  assert.equal(scalarIssue(string(), 5), 'must be a string');
  assert.equal(scalarIssue(string({ minLength: 1 }), ''), 'must not be empty');
  assert.equal(scalarIssue(string({ minLength: 3 }), 'ab'), 'must be at least 3 characters long');
  const lower = string({ pattern: { regex: /^[a-z]+$/, message: 'must be lowercase letters' } });
  assert.equal(valid(lower, 'abc'), 'abc');
  assert.equal(scalarIssue(lower, 'aBc'), 'must be lowercase letters');
});

test('integer: accepts whole numbers, names the allowed range', () => {
  assert.equal(valid(integer(), -3), -3);
  assert.equal(scalarIssue(integer(), 1.5), 'must be an integer');
  assert.equal(scalarIssue(integer(), '5'), 'must be an integer');
  assert.equal(scalarIssue(integer({ min: 1 }), 0), 'must be a positive integer');
  assert.equal(scalarIssue(integer({ min: 0 }), -1), 'must be a non-negative integer');
  assert.equal(scalarIssue(integer({ min: 1, max: 10 }), 11), 'must be an integer from 1 to 10');
  assert.equal(scalarIssue(integer({ max: 10 }), 11), 'must be an integer <= 10');
  assert.equal(valid(integer({ min: 1, max: 10 }), 10), 10);
});

test('number: accepts finite numbers within range', () => {
  assert.equal(valid(number(), 1.5), 1.5);
  assert.equal(scalarIssue(number(), Infinity), 'must be a number');
  assert.equal(scalarIssue(number(), NaN), 'must be a number');
  assert.equal(scalarIssue(number(), '1.5'), 'must be a number');
  assert.equal(scalarIssue(number({ min: 0, max: 1 }), 1.1), 'must be a number from 0 to 1');
  assert.equal(scalarIssue(number({ min: 1 }), 0.5), 'must be a number >= 1');
});

test('boolean: only true and false', () => {
  assert.equal(valid(boolean(), false), false);
  assert.equal(scalarIssue(boolean(), 'true'), 'must be true or false');
  assert.equal(scalarIssue(boolean(), 1), 'must be true or false');
});

test('enumOf: accepts listed values and suggests the nearest for a typo', () => {
  const level = enumOf(['debug', 'info', 'warn', 'error']);
  assert.equal(valid(level, 'warn'), 'warn');
  assert.equal(scalarIssue(level, 'inf'), 'must be one of "debug", "info", "warn", "error" (did you mean "info"?)');
  assert.equal(scalarIssue(level, 'verbose'), 'must be one of "debug", "info", "warn", "error"');
  assert.equal(scalarIssue(level, 3), 'must be one of "debug", "info", "warn", "error"');
});

test('duration: units and plain milliseconds become milliseconds', () => {
  const cases: [unknown, number][] = [
    ['250ms', 250],
    ['5s', 5000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    [0, 0],
    [1500, 1500],
  ];
  for (const [input, ms] of cases) assert.equal(valid(duration(), input), ms, String(input));
  for (const bad of ['5', '5x', 's', '', '-5s', -1, true, '5 s']) {
    assert.equal(scalarIssue(duration(), bad), 'must be a duration like "30s"', String(bad));
  }
  assert.equal(scalarIssue(duration({ min: 1 }), '0s'), 'must be at least 1ms');
  assert.equal(scalarIssue(duration({ max: 60_000 }), '2m'), 'must be at most 1m');
});

test('byteSize: binary and decimal units and plain bytes become bytes', () => {
  const cases: [unknown, number][] = [
    [1_048_576, 1_048_576],
    ['64MiB', 64 * 2 ** 20],
    ['512KiB', 512 * 1024],
    ['1GiB', 2 ** 30],
    ['10MB', 10_000_000],
    ['100B', 100],
    ['1.5KiB', 1536],
    ['64 MiB', 64 * 2 ** 20],
  ];
  for (const [input, bytes] of cases) assert.equal(valid(byteSize(), input), bytes, String(input));
  for (const bad of ['64M', 'lots', '64', -1, 1.5, false, 'MiB']) {
    assert.equal(scalarIssue(byteSize(), bad), 'must be a byte size like "64MiB"', String(bad));
  }
  assert.equal(scalarIssue(byteSize({ min: 1024 }), '1000B'), 'must be at least 1KiB');
  assert.equal(scalarIssue(byteSize({ max: 2 ** 20 }), '2MiB'), 'must be at most 1MiB');
});

test('endpoint: host:port with IPv4, bracketed IPv6, names and an empty host', () => {
  const cases: [string, Endpoint][] = [
    ['127.0.0.1:4318', { host: '127.0.0.1', port: 4318 }],
    ['[::1]:4317', { host: '::1', port: 4317 }],
    // No host means every IPv4 interface; "" would not bind in grpc-js.
    [':4318', { host: '0.0.0.0', port: 4318 }],
    ['[::]:4318', { host: '::', port: 4318 }],
    ['localhost:8717', { host: 'localhost', port: 8717 }],
    ['otel_collector:0', { host: 'otel_collector', port: 0 }],
  ];
  for (const [input, expected] of cases) assert.deepEqual(valid(endpoint(), input), expected, input);
  for (const bad of ['4318', '127.0.0.1', '[nope]:1', '::1:4317', 'a b:1', 'host:', 4318]) {
    assert.equal(scalarIssue(endpoint(), bad), 'must be an endpoint like "127.0.0.1:4318" or "[::1]:4317"', String(bad));
  }
  assert.equal(scalarIssue(endpoint(), 'localhost:65536'), 'port must be from 0 to 65535');
  assert.equal(formatEndpoint({ host: '::1', port: 4317 }), '[::1]:4317');
  assert.equal(formatEndpoint({ host: '0.0.0.0', port: 4318 }), '0.0.0.0:4318');
});

test('url: http and https by default, other schemes on request', () => {
  assert.equal(valid(url(), 'https://otlp.example.com/otlp'), 'https://otlp.example.com/otlp');
  assert.equal(scalarIssue(url(), 'otlp.example.com'), 'must be a URL like "http://127.0.0.1:4318"');
  assert.equal(scalarIssue(url(), 'ftp://example.com'), 'must use http or https, not ftp');
  assert.equal(valid(url({ protocols: ['kafka:'] }), 'kafka://broker:9092'), 'kafka://broker:9092');
});

test('object: strict keys with a "did you mean" for typos, required keys, declared order', () => {
  const server = object({ endpoint: string(), timeout: optional(duration(), '5s'), retries: optional(integer()) });
  assert.deepEqual(valid(server, { timeout: '1s', endpoint: 'x' }), { endpoint: 'x', timeout: 1000 });
  assert.deepEqual(issues(server, { endpiont: 'x' }), ['endpiont: unknown key "endpiont" (did you mean "endpoint"?)', 'endpoint: is required']);
  // An empty value (`endpoint:` in YAML) does not satisfy a required key.
  assert.deepEqual(issues(server, { endpoint: null }), ['endpoint: is required']);
  assert.deepEqual(issues(server, { endpoint: 'x', colour: 1 }), ['colour: unknown key "colour" (expected one of: endpoint, timeout, retries)']);
  assert.deepEqual(issues(object({}), { batch: {} }), ['batch: unknown key "batch"']);
  assert.deepEqual(issues(server, ['endpoint']), [': must be a mapping of keys to values, not a list']);
  assert.deepEqual(issues(object({ a: server }), { a: 'x' }), ['a: must be a mapping of keys to values, not a string']);
});

test('unknown keys: case, underscores and transpositions count as typos', () => {
  const shape = object({ max_files: optional(integer()), max_file_size: optional(integer()), level: optional(string()) });
  assert.deepEqual(issues(shape, { maxFiles: 1 }), ['maxFiles: unknown key "maxFiles" (did you mean "max_files"?)']);
  assert.deepEqual(issues(shape, { max_fiel_size: 1 }), ['max_fiel_size: unknown key "max_fiel_size" (did you mean "max_file_size"?)']);
  assert.deepEqual(issues(shape, { lvl: 1 }), ['lvl: unknown key "lvl" (expected one of: max_files, max_file_size, level)']);
});

test('every error is reported at once, with paths through objects, lists and maps', () => {
  const schema = object({
    a: object({ b: arrayOf(object({ c: integer({ min: 1 }) })) }),
    exporters: record(object({ headers: record(string()) })),
    level: enumOf(['info', 'debug']),
  });
  const input = {
    a: { b: [{ c: 1 }, { c: 2 }, { c: 0 }, { c: 'x', d: 1 }] },
    exporters: { x: { headers: { ok: 'v', bad: 7 } }, y: { headers: 'nope' } },
    level: 'loud',
    extra: true,
  };
  assert.deepEqual(issues(schema, input), [
    'extra: unknown key "extra" (expected one of: a, exporters, level)',
    'a.b[2].c: must be a positive integer',
    'a.b[3].d: unknown key "d" (expected one of: c)',
    'a.b[3].c: must be a positive integer',
    'exporters.x.headers.bad: must be a string',
    'exporters.y.headers: must be a mapping of keys to values, not a string',
    'level: must be one of "info", "debug"',
  ]);
  const result = validate(schema, input);
  assert.ok(!result.ok);
  assert.deepEqual(result.errors[1].segments, ['a', 'b', 2, 'c']);
});

test('formatPath quotes keys that would read ambiguously', () => {
  assert.equal(formatPath(['a', 'b', 2, 'c']), 'a.b[2].c');
  assert.equal(formatPath(['exporters', 'otlphttp/backend', 'headers', 'x.y']), 'exporters.otlphttp/backend.headers["x.y"]');
  assert.equal(formatPath([0, 'a']), '[0].a');
});

test('arrayOf: minimum length and a non-list value', () => {
  assert.deepEqual(valid(arrayOf(string()), ['a', 'b']), ['a', 'b']);
  assert.deepEqual(issues(object({ l: arrayOf(string(), { minItems: 1 }) }), { l: [] }), ['l: must have at least 1 item']);
  assert.deepEqual(issues(object({ l: arrayOf(string()) }), { l: 'a' }), ['l: must be a list, not a string']);
});

test('record: arbitrary keys, a key pattern, and "__proto__" stays an ordinary key', () => {
  const headers = record(string(), { keyPattern: { regex: /^[a-z-]+$/, message: 'is not a valid header name' } });
  assert.deepEqual(valid(headers, { 'x-team': 'a' }), { 'x-team': 'a' });
  assert.deepEqual(issues(object({ h: headers }), { h: { 'Bad Name': 'a' } }), ['h["Bad Name"]: is not a valid header name']);
  const value = valid(record(string()), JSON.parse('{"__proto__": "x"}')) as Record<string, string>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, 'x');
});

test('optional: defaults go through the schema; an empty value means the default; no default leaves the key out', () => {
  const schema = object({
    size: optional(byteSize(), '64MiB'),
    inner: optional(object({ level: optional(enumOf(['info', 'debug']), 'info'), n: optional(integer()) }), {}),
    note: optional(string()),
  });
  assert.deepEqual(valid(schema, {}), { size: 64 * 2 ** 20, inner: { level: 'info' } });
  assert.deepEqual(valid(schema, { size: null, inner: null }), { size: 64 * 2 ** 20, inner: { level: 'info' } });
  assert.deepEqual(valid(schema, { inner: { n: 2 }, note: 'x' }), { size: 64 * 2 ** 20, inner: { level: 'info', n: 2 }, note: 'x' });
  assert.ok(!('note' in (valid(schema, {}) as object)));
  assert.throws(() => optional(duration(), 'soon'), /invalid default "soon": \(value\): must be a duration like "30s"/);
});

test('nullable: null is a value of its own, also under optional', () => {
  const schema = object({ rules: optional(nullable(string({ minLength: 1 })), null), other: optional(nullable(string()), 'x') });
  assert.deepEqual(valid(schema, {}), { rules: null, other: 'x' });
  assert.deepEqual(valid(schema, { rules: 'r.yaml', other: null }), { rules: 'r.yaml', other: null });
  assert.deepEqual(issues(schema, { rules: '' }), ['rules: must not be empty']);
});

test('components: type and type/name keys, the type on each entry, typos in types', () => {
  const exporters = components(
    { file: object({ path: optional(string(), './out') }), otlphttp: object({ endpoint: url() }) },
    { noun: 'exporter', minEntries: 1 },
  );
  assert.deepEqual(valid(exporters, { file: null, 'otlphttp/a': { endpoint: 'http://a' } }), {
    file: { type: 'file', path: './out' },
    'otlphttp/a': { type: 'otlphttp', endpoint: 'http://a' },
  });
  assert.deepEqual(issues(object({ exporters }), { exporters: { otlhttp: {}, kafka: {}, 'file/': {}, 'otlphttp/b': {} } }), [
    'exporters.otlhttp: unknown exporter type "otlhttp" (did you mean "otlphttp"?)',
    'exporters.kafka: unknown exporter type "kafka" (known types: file, otlphttp)',
    'exporters.file/: the name after "file/" must not be empty',
    'exporters.otlphttp/b.endpoint: is required',
  ]);
  assert.deepEqual(issues(object({ exporters }), { exporters: {} }), ['exporters: must configure at least 1 exporter']);
});

test('refine: cross-field checks report at paths relative to the refined value, and may derive values', () => {
  const retry = refine(object({ initial: duration(), max: duration() }), (value, report) => {
    if (value.initial > value.max) report(['initial'], `must not exceed max (${formatDuration(value.max)})`);
    return { ...value, span: value.max - value.initial };
  });
  assert.deepEqual(valid(retry, { initial: '1s', max: '5s' }), { initial: 1000, max: 5000, span: 4000 });
  assert.deepEqual(issues(object({ retry }), { retry: { initial: '1m', max: '30s' } }), ['retry.initial: must not exceed max (30s)']);
  // The refinement waits until each field is valid on its own.
  assert.deepEqual(issues(object({ retry }), { retry: { initial: '1m', max: 'x' } }), ['retry.max: must be a duration like "30s"']);
});

test('the validated value is deeply frozen; the input is neither frozen nor changed', () => {
  const schema = object({ a: object({ list: arrayOf(object({ n: integer() })), map: record(string()) }), e: endpoint() });
  const input = { a: { list: [{ n: 1 }], map: { k: 'v' } }, e: ':1' };
  const value = valid(schema, input) as { a: { list: { n: number }[]; map: Record<string, string> }; e: Endpoint };
  for (const part of [value, value.a, value.a.list, value.a.list[0], value.a.map, value.e]) assert.ok(Object.isFrozen(part));
  assert.throws(() => {
    value.a.list[0].n = 2;
  }, TypeError);
  assert.ok(!Object.isFrozen(input.a.list[0]));
  assert.deepEqual(input, { a: { list: [{ n: 1 }], map: { k: 'v' } }, e: ':1' });
});

test('untyped scalars: numeric fields read the typed value, string fields the text', () => {
  const schema = object({ n: integer(), s: string(), b: boolean(), size: byteSize() });
  const fromEnv = { n: new UntypedScalar('5', 5), s: new UntypedScalar('0123', 123), b: new UntypedScalar('true', true), size: new UntypedScalar('64MiB', '64MiB') };
  assert.deepEqual(valid(schema, fromEnv), { n: 5, s: '0123', b: true, size: 64 * 2 ** 20 });
  assert.deepEqual(issues(object({ o: object({}) }), { o: new UntypedScalar('x', 'x') }), ['o: must be a mapping of keys to values, not "x"']);
});

test('editDistance counts a transposition as one edit; suggestClosest keeps to near misses', () => {
  assert.equal(editDistance('endpiont', 'endpoint'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(suggestClosest('otlhttp', ['file', 'otlphttp']), 'otlphttp');
  assert.equal(suggestClosest('Endpoint', ['endpoint']), 'endpoint');
  assert.equal(suggestClosest('xyz', ['file', 'otlphttp']), undefined);
  // Short words tolerate only one edit, so "ab" does not suggest "cd".
  assert.equal(suggestClosest('ab', ['cd']), undefined);
  assert.equal(suggestClosest('tmeout', ['timeout', 'time']), 'timeout');
});

test('formatDuration and formatByteSize pick the largest exact unit', () => {
  assert.equal(formatDuration(300_000), '5m');
  assert.equal(formatDuration(1500), '1500ms');
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatByteSize(64 * 2 ** 20), '64MiB');
  assert.equal(formatByteSize(1000), '1000B');
});

test('describeSchema renders one row per key with type, default and description', () => {
  const schema = object({
    name: string({ description: 'Who | what.' }),
    timeout: optional(duration({ description: 'Per request.' }), '10s'),
    tags: optional(arrayOf(string()), []),
    server: optional(object({ endpoint: optional(endpoint(), '127.0.0.1:80') }, { description: 'The server.' }), {}),
    rules: optional(nullable(string()), null, { description: 'Rules file.' }),
    items: optional(arrayOf(object({ n: integer({ min: 1 }) })), []),
    sinks: optional(components({ file: object({ path: string() }) }, { noun: 'sink', description: 'Sinks.' }), {}),
  });
  assert.equal(
    describeSchema(schema),
    [
      '| Key | Type | Default | Description |',
      '|---|---|---|---|',
      '| `name` | string | required | Who \\| what. |',
      '| `timeout` | duration | `10s` | Per request. |',
      '| `tags` | list of string | `[]` |  |',
      '| `server` | object |  | The server. |',
      '| `server.endpoint` | endpoint (host:port) | `127.0.0.1:80` |  |',
      '| `rules` | string or null | `null` | Rules file. |',
      '| `items` | list of object | `[]` |  |',
      '| `items[].n` | integer (>= 1) | required |  |',
      '| `sinks` | map of sink by `type[/name]` |  | Sinks. |',
      '| `sinks.file[/<name>]` | object |  |  |',
      '| `sinks.file[/<name>].path` | string | required |  |',
      '',
    ].join('\n'),
  );
});

test('Infer gives the output type: defaults make keys required, optional without default stays optional', () => {
  const schema = object({
    size: optional(byteSize(), '1KiB'),
    note: optional(string()),
    level: enumOf(['a', 'b']),
    e: endpoint(),
    list: arrayOf(integer()),
  });
  type Expected = {
    readonly size: number;
    readonly note?: string | undefined;
    readonly level: 'a' | 'b';
    readonly e: Endpoint;
    readonly list: readonly number[];
  };
  const sameType: Equal<Infer<typeof schema>, Expected> = true;
  assert.ok(sameType);
  const value: Expected = valid(schema, { level: 'a', e: ':1', list: [] }) as Infer<typeof schema>;
  assert.deepEqual(value, { size: 1024, level: 'a', e: { host: '0.0.0.0', port: 1 }, list: [] });
});

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
