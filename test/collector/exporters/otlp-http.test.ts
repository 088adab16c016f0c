// Integration tests against a real node:http downstream on 127.0.0.1: no HTTP mocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import type { AttemptStatus, ExporterObserver } from '../../../collector/exporters/observer.js';
import { createOtlpHttpExporter, parsePartialSuccess } from '../../../collector/exporters/otlp-http.js';
import type { ExportOutcome, ExportRequest } from '../../../collector/pipeline/contracts.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import { ByteWriter } from '../../../collector/otlp/wire.js';

interface Received {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Decompressed body. */
  readonly body: Buffer;
  readonly arrivedAt: number;
}

interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** Hold the answer until this resolves. */
  readonly after?: Promise<void>;
}

interface Downstream {
  readonly url: string;
  readonly received: Received[];
  /** When each answer was written, by request index. */
  readonly answeredAt: number[];
  connections(): number;
  close(): Promise<void>;
}

async function startDownstream(respond: (request: Received, index: number) => Reply): Promise<Downstream> {
  const received: Received[] = [];
  const answeredAt: number[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const request: Received = { path: req.url ?? '', headers: req.headers, body, arrivedAt: performance.now() };
      const index = received.push(request) - 1;
      const reply = respond(request, index);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/x-protobuf', ...reply.headers });
        answeredAt[index] = performance.now();
        res.end(reply.body ?? new Uint8Array(0));
      };
      if (reply.after === undefined) send();
      else void reply.after.then(send);
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answeredAt,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on which nothing listens. */
async function refusedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface RecordingObserver extends ExporterObserver {
  readonly attempts: Array<[Signal, AttemptStatus]>;
  readonly outcomes: Array<[Signal, number, ExportOutcome]>;
  readonly retries: Array<[Signal, number, string]>;
  readonly partials: Array<[Signal, number, string]>;
}

function recordingObserver(): RecordingObserver {
  const observer: RecordingObserver = {
    attempts: [],
    outcomes: [],
    retries: [],
    partials: [],
    onAttempt: (signal, status) => observer.attempts.push([signal, status]),
    onOutcome: (signal, items, outcome) => observer.outcomes.push([signal, items, outcome]),
    onRetry: (signal, delay, reason) => observer.retries.push([signal, delay, reason]),
    onPartialSuccess: (signal, rejected, message) => observer.partials.push([signal, rejected, message]),
  };
  return observer;
}

function request(signal: Signal, text: string, items = 1): ExportRequest {
  return { signal, body: Buffer.from(text), items };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const FAST_RETRY = { initialIntervalMs: 50, maxIntervalMs: 200, maxElapsedMs: 1000 };

void test('503, 503, 429 with Retry-After: 2, then 200: every request arrives, in order, after the requested wait', async () => {
  const downstream = await startDownstream((req) => {
    if (req.path !== '/v1/metrics') return { status: 200 };
    const metricsSoFar = downstream.received.filter((r) => r.path === '/v1/metrics').length;
    if (metricsSoFar <= 2) return { status: 503 };
    if (metricsSoFar === 3) return { status: 429, headers: { 'retry-after': '2' } };
    return { status: 200 };
  });
  const observer = recordingObserver();
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url, retry: { ...FAST_RETRY, maxElapsedMs: 10_000 } }, { observer });
  try {
    await exporter.start();
    const metrics = ['m0', 'm1', 'm2', 'm3'].map((text) => exporter.export(request('metrics', text)));
    const traces = exporter.export(request('traces', 't0'));
    assert.equal(exporter.queuedItems(), 5);

    assert.deepEqual(await Promise.all([...metrics, traces]), Array(5).fill({ kind: 'accepted' }));
    assert.equal(exporter.queuedItems(), 0);

    const metricArrivals = downstream.received.filter((r) => r.path === '/v1/metrics').map((r) => r.body.toString());
    // The head request blocks the rest of its stream until it is through: order holds.
    assert.deepEqual(metricArrivals, ['m0', 'm0', 'm0', 'm0', 'm1', 'm2', 'm3']);
    // Another signal is not held up by the metrics stream's retries.
    const traceIndex = downstream.received.findIndex((r) => r.path === '/v1/traces');
    const m1Index = downstream.received.findIndex((r) => r.body.toString() === 'm1');
    assert.ok(traceIndex < m1Index, 'traces went out while metrics were backing off');

    const metricIndexes = downstream.received.flatMap((r, i) => (r.path === '/v1/metrics' ? [i] : []));
    const waitAfter429 = downstream.received[metricIndexes[3]].arrivedAt - downstream.answeredAt[metricIndexes[2]];
    assert.ok(waitAfter429 >= 2000, `waited ${waitAfter429.toFixed(0)} ms after the 429`);

    const metricRetries = observer.retries.filter(([signal]) => signal === 'metrics');
    assert.equal(metricRetries.length, 3);
    assert.equal(metricRetries[2][1], 2000, 'Retry-After replaces the computed backoff');
    assert.match(metricRetries[0][2], /HTTP 503/);
    assert.deepEqual(
      observer.attempts.filter(([signal]) => signal === 'metrics').map(([, status]) => status),
      [503, 503, 429, 200, 200, 200, 200],
    );
    assert.equal(observer.outcomes.length, 5);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('gzip bodies decode to the original bytes; headers and per-signal URLs are honoured', async () => {
  const downstream = await startDownstream(() => ({ status: 200 }));
  const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const gzipped = createOtlpHttpExporter({ endpoint: `${downstream.url}/`, headers: { authorization: 'Bearer t0k3n', 'Content-Type': 'text/plain' } });
  const plain = createOtlpHttpExporter({
    endpoint: downstream.url,
    compression: 'none',
    signalEndpoints: { logs: `${downstream.url}/custom/logs-in` },
  });
  try {
    assert.deepEqual(await gzipped.export({ signal: 'metrics', body: payload, items: 10 }), { kind: 'accepted' });
    assert.deepEqual(await plain.export({ signal: 'logs', body: payload, items: 10 }), { kind: 'accepted' });
    assert.deepEqual(await plain.export({ signal: 'traces', body: payload, items: 10 }), { kind: 'accepted' });

    const [viaGzip, viaOverride, viaBase] = downstream.received;
    assert.equal(viaGzip.path, '/v1/metrics');
    assert.equal(viaGzip.headers['content-encoding'], 'gzip');
    assert.equal(viaGzip.headers['content-type'], 'application/x-protobuf', 'content type is not overridable');
    assert.equal(viaGzip.headers.authorization, 'Bearer t0k3n');
    assert.deepEqual(viaGzip.body, payload);

    assert.equal(viaOverride.path, '/custom/logs-in');
    assert.equal(viaOverride.headers['content-encoding'], undefined);
    assert.deepEqual(viaOverride.body, payload);
    assert.equal(viaBase.path, '/v1/traces');
  } finally {
    await gzipped.shutdown(Date.now() + 1000);
    await plain.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('credentials in the endpoint URL become basic auth, a query string is kept', async () => {
  const downstream = await startDownstream(() => ({ status: 200 }));
  const withUser = (userinfo: string): string => downstream.url.replace('http://', `http://${userinfo}@`);
  const exporters = [
    createOtlpHttpExporter({ endpoint: withUser('tollgate:s%3Acret'), compression: 'none' }),
    createOtlpHttpExporter({ endpoint: withUser(':only-a-password'), compression: 'none' }),
    createOtlpHttpExporter({ endpoint: downstream.url, compression: 'none', signalEndpoints: { metrics: `${downstream.url}/v1/metrics?tenant=shop` } }),
  ];
  try {
    for (const exporter of exporters) assert.deepEqual(await exporter.export({ signal: 'metrics', body: Buffer.from('x'), items: 1 }), { kind: 'accepted' });
    const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    assert.equal(downstream.received[0].headers.authorization, basic('tollgate', 's:cret'));
    assert.equal(downstream.received[1].headers.authorization, basic('', 'only-a-password'));
    assert.equal(downstream.received[2].headers.authorization, undefined);
    assert.equal(downstream.received[2].path, '/v1/metrics?tenant=shop');
  } finally {
    for (const exporter of exporters) await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('sequential requests reuse one keep-alive connection', async () => {
  const downstream = await startDownstream(() => ({ status: 200 }));
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url });
  try {
    for (let i = 0; i < 10; i++) assert.deepEqual(await exporter.export(request('metrics', `m${i}`)), { kind: 'accepted' });
    assert.equal(downstream.received.length, 10);
    assert.equal(downstream.connections(), 1);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('a 400 is not retried: exactly one attempt, failed not retryable, with the status message', async () => {
  const status = new ByteWriter().tag(1, 0).varint(3).tag(2, 2).string('metric name is empty').finish();
  const downstream = await startDownstream(() => ({ status: 400, body: status }));
  const observer = recordingObserver();
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url, retry: FAST_RETRY }, { observer });
  try {
    const outcome = await exporter.export(request('metrics', 'bad'));
    assert.deepEqual(outcome, { kind: 'failed', retryable: false, reason: 'HTTP 400: metric name is empty' });
    assert.equal(downstream.received.length, 1);
    assert.deepEqual(observer.attempts, [['metrics', 400]]);
    assert.deepEqual(observer.retries, []);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('a downstream that refuses connections past maxElapsed: failed retryable, attempts observed', async () => {
  const port = await refusedPort();
  const observer = recordingObserver();
  const exporter = createOtlpHttpExporter({ endpoint: `http://127.0.0.1:${port}`, retry: FAST_RETRY }, { observer });
  const started = performance.now();
  const outcome = await exporter.export(request('traces', 't', 7));
  const took = performance.now() - started;
  await exporter.shutdown(Date.now() + 1000);

  assert.equal(outcome.kind, 'failed');
  assert.equal(outcome.kind === 'failed' && outcome.retryable, true);
  assert.match(outcome.kind === 'failed' ? outcome.reason : '', /gave up.*ECONNREFUSED/);
  assert.ok(took < 2500, `gave up after ${took.toFixed(0)} ms`);
  assert.ok(observer.attempts.length >= 4, `${observer.attempts.length} attempts`);
  assert.ok(observer.attempts.every(([signal, status]) => signal === 'traces' && status === 'network_error'));
  assert.equal(observer.retries.length, observer.attempts.length - 1);
  assert.deepEqual(observer.outcomes, [['traces', 7, outcome]]);
});

void test('a downstream answering 503 past maxElapsed: failed retryable', async () => {
  const downstream = await startDownstream(() => ({ status: 503 }));
  const observer = recordingObserver();
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url, retry: FAST_RETRY }, { observer });
  try {
    const outcome = await exporter.export(request('logs', 'l'));
    assert.equal(outcome.kind === 'failed' && outcome.retryable, true);
    assert.ok(downstream.received.length >= 4);
    assert.equal(observer.attempts.length, downstream.received.length);
    assert.ok(observer.attempts.every(([, status]) => status === 503));
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('a per-attempt timeout counts as a retryable failure', async () => {
  const never = deferred();
  const downstream = await startDownstream(() => ({ status: 200, after: never.promise }));
  const observer = recordingObserver();
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url, timeoutMs: 100, retry: { enabled: false } }, { observer });
  try {
    const outcome = await exporter.export(request('metrics', 'slow'));
    assert.equal(outcome.kind === 'failed' && outcome.retryable, true);
    assert.match(outcome.kind === 'failed' ? outcome.reason : '', /timeout/);
    assert.deepEqual(observer.attempts, [['metrics', 'timeout']]);
  } finally {
    never.resolve();
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('busy at once when maxInFlightBytes or maxQueuedRequests would be exceeded', async () => {
  const release = deferred();
  const downstream = await startDownstream(() => ({ status: 200, after: release.promise }));
  const observer = recordingObserver();
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url, maxInFlightBytes: 1000, maxQueuedRequests: 3 }, { observer });
  try {
    const first = exporter.export({ signal: 'metrics', body: new Uint8Array(600), items: 6 });
    const tooBig = await exporter.export({ signal: 'traces', body: new Uint8Array(600), items: 6 });
    assert.equal(tooBig.kind, 'busy');
    assert.match(tooBig.kind === 'busy' ? tooBig.reason : '', /600\/1000 bytes/);
    assert.equal(exporter.queuedItems(), 6);

    const second = exporter.export({ signal: 'metrics', body: new Uint8Array(100), items: 1 });
    const third = exporter.export({ signal: 'logs', body: new Uint8Array(100), items: 1 });
    const fourth = await exporter.export({ signal: 'logs', body: new Uint8Array(1), items: 1 });
    assert.equal(fourth.kind, 'busy', 'the request-count bound holds too');
    assert.equal(exporter.queuedItems(), 8);

    release.resolve();
    assert.deepEqual(await Promise.all([first, second, third]), Array(3).fill({ kind: 'accepted' }));
    assert.equal(exporter.queuedItems(), 0);
    assert.equal(observer.outcomes.filter(([, , o]) => o.kind === 'busy').length, 2);
    // Room again once the queue drained.
    assert.deepEqual(await exporter.export({ signal: 'traces', body: new Uint8Array(600), items: 6 }), { kind: 'accepted' });
  } finally {
    release.resolve();
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('shutdown lets in-flight work finish before the deadline', async () => {
  const downstream = await startDownstream(() => ({ status: 200, after: new Promise((r) => setTimeout(r, 100)) }));
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url });
  try {
    const pending = exporter.export(request('metrics', 'm'));
    await exporter.shutdown(Date.now() + 2000);
    assert.deepEqual(await pending, { kind: 'accepted' });
    assert.deepEqual(await exporter.export(request('metrics', 'late')), { kind: 'failed', retryable: true, reason: 'exporter is shutting down' });
  } finally {
    await downstream.close();
  }
});

void test('shutdown aborts pending retries, queued and in-flight requests by the deadline', async () => {
  const hang = deferred();
  const downstream = await startDownstream((req) => (req.path === '/v1/logs' ? { status: 200, after: hang.promise } : { status: 503 }));
  const exporter = createOtlpHttpExporter({
    endpoint: downstream.url,
    retry: { initialIntervalMs: 5000, maxElapsedMs: 60_000 },
  });
  try {
    const backingOff = exporter.export(request('metrics', 'm0'));
    const queued = exporter.export(request('metrics', 'm1'));
    const onTheWire = exporter.export(request('logs', 'l0'));
    while (downstream.received.length < 2) await new Promise((r) => setTimeout(r, 10));

    const started = performance.now();
    await exporter.shutdown(Date.now() + 300);
    const took = performance.now() - started;
    assert.ok(took >= 250 && took < 2000, `shutdown took ${took.toFixed(0)} ms`);

    for (const outcome of await Promise.all([backingOff, queued, onTheWire])) {
      assert.equal(outcome.kind, 'failed');
      assert.equal(outcome.kind === 'failed' && outcome.retryable, true);
      assert.match(outcome.kind === 'failed' ? outcome.reason : '', /shut down/);
    }
    assert.equal(exporter.queuedItems(), 0);
    assert.deepEqual(
      downstream.received.map((r) => r.body.toString()).sort(),
      ['l0', 'm0'],
      'the queued request never went out',
    );
  } finally {
    hang.resolve();
    await downstream.close();
  }
});

void test('a 200 with partial_success is accepted and reported', async () => {
  const partial = new ByteWriter().fork().tag(1, 0).varint(3).tag(2, 2).string('3 points had no name').join(1).finish();
  const downstream = await startDownstream(() => ({ status: 200, body: partial }));
  const observer = recordingObserver();
  const warnings: string[] = [];
  const exporter = createOtlpHttpExporter({ endpoint: downstream.url }, { observer, logger: { warn: (message) => warnings.push(message) } });
  try {
    assert.deepEqual(await exporter.export(request('metrics', 'm', 10)), { kind: 'accepted' });
    assert.deepEqual(observer.partials, [['metrics', 3, '3 points had no name']]);
    assert.equal(warnings.length, 1);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await downstream.close();
  }
});

void test('parsePartialSuccess reads OTLP/JSON and ignores full successes and garbage', () => {
  const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
  assert.deepEqual(parsePartialSuccess(json({ partialSuccess: { rejectedSpans: '4', errorMessage: 'x' } }), 'application/json'), {
    rejectedItems: 4,
    message: 'x',
  });
  assert.equal(parsePartialSuccess(json({}), 'application/json'), undefined);
  assert.equal(parsePartialSuccess(json({ partialSuccess: {} }), 'application/json'), undefined);
  assert.equal(parsePartialSuccess(new Uint8Array(0), 'application/x-protobuf'), undefined);
  assert.equal(parsePartialSuccess(Uint8Array.of(0x0a, 0x05, 0x08), 'application/x-protobuf'), undefined);
  assert.equal(parsePartialSuccess(Buffer.from('{not json'), 'application/json'), undefined);
});
