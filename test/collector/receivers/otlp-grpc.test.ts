// End to end against a real `tollgate serve` child process and a real OTLP/HTTP downstream on
// 127.0.0.1, with @grpc/grpc-js as a raw-bytes client (and node:http2 for hand-made frames):
// every bad call gets its documented gRPC status and nothing of it reaches the downstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { Client, credentials, Metadata, status as GrpcCode } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { metricsRequest, tracesRequest } from '../../../bench/workloads.js';
import { decodeRequest } from '../../../collector/otlp/object-codec.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import { startDownstream } from '../../support/downstream.js';
import type { Downstream } from '../../support/downstream.js';
import { startTollgate } from '../../support/tollgate-process.js';
import type { TollgateProcess } from '../../support/tollgate-process.js';
import { sampleIn } from '../../support/prometheus.js';

const LIMIT = 1024 * 1024; // max_recv_msg_size below
const PATH: Readonly<Record<Signal, string>> = {
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

let downstream: Downstream;
let tollgate: TollgateProcess;
let plain: Client;
let gzipClient: Client;

interface CallResult {
  readonly code: GrpcCode;
  readonly details: string;
  readonly response?: Buffer;
}

const identity = (bytes: Buffer): Buffer => bytes;

function call(client: Client, path: string, body: Uint8Array): Promise<CallResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      path,
      identity,
      identity,
      Buffer.from(body.buffer, body.byteOffset, body.length),
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (error: ServiceError | null, response?: Buffer) => {
        if (error) resolve({ code: error.code, details: error.details });
        else resolve({ code: GrpcCode.OK, details: '', response });
      },
    );
  });
}

/**
 * One unary call over plain HTTP/2 with a hand-made gRPC frame, so the test controls exactly
 * what is on the wire (compressed flag, grpc-encoding). Resolves with grpc-status and the
 * number of bytes sent.
 */
function rawCall(path: string, message: Uint8Array, compress: boolean): Promise<{ code: GrpcCode; message: string; wireBytes: number }> {
  const payload = compress ? gzipSync(message) : Buffer.from(message);
  const frame = Buffer.alloc(5 + payload.length);
  frame[0] = compress ? 1 : 0;
  frame.writeUInt32BE(payload.length, 1);
  payload.copy(frame, 5);
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${tollgate.grpc}`);
    session.on('error', reject);
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
    if (compress) headers['grpc-encoding'] = 'gzip';
    const stream = session.request(headers);
    let code: GrpcCode | undefined;
    let statusMessage = '';
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) {
        code = Number(h['grpc-status']);
        statusMessage = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    stream.on('response', take); // trailers-only answers
    stream.on('trailers', take);
    stream.resume();
    stream.on('close', () => {
      session.close();
      if (code === undefined) reject(new Error('no grpc-status'));
      else resolve({ code, message: statusMessage, wireBytes: frame.length });
    });
    stream.on('error', () => undefined);
    stream.end(frame);
  });
}

async function nothingReachesDownstream<T>(action: () => Promise<T>): Promise<T> {
  const before = downstream.requests.length;
  const result = await action();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(downstream.requests.length, before, 'the downstream received nothing');
  return result;
}

async function scrape(): Promise<string> {
  const res = await fetch(`http://${tollgate.api}/metrics`);
  return res.text();
}

let invalidArgumentCalls = 0;

before(async () => {
  downstream = await startDownstream();
  tollgate = await startTollgate(
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      '        enabled: false',
      '      grpc:',
      '        endpoint: 127.0.0.1:0',
      '        max_recv_msg_size: 1MiB',
      'exporters:',
      '  otlphttp:',
      `    endpoint: ${downstream.url}`,
      '    compression: none',
      '    timeout: 2s',
      '    retry_on_failure:',
      '      enabled: false',
    ].join('\n'),
  );
  plain = new Client(tollgate.grpc, credentials.createInsecure());
  gzipClient = new Client(tollgate.grpc, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
});

after(async () => {
  plain?.close();
  gzipClient?.close();
  await tollgate?.stop();
  if (tollgate) rmSync(tollgate.dataDir, { recursive: true, force: true });
  await downstream?.close();
});

describe('OTLP/gRPC receiver: malformed messages → INVALID_ARGUMENT', () => {
  const valid = metricsRequest(20);
  const cases: Array<[string, Uint8Array]> = [
    ['truncated', valid.subarray(0, valid.length - 7)],
    ['bad varint', Uint8Array.from([0x0a, ...new Array<number>(11).fill(0xff), 0x01])],
    ['group wire type', Uint8Array.from([0x0b, 0x0c])],
    ['length past the end', Uint8Array.from([0x0a, 0x7f, 0x0a, 0x00])],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      const result = await nothingReachesDownstream(() => call(plain, PATH.metrics, body));
      assert.equal(result.code, GrpcCode.INVALID_ARGUMENT, result.details);
      assert.ok(result.details.length > 0);
      invalidArgumentCalls++;
    });
  }

  test('malformed and gzip-compressed on the wire', async () => {
    const result = await nothingReachesDownstream(() => call(gzipClient, PATH.metrics, valid.subarray(0, valid.length - 7)));
    assert.equal(result.code, GrpcCode.INVALID_ARGUMENT, result.details);
    invalidArgumentCalls++;
  });

  test('a traces message sent to the metrics service is not silently accepted as metrics', async () => {
    // Field 1 of a traces request is ResourceSpans; read as ResourceMetrics it is malformed or
    // empty. Either way nothing may be exported as if it were valid metrics data.
    const result = await call(plain, PATH.metrics, tracesRequest(5));
    if (result.code === GrpcCode.OK) {
      const exported = downstream.requests.filter((r) => r.signal === 'metrics');
      for (const request of exported) assert.doesNotThrow(() => decodeRequest('metrics', request.body));
    } else {
      assert.equal(result.code, GrpcCode.INVALID_ARGUMENT, result.details);
      invalidArgumentCalls++;
    }
  });
});

describe('OTLP/gRPC receiver: size limit after decompression → RESOURCE_EXHAUSTED', () => {
  test('uncompressed message over max_recv_msg_size', async () => {
    const result = await nothingReachesDownstream(() => call(plain, PATH.metrics, metricsRequest(3200)));
    assert.equal(result.code, GrpcCode.RESOURCE_EXHAUSTED, result.details);
  });

  test('gzip-compressed message small on the wire, over the limit decompressed (grpc-js client)', async () => {
    const body = metricsRequest(5000);
    assert.ok(body.length > LIMIT && gzipSync(body).length < LIMIT / 4);
    const result = await nothingReachesDownstream(() => call(gzipClient, PATH.metrics, body));
    assert.equal(result.code, GrpcCode.RESOURCE_EXHAUSTED, result.details);
  });

  test('hand-made compressed frame: 16 MiB of zeros in a few KiB', async () => {
    const result = await nothingReachesDownstream(() => rawCall(PATH.traces, Buffer.alloc(16 * LIMIT), true));
    assert.ok(result.wireBytes < LIMIT / 10, `${result.wireBytes} bytes on the wire`);
    assert.equal(result.code, GrpcCode.RESOURCE_EXHAUSTED, result.message);
  });
});

describe('OTLP/gRPC receiver: valid calls', () => {
  test('empty request → OK with an empty response, nothing exported', async () => {
    for (const signal of ['metrics', 'traces', 'logs'] as const) {
      const result = await nothingReachesDownstream(() => call(plain, PATH[signal], new Uint8Array(0)));
      assert.equal(result.code, GrpcCode.OK, result.details);
      assert.equal(result.response?.length, 0, 'empty Export*ServiceResponse');
    }
  });

  test('gzip-compressed request (grpc-js client) succeeds and reaches the downstream', async () => {
    const body = metricsRequest(200, 3);
    const before = downstream.requests.length;
    const result = await call(gzipClient, PATH.metrics, body);
    assert.equal(result.code, GrpcCode.OK, result.details);
    assert.equal(result.response?.length, 0);
    assert.equal(downstream.requests.length, before + 1);
    assert.deepEqual(Buffer.from(downstream.requests[before].body), Buffer.from(body));
  });

  test('hand-made gzip frame just under the limit decompressed succeeds', async () => {
    const body = tracesRequest(300, 4);
    assert.ok(body.length < LIMIT);
    const before = downstream.requests.length;
    const result = await rawCall(PATH.traces, body, true);
    assert.equal(result.code, GrpcCode.OK, result.message);
    assert.equal(downstream.requests.length, before + 1);
    assert.equal(downstream.requests[before].signal, 'traces');
    assert.deepEqual(Buffer.from(downstream.requests[before].body), Buffer.from(body));
  });

  test('uncompressed request succeeds and reaches the downstream', async () => {
    const body = tracesRequest(50, 5);
    const before = downstream.requests.length;
    const result = await call(plain, PATH.traces, body);
    assert.equal(result.code, GrpcCode.OK, result.details);
    assert.equal(downstream.requests.length, before + 1);
    assert.deepEqual(Buffer.from(downstream.requests[before].body), Buffer.from(body));
  });
});

describe('OTLP/gRPC receiver: routing', () => {
  test('unknown method → UNIMPLEMENTED', async () => {
    for (const path of [
      '/opentelemetry.proto.collector.metrics.v1.MetricsService/Exports',
      '/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export',
      '/grpc.health.v1.Health/Check',
    ]) {
      const result = await nothingReachesDownstream(() => call(plain, path, metricsRequest(5)));
      assert.equal(result.code, GrpcCode.UNIMPLEMENTED, `${path}: ${result.details}`);
    }
  });
});

describe('OTLP/gRPC receiver: self-metrics and health after the bad calls', () => {
  test('/metrics counts INVALID_ARGUMENT, and a valid call still succeeds', async (t) => {
    const text = await scrape();
    // grpc-js refuses oversized messages before the handler runs, so they are not counted here.
    t.diagnostic(`RESOURCE_EXHAUSTED counted: ${sampleIn(text, 'tollgate_receiver_requests_total', { transport: 'grpc', code: 'RESOURCE_EXHAUSTED' })}`);
    assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { signal: 'metrics', transport: 'grpc', code: 'INVALID_ARGUMENT' }), invalidArgumentCalls);
    assert.ok(invalidArgumentCalls >= 5);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'refused' }), 0);
    const before = downstream.requests.length;
    const result = await call(plain, PATH.metrics, metricsRequest(10));
    assert.equal(result.code, GrpcCode.OK, result.details);
    assert.equal(downstream.requests.length, before + 1);
    assert.equal(tollgate.child.exitCode, null, 'the process is still running');
    assert.doesNotMatch(tollgate.stderr(), /"level":"error"/, 'no internal errors were logged');
  });
});
