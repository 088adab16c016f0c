// End to end against a real `tollgate serve` child process and a real OTLP/HTTP downstream on
// 127.0.0.1: every bad input gets its documented status (collector/errors/codes.ts), in the
// request's format, and nothing of it reaches the downstream; good inputs all arrive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { metricsRequest, metricsRequestObject, tracesRequest, tracesRequestObject } from '../../../bench/workloads.js';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { decodeExportResponse, decodeStatus, GrpcStatus } from '../../../collector/otlp/status.js';
import type { BodyFormat } from '../../../collector/otlp/status.js';
import { startDownstream } from '../../support/downstream.js';
import type { Downstream } from '../../support/downstream.js';
import { startTollgate } from '../../support/tollgate-process.js';
import type { TollgateProcess } from '../../support/tollgate-process.js';
import { sampleIn } from '../../support/prometheus.js';

const LIMIT = 1024 * 1024; // max_request_body_size below
const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Send the body chunked (no Content-Length), in pieces of this many bytes. */
  readonly chunked?: number;
  readonly agent?: http.Agent;
}

let downstream: Downstream;
let tollgate: TollgateProcess;
/** Keep-alive connection reused across requests, to check a refused request leaves it usable. */
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(path: string, body: Uint8Array | string, options: SendOptions = {}): Promise<Reply> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.length);
  const [host, port] = splitHostPort(tollgate.http);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.chunked === undefined) headers['content-length'] = bytes.length;
    const req = http.request({ host, port, path, method: options.method ?? 'POST', headers, agent: options.agent ?? false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${path} within 10 s`)));
    req.on('error', reject);
    if (options.chunked === undefined) {
      req.end(bytes);
    } else {
      for (let at = 0; at < bytes.length; at += options.chunked) req.write(bytes.subarray(at, at + options.chunked));
      req.end();
    }
  });
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

/** Asserts a google.rpc.Status error body in `format` with the given status code; returns its message. */
function assertStatusBody(reply: Reply, format: BodyFormat, code: number): string {
  assert.equal(reply.headers['content-type'], format === 'json' ? JSON_TYPE : PROTOBUF, 'response content type matches the request');
  const status = decodeStatus(reply.body, format);
  assert.equal(status.code, code, `google.rpc.Status.code (message: ${status.message})`);
  assert.ok(status.message.length > 0, 'the Status carries a message');
  if (format === 'json') {
    const raw = JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;
    assert.equal(raw.code, code, 'JSON Status has a numeric code');
    assert.equal(typeof raw.message, 'string');
  }
  return status.message;
}

/** Runs `action` and asserts the downstream received nothing meanwhile. */
async function nothingReachesDownstream<T>(action: () => Promise<T>): Promise<T> {
  const before = downstream.requests.length;
  const result = await action();
  // Exports happen before the answer, but give a stray late export the chance to show up.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(downstream.requests.length, before, 'the downstream received nothing');
  return result;
}

// --- hand-made protobuf ------------------------------------------------------------------------

function varint(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return out;
}

/** A length-delimited field. */
function ld(field: number, payload: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length)]), payload]);
}

/**
 * ExportMetricsServiceRequest with one gauge data point whose attribute "deep" holds an AnyValue
 * nested `depth` levels through array_value (the attribute's own value is level 1).
 */
function nestedAnyValueRequest(depth: number): Uint8Array {
  let value = ld(1, Buffer.from('leaf')); // AnyValue { string_value }
  for (let level = 1; level < depth; level++) value = ld(5, ld(1, value)); // AnyValue { array_value { values } }
  const keyValue = Buffer.concat([ld(1, Buffer.from('deep')), ld(2, value)]);
  const dataPoint = ld(7, keyValue); // NumberDataPoint.attributes
  const metric = Buffer.concat([ld(1, Buffer.from('nested.metric')), ld(5, ld(1, dataPoint))]); // name, gauge { data_points }
  return ld(1, ld(2, ld(2, metric))); // resource_metrics { scope_metrics { metrics } }
}

async function scrape(): Promise<string> {
  const res = await fetch(`http://${tollgate.api}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** What the 400/413/415 requests of this file add to tollgate_receiver_requests_total (metrics, http). */
const expectedCodes = new Map<string, number>();
function expectCode(status: number): void {
  expectedCodes.set(String(status), (expectedCodes.get(String(status)) ?? 0) + 1);
}

before(async () => {
  downstream = await startDownstream();
  tollgate = await startTollgate(
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      '        endpoint: 127.0.0.1:0',
      '        max_request_body_size: 1MiB',
      '      grpc:',
      '        enabled: false',
      'limits:',
      '  max_concurrent_requests: 4',
      'exporters:',
      '  otlphttp:',
      `    endpoint: ${downstream.url}`,
      '    compression: none',
      '    timeout: 2s',
      '    retry_on_failure:',
      '      enabled: false',
    ].join('\n'),
  );
});

after(async () => {
  keepAlive.destroy();
  await tollgate?.stop();
  if (tollgate) rmSync(tollgate.dataDir, { recursive: true, force: true });
  await downstream?.close();
});

describe('OTLP/HTTP receiver: malformed protobuf → 400 with a protobuf google.rpc.Status', () => {
  const valid = metricsRequest(20);
  const cases: Array<[string, Uint8Array]> = [
    ['truncated', valid.subarray(0, valid.length - 7)],
    ['bad varint (11 continuation bytes)', Uint8Array.from([0x0a, ...new Array<number>(11).fill(0xff), 0x01])],
    ['group wire type', Uint8Array.from([0x0b, 0x0c])],
    ['length past the end', Uint8Array.from([0x0a, 0x7f, 0x0a, 0x00])],
    ['AnyValue nested 65 deep', nestedAnyValueRequest(65)],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      const reply = await nothingReachesDownstream(() => send('/v1/metrics', body, { headers: { 'content-type': PROTOBUF } }));
      assert.equal(reply.status, 400);
      expectCode(400);
      assert.equal(reply.headers['retry-after'], undefined, 'bad data is not retryable');
      assertStatusBody(reply, 'protobuf', GrpcStatus.INVALID_ARGUMENT);
    });
  }

  test('the same malformed bytes sent gzip-compressed → 400 too', async () => {
    const reply = await nothingReachesDownstream(() =>
      send('/v1/metrics', gzipSync(valid.subarray(0, valid.length - 7)), { headers: { 'content-type': PROTOBUF, 'content-encoding': 'gzip' } }),
    );
    assert.equal(reply.status, 400);
    expectCode(400);
    assertStatusBody(reply, 'protobuf', GrpcStatus.INVALID_ARGUMENT);
  });

  test('AnyValue nested exactly 64 deep is accepted and reaches the downstream', async () => {
    const before = downstream.requests.length;
    const body = nestedAnyValueRequest(64);
    const reply = await send('/v1/metrics', body, { headers: { 'content-type': PROTOBUF } });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(downstream.requests.length, before + 1);
    assert.deepEqual(Buffer.from(downstream.requests[before].body), Buffer.from(body));
  });
});

describe('OTLP/HTTP receiver: malformed JSON → 400 with a JSON google.rpc.Status', () => {
  test('syntax error', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', '{"resourceMetrics": [', { headers: { 'content-type': JSON_TYPE } }));
    assert.equal(reply.status, 400);
    expectCode(400);
    assertStatusBody(reply, 'json', GrpcStatus.INVALID_ARGUMENT);
  });

  test('traceId "xyz": the message names the JSON path', async () => {
    const obj = tracesRequestObject(3) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpObject[] }> }> };
    obj.resourceSpans[0].scopeSpans[0].spans[1].traceId = 'xyz';
    const reply = await nothingReachesDownstream(() => send('/v1/traces', JSON.stringify(obj), { headers: { 'content-type': JSON_TYPE } }));
    assert.equal(reply.status, 400);
    const message = assertStatusBody(reply, 'json', GrpcStatus.INVALID_ARGUMENT);
    assert.match(message, /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[1\]\.traceId/);
  });

  test('a string where a number belongs (asDouble: "lots")', async () => {
    const obj = metricsRequestObject(5) as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ sum: { dataPoints: OtlpObject[] } }> }> }> };
    const point = obj.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[2];
    delete point.asInt;
    point.asDouble = 'lots';
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', JSON.stringify(obj), { headers: { 'content-type': JSON_TYPE } }));
    assert.equal(reply.status, 400);
    expectCode(400);
    const message = assertStatusBody(reply, 'json', GrpcStatus.INVALID_ARGUMENT);
    assert.match(message, /resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]\.sum\.dataPoints\[2\]\.asDouble/);
  });

  test('an array where the request object belongs', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/logs', '[]', { headers: { 'content-type': 'application/json; charset=utf-8' } }));
    assert.equal(reply.status, 400);
    assertStatusBody(reply, 'json', GrpcStatus.INVALID_ARGUMENT);
  });
});

describe('OTLP/HTTP receiver: size limits apply after decompression → 413', () => {
  test('raw body over the limit, with Content-Length', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', metricsRequest(3200), { headers: { 'content-type': PROTOBUF } }));
    assert.equal(reply.status, 413);
    expectCode(413);
    assertStatusBody(reply, 'protobuf', GrpcStatus.RESOURCE_EXHAUSTED);
    assert.equal(reply.headers['retry-after'], undefined, '413 is not retryable');
  });

  test('raw body over the limit, chunked (no Content-Length), JSON', async () => {
    const json = JSON.stringify(metricsRequestObject(2000));
    assert.ok(json.length > LIMIT);
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', json, { headers: { 'content-type': JSON_TYPE }, chunked: 64 * 1024 }));
    assert.equal(reply.status, 413);
    expectCode(413);
    assertStatusBody(reply, 'json', GrpcStatus.RESOURCE_EXHAUSTED);
  });

  test('gzip bomb: 20 MiB of zeros in ~20 KiB of gzip', async () => {
    const bomb = gzipSync(Buffer.alloc(20 * LIMIT), { level: 9 });
    assert.ok(bomb.length < LIMIT / 10, `bomb is ${bomb.length} bytes on the wire`);
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', bomb, { headers: { 'content-type': PROTOBUF, 'content-encoding': 'gzip' } }));
    assert.equal(reply.status, 413);
    expectCode(413);
    assertStatusBody(reply, 'protobuf', GrpcStatus.RESOURCE_EXHAUSTED);
  });

  test('a real request that is small gzipped and over the limit inflated', async () => {
    const raw = metricsRequest(5000);
    const wire = gzipSync(raw);
    assert.ok(raw.length > LIMIT && wire.length < LIMIT / 4);
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', wire, { headers: { 'content-type': PROTOBUF, 'content-encoding': 'gzip' } }));
    assert.equal(reply.status, 413);
    expectCode(413);
  });

  test('deflate bomb → 413', async () => {
    const bomb = deflateSync(Buffer.alloc(8 * LIMIT));
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', bomb, { headers: { 'content-type': PROTOBUF, 'content-encoding': 'deflate' } }));
    assert.equal(reply.status, 413);
    expectCode(413);
  });

  test('a body exactly at the limit is accepted', async () => {
    // Pad a valid request with an unknown field (skipped by parsers) up to exactly LIMIT bytes:
    // tag of field 1000 is 2 bytes, a length near 1 MiB 3 bytes.
    const base = metricsRequest(10);
    const exact = Buffer.concat([base, ld(1000, new Uint8Array(LIMIT - base.length - 2 - 3))]);
    assert.equal(exact.length, LIMIT);
    const before = downstream.requests.length;
    const reply = await send('/v1/metrics', exact, { headers: { 'content-type': PROTOBUF } });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(downstream.requests.length, before + 1);
  });
});

describe('OTLP/HTTP receiver: unsupported inputs', () => {
  test('invalid gzip bytes → 400', async () => {
    const reply = await nothingReachesDownstream(() =>
      send('/v1/metrics', Buffer.from('this is not gzip at all'), { headers: { 'content-type': PROTOBUF, 'content-encoding': 'gzip' } }),
    );
    assert.equal(reply.status, 400);
    expectCode(400);
    assertStatusBody(reply, 'protobuf', GrpcStatus.INVALID_ARGUMENT);
  });

  test('truncated gzip stream → 400 (JSON request, JSON answer)', async () => {
    const gz = gzipSync(JSON.stringify(metricsRequestObject(5)));
    const reply = await nothingReachesDownstream(() =>
      send('/v1/metrics', gz.subarray(0, gz.length - 10), { headers: { 'content-type': JSON_TYPE, 'content-encoding': 'gzip' } }),
    );
    assert.equal(reply.status, 400);
    expectCode(400);
    assertStatusBody(reply, 'json', GrpcStatus.INVALID_ARGUMENT);
  });

  test('unknown content type → 415', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', metricsRequest(5), { headers: { 'content-type': 'text/plain' } }));
    assert.equal(reply.status, 415);
    expectCode(415);
    assertStatusBody(reply, 'protobuf', GrpcStatus.INVALID_ARGUMENT);
  });

  test('no content type → 415', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/metrics', metricsRequest(5)));
    assert.equal(reply.status, 415);
    expectCode(415);
  });

  test('unknown content-encoding (br) → 415, answered in the request format', async () => {
    const reply = await nothingReachesDownstream(() =>
      send('/v1/metrics', JSON.stringify(metricsRequestObject(5)), { headers: { 'content-type': JSON_TYPE, 'content-encoding': 'br' } }),
    );
    assert.equal(reply.status, 415);
    expectCode(415);
    assertStatusBody(reply, 'json', GrpcStatus.INVALID_ARGUMENT);
  });

  test('wrong path → 404', async () => {
    for (const path of ['/v1/metric', '/v2/metrics', '/', '/v1/metrics/extra']) {
      const reply = await nothingReachesDownstream(() => send(path, metricsRequest(5), { headers: { 'content-type': PROTOBUF } }));
      assert.equal(reply.status, 404, path);
      assertStatusBody(reply, 'protobuf', GrpcStatus.UNIMPLEMENTED);
    }
  });

  test('GET → 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT']) {
      const reply = await nothingReachesDownstream(() => send('/v1/traces', '', { method, headers: { 'content-type': JSON_TYPE } }));
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers.allow, 'POST');
      assertStatusBody(reply, 'json', GrpcStatus.UNIMPLEMENTED);
    }
  });

  test('a refused request leaves its keep-alive connection usable', async () => {
    const tooLarge = await send('/v1/metrics', metricsRequest(3200), { headers: { 'content-type': PROTOBUF }, agent: keepAlive });
    assert.equal(tooLarge.status, 413);
    expectCode(413);
    const badType = await send('/v1/metrics', metricsRequest(5), { headers: { 'content-type': 'text/csv' }, agent: keepAlive });
    assert.equal(badType.status, 415);
    expectCode(415);
    const ok = await send('/v1/metrics', metricsRequest(5), { headers: { 'content-type': PROTOBUF }, agent: keepAlive });
    assert.equal(ok.status, 200);
  });
});

describe('OTLP/HTTP receiver: valid requests', () => {
  test('empty protobuf body → 200 with an empty ExportResponse, nothing exported', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/traces', new Uint8Array(0), { headers: { 'content-type': PROTOBUF } }));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], PROTOBUF);
    assert.equal(reply.body.length, 0);
    assert.equal(decodeExportResponse('traces', reply.body, 'protobuf'), undefined);
  });

  test('empty JSON request {} → 200 with {}', async () => {
    const reply = await nothingReachesDownstream(() => send('/v1/logs', '{}', { headers: { 'content-type': JSON_TYPE } }));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], JSON_TYPE);
    assert.deepEqual(JSON.parse(reply.body.toString()), {});
  });

  const variants: Array<{ name: string; format: BodyFormat; encoding?: 'gzip' | 'deflate' }> = [
    { name: 'protobuf', format: 'protobuf' },
    { name: 'protobuf + gzip', format: 'protobuf', encoding: 'gzip' },
    { name: 'protobuf + deflate', format: 'protobuf', encoding: 'deflate' },
    { name: 'JSON', format: 'json' },
    { name: 'JSON + gzip', format: 'json', encoding: 'gzip' },
    { name: 'JSON + deflate', format: 'json', encoding: 'deflate' },
  ];
  for (const { name, format, encoding } of variants) {
    test(`${name}: 200, response in the request's format, data reaches the downstream intact`, async () => {
      for (const signal of ['metrics', 'traces'] as const) {
        const object = signal === 'metrics' ? metricsRequestObject(30, 7) : tracesRequestObject(30, 7);
        const protobuf = signal === 'metrics' ? metricsRequest(30, 7) : tracesRequest(30, 7);
        const plain = format === 'json' ? Buffer.from(JSON.stringify(object)) : Buffer.from(protobuf);
        const body = encoding === 'gzip' ? gzipSync(plain) : encoding === 'deflate' ? deflateSync(plain) : plain;
        const headers: Record<string, string> = { 'content-type': format === 'json' ? JSON_TYPE : PROTOBUF };
        if (encoding) headers['content-encoding'] = encoding;
        const before = downstream.requests.length;
        const reply = await send(`/v1/${signal}`, body, { headers });
        assert.equal(reply.status, 200, reply.body.toString());
        assert.equal(reply.headers['content-type'], format === 'json' ? JSON_TYPE : PROTOBUF);
        assert.equal(decodeExportResponse(signal, reply.body, format), undefined, 'full success: no partial_success');
        assert.equal(downstream.requests.length, before + 1, 'exactly one export');
        const got = downstream.requests[before];
        assert.equal(got.signal, signal);
        assert.deepEqual(decodeRequest(signal, got.body), decodeRequest(signal, encodeRequest(signal, object)));
      }
    });
  }
});

describe('OTLP/HTTP receiver: self-metrics and health after the bad requests', () => {
  test('/metrics counts the refused requests by status, and a valid request still succeeds', async () => {
    const text = await scrape();
    for (const [code, count] of expectedCodes) {
      assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { signal: 'metrics', transport: 'http', code }), count, `code ${code}`);
    }
    assert.ok((expectedCodes.get('400') ?? 0) >= 5 && (expectedCodes.get('413') ?? 0) >= 5 && (expectedCodes.get('415') ?? 0) >= 3);
    assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { signal: 'traces', transport: 'http', code: '400' }), 1);
    // Wrong paths (4 in the 404 test) count under signal "none"; wrong methods under their path's signal.
    assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { signal: 'none', transport: 'http', code: '404' }), 4);
    assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { signal: 'traces', transport: 'http', code: '405' }), 2);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'refused' }), 0, 'nothing was refused for backpressure');
    const health = await fetch(`http://${tollgate.api}/healthz`);
    assert.equal(health.status, 200);
    const before = downstream.requests.length;
    const reply = await send('/v1/metrics', metricsRequest(10), { headers: { 'content-type': PROTOBUF } });
    assert.equal(reply.status, 200);
    assert.equal(downstream.requests.length, before + 1);
    assert.equal(tollgate.child.exitCode, null, 'the process is still running');
    assert.doesNotMatch(tollgate.stderr(), /"level":"error"/, 'no internal errors were logged');
  });
});

describe('OTLP/HTTP receiver: clients that disconnect mid-body (runs last: it logs errors today)', () => {
  /** Starts a POST announcing 100 000 bytes, sends 1 000, then drops the connection. */
  async function abortMidBody(): Promise<void> {
    const [host, port] = splitHostPort(tollgate.http);
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write('POST /v1/metrics HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n');
    socket.write(Buffer.alloc(1000));
    await new Promise((resolve) => setTimeout(resolve, 30));
    socket.destroy();
  }

  let before500 = 0;
  test('aborted uploads release their concurrency slot (limit 4, 6 aborts) and export nothing', async () => {
    before500 = sampleIn(await scrape(), 'tollgate_receiver_requests_total', { signal: 'metrics', transport: 'http', code: '500' });
    await nothingReachesDownstream(async () => {
      for (let i = 0; i < 6; i++) await abortMidBody();
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    const reply = await send('/v1/metrics', metricsRequest(5), { headers: { 'content-type': PROTOBUF } });
    assert.equal(reply.status, 200, 'not refused as overloaded: no slot leaked');
  });

  test(
    'an aborted upload is not an internal error (no 500 in the self-metrics, no error log)',
    async () => {
      const after500 = sampleIn(await scrape(), 'tollgate_receiver_requests_total', { signal: 'metrics', transport: 'http', code: '500' });
      assert.equal(after500 - before500, 0, 'client disconnects counted as 500');
      assert.doesNotMatch(tollgate.stderr(), /"level":"error".*"message":"aborted"/);
    },
  );
});
