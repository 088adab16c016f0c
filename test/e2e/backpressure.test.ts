// Backpressure end to end: a real `tollgate serve` child process between real OTLP clients
// (HTTP and gRPC) and a real downstream on 127.0.0.1. The product promise under test: every
// item acknowledged to a client arrived downstream, in order per signal; when Tollgate cannot
// deliver or hold more, it refuses (503 + Retry-After / UNAVAILABLE) instead of dropping.
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Client, credentials, Metadata, status as GrpcCode } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { metricsRequest, metricsRequestObject, tracesRequestObject } from '../../bench/workloads.js';
import { decodeRequest, encodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';
import { decodeStatus, GrpcStatus } from '../../collector/otlp/status.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream, Responder } from '../support/downstream.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';
import { sampleIn } from '../support/prometheus.js';

const PROTOBUF = 'application/x-protobuf';
const GRPC_PATH: Readonly<Record<Signal, string>> = {
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};
const SEQ_KEY = 'test.seq';

// Safety net: whatever a test leaves behind (it also cleans up through t.after).
const leftovers = new Set<() => Promise<unknown>>();
after(async () => {
  await Promise.all([...leftovers].map((cleanup) => cleanup().catch(() => undefined)));
});

function track(t: TestContext, cleanup: () => Promise<unknown>): void {
  leftovers.add(cleanup);
  t.after(async () => {
    leftovers.delete(cleanup);
    await cleanup();
  });
}

async function tollgateFor(t: TestContext, yaml: string): Promise<TollgateProcess> {
  const process = await startTollgate(yaml);
  track(t, async () => {
    await process.stop('SIGKILL');
    rmSync(process.dataDir, { recursive: true, force: true });
  });
  return process;
}

async function downstreamFor(t: TestContext, responder?: Responder): Promise<Downstream> {
  const downstream = await startDownstream(responder);
  track(t, () => downstream.close());
  return downstream;
}

function exporterYaml(endpoint: string, extra: string[] = []): string {
  return ['exporters:', '  otlphttp:', `    endpoint: ${endpoint}`, ...extra].join('\n');
}

// --- requests carrying a sequence number -------------------------------------------------------

/** A request whose resource carries `test.seq`, so the downstream side can tell them apart. */
function numbered(signal: 'metrics' | 'traces', seq: number, items: number): Uint8Array {
  const object = signal === 'metrics' ? metricsRequestObject(items, seq + 1) : tracesRequestObject(items, seq + 1);
  const key = signal === 'metrics' ? 'resourceMetrics' : 'resourceSpans';
  const resource = ((object[key] as OtlpObject[])[0].resource as { attributes: OtlpObject[] });
  resource.attributes.push({ key: SEQ_KEY, value: { stringValue: String(seq) } });
  return encodeRequest(signal, object);
}

/** The `test.seq` values of a decoded request, from every resource. */
function seqsOf(signal: Signal, request: OtlpObject): number[] {
  const key = signal === 'metrics' ? 'resourceMetrics' : signal === 'traces' ? 'resourceSpans' : 'resourceLogs';
  const out: number[] = [];
  for (const resource of (request[key] as OtlpObject[] | undefined) ?? []) {
    const attributes = ((resource.resource as OtlpObject | undefined)?.attributes as OtlpObject[] | undefined) ?? [];
    for (const attribute of attributes) {
      if (attribute.key === SEQ_KEY) out.push(Number((attribute.value as OtlpObject).stringValue));
    }
  }
  return out;
}

// --- clients ---------------------------------------------------------------------------------

interface HttpReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly ms: number;
}

function postHttp(address: string, signal: Signal, body: Uint8Array, timeoutMs = 20_000): Promise<HttpReply> {
  const at = address.lastIndexOf(':');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: address.slice(0, at),
        port: Number(address.slice(at + 1)),
        path: `/v1/${signal}`,
        method: 'POST',
        agent: false,
        headers: { 'content-type': PROTOBUF, 'content-length': body.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`client timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function grpcClient(t: TestContext, address: string): Client {
  const client = new Client(address, credentials.createInsecure());
  track(t, () => Promise.resolve(client.close()));
  return client;
}

function callGrpc(client: Client, signal: Signal, body: Uint8Array, timeoutMs = 20_000): Promise<{ code: GrpcCode; details: string }> {
  const identity = (bytes: Buffer): Buffer => bytes;
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      GRPC_PATH[signal],
      identity,
      identity,
      Buffer.from(body),
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error: ServiceError | null) => resolve(error ? { code: error.code, details: error.details } : { code: GrpcCode.OK, details: '' }),
    );
  });
}

function assertRefused(reply: HttpReply): void {
  assert.equal(reply.status, 503, reply.body.toString());
  const retryAfter = reply.headers['retry-after'];
  assert.ok(retryAfter !== undefined && /^\d+$/.test(retryAfter) && Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
  assert.equal(decodeStatus(reply.body, 'protobuf').code, GrpcStatus.UNAVAILABLE);
}

// --- self-metrics ------------------------------------------------------------------------------

async function scrape(tollgate: TollgateProcess): Promise<string> {
  return (await fetch(`http://${tollgate.api}/metrics`)).text();
}

// --- a downstream that takes its time ------------------------------------------------------------

interface SlowRequest {
  readonly signal: Signal;
  readonly body: Uint8Array;
  readonly arrivedAt: number;
  answered: boolean;
}

interface SlowDownstream {
  readonly url: string;
  readonly requests: SlowRequest[];
  /** Resolves once `count` requests have arrived. */
  arrivals(count: number): Promise<void>;
  close(): Promise<void>;
}

/** An OTLP/HTTP receiver on 127.0.0.1 that answers 200 `delayMs` after each request arrived. */
async function startSlowDownstream(t: TestContext, delayMs: number): Promise<SlowDownstream> {
  const requests: SlowRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const signal = ({ '/v1/metrics': 'metrics', '/v1/traces': 'traces', '/v1/logs': 'logs' } as Record<string, Signal>)[req.url ?? ''];
      const raw = Buffer.concat(chunks);
      const record: SlowRequest = { signal, body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw, arrivedAt: Date.now(), answered: false };
      requests.push(record);
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        record.answered = true;
        res.writeHead(200, { 'content-type': PROTOBUF }).end();
      }, delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  track(t, close);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    arrivals: (count) => (requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    close,
  };
}

/** Resident set size of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Samples a process's RSS every 20 ms until stopped; returns the peak. */
function watchRss(pid: number): () => number {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // the process is gone
    }
  }, 20);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// =================================================================================================

describe('retries and throttling: every acknowledged request arrives, in order per signal', () => {
  const retryYaml = (endpoint: string): string =>
    exporterYaml(endpoint, [
      '    compression: gzip',
      '    timeout: 2s',
      '    retry_on_failure:',
      '      enabled: true',
      '      initial_interval: 100ms',
      '      max_interval: 500ms',
      '      max_elapsed_time: 10s',
      // 12 requests are held at once below; leave room for all of them.
      '    sending_queue:',
      '      queue_size: 16',
    ]);

  /** 503, 503, 429 with Retry-After: 2, then 200, counting from the current request. */
  function throttling(downstream: Downstream): Responder {
    const offset = downstream.requests.length;
    return ({ index }) => {
      const n = index - offset;
      if (n < 2) return { status: 503 };
      if (n === 2) return { status: 429, headers: { 'Retry-After': '2' } };
      return { status: 200 };
    };
  }

  /** The gap between the 429 and the next attempt on the same signal. */
  function retryAfterGap(downstream: Downstream, from: number): number {
    const window = downstream.requests.slice(from);
    const throttled = window.findIndex((r) => r.status === 429);
    assert.ok(throttled >= 0, 'the downstream answered 429 once');
    const next = window.slice(throttled + 1).find((r) => r.signal === window[throttled].signal);
    assert.ok(next, 'the throttled request was retried');
    return next.at - window[throttled].at;
  }

  test('sequential requests over HTTP', { timeout: 15_000 }, async (t) => {
    const downstream = await downstreamFor(t);
    downstream.setResponder(throttling(downstream));
    const tollgate = await tollgateFor(t, retryYaml(downstream.url));
    for (let seq = 0; seq < 6; seq++) {
      const reply = await postHttp(tollgate.http, 'metrics', numbered('metrics', seq, 20));
      assert.equal(reply.status, 200, `request ${seq}: ${reply.body.toString()}`);
    }
    assert.deepEqual(downstream.requests.map((r) => r.status), [503, 503, 429, 200, 200, 200, 200, 200, 200]);
    assert.deepEqual(downstream.accepted('metrics').flatMap((r) => seqsOf('metrics', r)), [0, 1, 2, 3, 4, 5]);
    // Timers may fire up to a millisecond early against the wall clock.
    assert.ok(retryAfterGap(downstream, 0) >= 1995, `Retry-After: 2 honoured (gap ${retryAfterGap(downstream, 0)} ms)`);
  });

  test('concurrent requests per stream: metrics over HTTP and traces over gRPC at once', { timeout: 15_000 }, async (t) => {
    const downstream = await downstreamFor(t);
    downstream.setResponder(throttling(downstream));
    const tollgate = await tollgateFor(t, retryYaml(downstream.url));
    const client = grpcClient(t, tollgate.grpc);
    const pending: Array<Promise<{ signal: Signal; seq: number; ok: boolean; detail: string }>> = [];
    for (let seq = 0; seq < 6; seq++) {
      pending.push(postHttp(tollgate.http, 'metrics', numbered('metrics', seq, 20)).then((r) => ({ signal: 'metrics', seq, ok: r.status === 200, detail: `${r.status}` })));
      // Staggered so that Tollgate receives them in the order sent; all are in flight together.
      await sleep(25);
      pending.push(callGrpc(client, 'traces', numbered('traces', seq, 10)).then((r) => ({ signal: 'traces', seq, ok: r.code === GrpcCode.OK, detail: r.details })));
      await sleep(25);
    }
    const results = await Promise.all(pending);
    for (const result of results) assert.ok(result.ok, `${result.signal} #${result.seq}: ${result.detail}`);
    for (const signal of ['metrics', 'traces'] as const) {
      assert.deepEqual(downstream.accepted(signal).flatMap((r) => seqsOf(signal, r)), [0, 1, 2, 3, 4, 5], `${signal} arrived once each, in order`);
    }
    assert.equal(downstream.requests.filter((r) => r.status !== 200).length, 3);
    assert.ok(retryAfterGap(downstream, 0) >= 1995, `Retry-After: 2 honoured (gap ${retryAfterGap(downstream, 0)} ms)`);
  });
});

describe('a downstream that stays down: refuse, never acknowledge what was not delivered', () => {
  const downYaml = (endpoint: string, extra: string[] = []): string =>
    exporterYaml(endpoint, [
      '    compression: none',
      '    timeout: 1s',
      '    retry_on_failure:',
      '      enabled: true',
      '      initial_interval: 100ms',
      '      max_interval: 200ms',
      '      max_elapsed_time: 600ms',
      ...extra,
    ]);

  async function sendAndExpectRefusal(t: TestContext, tollgate: TollgateProcess): Promise<number> {
    const client = grpcClient(t, tollgate.grpc);
    const [first, second, grpc] = await Promise.all([
      postHttp(tollgate.http, 'metrics', metricsRequest(50, 1)),
      postHttp(tollgate.http, 'metrics', metricsRequest(40, 2)),
      callGrpc(client, 'traces', numbered('traces', 0, 30)),
    ]);
    assertRefused(first);
    assertRefused(second);
    assert.equal(grpc.code, GrpcCode.UNAVAILABLE, grpc.details);
    const text = await scrape(tollgate);
    const sent = 50 + 40 + 30;
    assert.equal(sampleIn(text, 'tollgate_exporter_items_total', { outcome: 'failed' }), sent, 'exporter: every item failed');
    assert.equal(sampleIn(text, 'tollgate_exporter_items_total', { outcome: 'sent' }), 0);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'refused' }), sent, 'receivers: every item refused');
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'accepted' }), 0, 'nothing acknowledged');
    assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { transport: 'http', code: '503' }), 2);
    assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { transport: 'grpc', code: 'UNAVAILABLE' }), 1);
    return sent;
  }

  test('downstream answers 503 for ever', { timeout: 15_000 }, async (t) => {
    const downstream = await downstreamFor(t, () => ({ status: 503 }));
    const tollgate = await tollgateFor(t, downYaml(downstream.url));
    await sendAndExpectRefusal(t, tollgate);
    assert.ok(downstream.requests.length >= 6, 'Tollgate retried before giving up');
    assert.equal(downstream.accepted('metrics').length + downstream.accepted('traces').length, 0);
  });

  test('downstream port closed', { timeout: 15_000 }, async (t) => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const tollgate = await tollgateFor(t, downYaml(`http://127.0.0.1:${port}`));
    await sendAndExpectRefusal(t, tollgate);
    const text = await scrape(tollgate);
    assert.ok(sampleIn(text, 'tollgate_exporter_attempts_total', { result: 'network_error' }) >= 3, 'connection attempts were retried');
  });

  test('a flapping downstream without retries: acknowledged ⊆ delivered', { timeout: 15_000 }, async (t) => {
    // Every third request of each signal fails; with retries off each failure goes straight back to the client.
    const perSignal = new Map<Signal, number>();
    const downstream = await downstreamFor(t, ({ signal }) => {
      const n = perSignal.get(signal) ?? 0;
      perSignal.set(signal, n + 1);
      return { status: n % 3 === 1 ? 503 : 200 };
    });
    // Room for all 24 requests in the exporter queue, so the only failures are the downstream's.
    const tollgate = await tollgateFor(t, downYaml(downstream.url, ['    sending_queue:', '      queue_size: 32']).replace('enabled: true', 'enabled: false'));
    const client = grpcClient(t, tollgate.grpc);
    const acked: Record<'metrics' | 'traces', number[]> = { metrics: [], traces: [] };
    let ackedItems = 0;
    await Promise.all(
      Array.from({ length: 12 }, async (_, seq) => {
        const metrics = await postHttp(tollgate.http, 'metrics', numbered('metrics', seq, 25));
        if (metrics.status === 200) {
          acked.metrics.push(seq);
          ackedItems += 25;
        } else {
          assertRefused(metrics);
        }
        const traces = await callGrpc(client, 'traces', numbered('traces', seq, 15));
        if (traces.code === GrpcCode.OK) {
          acked.traces.push(seq);
          ackedItems += 15;
        } else {
          assert.equal(traces.code, GrpcCode.UNAVAILABLE, traces.details);
        }
      }),
    );
    let deliveredItems = 0;
    for (const signal of ['metrics', 'traces'] as const) {
      const delivered = downstream.accepted(signal).flatMap((r) => seqsOf(signal, r));
      for (const seq of acked[signal]) assert.ok(delivered.includes(seq), `${signal} #${seq} was acknowledged but never delivered`);
      deliveredItems += delivered.length * (signal === 'metrics' ? 25 : 15);
    }
    assert.ok(ackedItems <= deliveredItems, `acknowledged ${ackedItems} ≤ delivered ${deliveredItems}`);
    assert.equal(acked.metrics.length, 8, 'metrics: 4 of 12 failed');
    assert.equal(acked.traces.length, 8, 'traces: 4 of 12 failed');
    const text = await scrape(tollgate);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'accepted' }), ackedItems);
    assert.equal(sampleIn(text, 'tollgate_exporter_items_total', { outcome: 'sent' }), deliveredItems);
  });
});

describe('saturation: refuse quickly, deliver what was accepted, stay bounded in memory', () => {
  const REQUESTS = 200;
  const base = metricsRequest(1000); // ~330 KB, 1000 points

  /** `base` plus a second, item-less ResourceMetrics carrying the sequence number. */
  function big(seq: number): Uint8Array {
    const marker = encodeRequest('metrics', { resourceMetrics: [{ resource: { attributes: [{ key: SEQ_KEY, value: { stringValue: String(seq) } }] } }] });
    return Buffer.concat([base, marker]);
  }

  async function burst(t: TestContext, limitsYaml: string[]): Promise<void> {
    const downstream = await startSlowDownstream(t, 1000);
    const tollgate = await tollgateFor(
      t,
      [
        exporterYaml(downstream.url, ['    compression: none', '    timeout: 5s', '    retry_on_failure:', '      enabled: false']),
        ...limitsYaml,
      ].join('\n'),
    );
    const pid = tollgate.child.pid;
    assert.ok(pid !== undefined);
    const idleRss = rssOf(pid);
    const peakRss = watchRss(pid);
    const bodies = Array.from({ length: REQUESTS }, (_, seq) => big(seq));
    assert.ok(bodies[0].length > 330_000);
    const replies = await Promise.all(bodies.map((body) => postHttp(tollgate.http, 'metrics', body)));
    const peak = peakRss();

    const accepted = replies.flatMap((reply, seq) => (reply.status === 200 ? [seq] : []));
    const refused = replies.filter((reply) => reply.status !== 200);
    for (const reply of refused) assertRefused(reply);
    assert.ok(accepted.length >= 1, 'at least one request got through');
    assert.ok(refused.length >= REQUESTS / 2, `most requests were refused (${refused.length})`);
    // Refusals come from a full queue, not from waiting on the 1 s downstream or a timeout.
    const refusedMs = refused.map((r) => r.ms).sort((a, b) => a - b);
    const median = refusedMs[Math.floor(refusedMs.length / 2)];
    assert.ok(median < 1000, `median refusal after ${Math.round(median)} ms`);
    assert.ok(refusedMs[refusedMs.length - 1] < 5000, `slowest refusal after ${Math.round(refusedMs[refusedMs.length - 1])} ms (exporter timeout 5 s)`);

    const delivered = downstream.requests.filter((r) => r.answered).flatMap((r) => seqsOf('metrics', decodeRequest('metrics', r.body)));
    assert.deepEqual([...delivered].sort((a, b) => a - b), accepted, 'exactly the acknowledged requests were delivered');
    assert.equal(downstream.requests.length, accepted.length, 'refused requests were not sent downstream');

    assert.ok(peak < 300 * 1024 * 1024, `peak RSS ${Math.round(peak / 2 ** 20)} MiB (idle ${Math.round(idleRss / 2 ** 20)} MiB)`);
    t.diagnostic(`accepted ${accepted.length}, refused ${refused.length}, median refusal ${Math.round(median)} ms, peak RSS ${Math.round(peak / 2 ** 20)} MiB`);

    const text = await scrape(tollgate);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'accepted' }), accepted.length * 1000);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'refused' }), refused.length * 1000);
    // Still healthy: a request after the burst goes through.
    const after = await postHttp(tollgate.http, 'metrics', numbered('metrics', 9999, 5));
    assert.equal(after.status, 200);
  }

  test('small exporter sending_queue (1 request, 1 MiB)', { timeout: 20_000 }, async (t) => {
    await burst(t, ['    sending_queue:', '      queue_size: 1', '      max_in_flight_bytes: 1MiB']);
  });

  test('small limits.memory_limit (1 MiB)', { timeout: 20_000 }, async (t) => {
    await burst(t, ['limits:', '  memory_limit: 1MiB']);
  });

  test(
    'requests refused at limits.memory_limit count their items as refused',
    { timeout: 10_000 },
    async (t) => {
      const downstream = await startSlowDownstream(t, 1000);
      const tollgate = await tollgateFor(
        t,
        [exporterYaml(downstream.url, ['    compression: none', '    retry_on_failure:', '      enabled: false']), 'limits:', '  memory_limit: 100KiB'].join('\n'),
      );
      // The first request is admitted whatever its size and holds the budget for 1 s.
      const first = postHttp(tollgate.http, 'metrics', metricsRequest(300, 1));
      await downstream.arrivals(1);
      const refused = await Promise.all([1, 2, 3].map((seq) => postHttp(tollgate.http, 'metrics', numbered('metrics', seq, 40))));
      for (const reply of refused) assertRefused(reply);
      assert.equal((await first).status, 200);
      const text = await scrape(tollgate);
      assert.equal(sampleIn(text, 'tollgate_receiver_requests_total', { transport: 'http', code: '503' }), 3);
      assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { outcome: 'refused' }), 3 * 40);
    },
  );
});

describe('SIGTERM drains in-flight requests', () => {
  const DRAIN_TIMEOUT_MS = 4000;

  async function drainScenario(t: TestContext, keepAliveClient: boolean): Promise<number> {
    const downstream = await startSlowDownstream(t, 1000);
    const tollgate = await tollgateFor(
      t,
      [exporterYaml(downstream.url, ['    compression: none', '    timeout: 5s']), 'shutdown:', `  drain_timeout: ${DRAIN_TIMEOUT_MS}ms`].join('\n'),
    );
    const client = grpcClient(t, tollgate.grpc);
    const body = numbered('metrics', 1, 10);
    // fetch keeps its connection alive after the answer, as SDK exporters do; postHttp does not.
    const httpInFlight = keepAliveClient
      ? fetch(`http://${tollgate.http}/v1/metrics`, { method: 'POST', headers: { 'content-type': PROTOBUF }, body }).then(async (res) => {
          await res.arrayBuffer();
          return res.status;
        })
      : postHttp(tollgate.http, 'metrics', body).then((reply) => reply.status);
    const grpcInFlight = callGrpc(client, 'traces', numbered('traces', 2, 10));
    await downstream.arrivals(2);

    const exited = new Promise<{ code: number | null; at: number }>((resolve) => tollgate.child.once('exit', (code) => resolve({ code, at: Date.now() })));
    const signalledAt = Date.now();
    tollgate.child.kill('SIGTERM');
    while (!tollgate.stderr().includes('"draining"')) await sleep(5);

    // A new connection now: refused, or answered 503 (never accepted and dropped).
    const late = await postHttp(tollgate.http, 'metrics', numbered('metrics', 3, 10), 3000).catch((error: NodeJS.ErrnoException) => error);
    if (late instanceof Error) assert.match(String(late.code), /ECONNREFUSED|ECONNRESET/, late.message);
    else assertRefused(late);
    const lateClient = new Client(tollgate.grpc, credentials.createInsecure());
    const lateGrpc = await callGrpc(lateClient, 'traces', numbered('traces', 4, 10), 3000);
    lateClient.close();
    assert.equal(lateGrpc.code, GrpcCode.UNAVAILABLE, lateGrpc.details);

    assert.equal(await httpInFlight, 200, 'the in-flight HTTP request completed');
    assert.equal((await grpcInFlight).code, GrpcCode.OK, 'the in-flight gRPC call completed');
    const delivered = downstream.requests.filter((r) => r.answered);
    assert.deepEqual(delivered.flatMap((r) => seqsOf(r.signal, decodeRequest(r.signal, r.body))).sort(), [1, 2]);
    assert.equal(downstream.requests.length, 2, 'nothing sent after SIGTERM reached the downstream');

    const exit = await exited;
    assert.equal(exit.code, 0, tollgate.stderr());
    const drainMs = exit.at - signalledAt;
    t.diagnostic(`exited ${drainMs} ms after SIGTERM (drain_timeout ${DRAIN_TIMEOUT_MS} ms)`);
    // Hard bound: the deadline force-closes whatever is left.
    assert.ok(drainMs < DRAIN_TIMEOUT_MS + 500, `exited ${drainMs} ms after SIGTERM`);
    return drainMs;
  }

  test('in-flight HTTP and gRPC requests complete, new connections are refused, exit 0 as soon as drained', { timeout: 15_000 }, async (t) => {
    const drainMs = await drainScenario(t, false);
    // The in-flight work needed ~1 s; nothing else should hold the process.
    assert.ok(drainMs < DRAIN_TIMEOUT_MS - 1500, `exited ${drainMs} ms after SIGTERM, drained work took ~1 s`);
  });

  test(
    'a keep-alive HTTP client does not hold the drain until drain_timeout',
    {
      timeout: 15_000,
    },
    async (t) => {
      const drainMs = await drainScenario(t, true);
      assert.ok(drainMs < DRAIN_TIMEOUT_MS - 1500, `exited ${drainMs} ms after SIGTERM, drained work took ~1 s`);
    },
  );
});
