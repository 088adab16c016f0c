// OTLP/HTTP exporter: POSTs each Export*ServiceRequest as application/x-protobuf to the
// downstream, with gzip, retries (retry.ts) and a bounded queue.
//
// Ordering: the product promise is "every acknowledged item arrives, in order per stream".
// Requests of one signal therefore go out one at a time from a FIFO, and a request waiting to
// be retried blocks the requests behind it (head-of-line). Signals do not block each other.
// Backpressure: the queue is bounded by request count and bytes; past the bounds export()
// answers `busy` at once and the receiver turns that into a 503 for its client.
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ExportOutcome, ExportRequest, Exporter } from '../pipeline/contracts.js';
import type { Signal } from '../otlp/signal.js';
import { SIGNAL_HTTP_PATH, SIGNALS } from '../otlp/signal.js';
import { readVarint, skipField, WIRE_LEN, WIRE_VARINT } from '../otlp/wire.js';
import { createHoldings } from './holdings.js';
import type { ExporterLogger, ExporterObserver } from './observer.js';
import { NOOP_EXPORTER_LOGGER, NOOP_EXPORTER_OBSERVER } from './observer.js';
import type { AttemptResult, RetryPolicy, RetryRuntime } from './retry.js';
import { classifyHttpStatus, honoursRetryAfter, parseRetryAfter, resolveRetryPolicy, runWithRetry, SYSTEM_RETRY_RUNTIME, undeliveredOutcome } from './retry.js';

const gzipAsync = promisify(gzip);

export type OtlpHttpCompression = 'gzip' | 'none';

export interface OtlpHttpExporterOptions {
  /** Exporter name for metrics and logs. Default `otlphttp`. */
  readonly name?: string;
  /** Base URL; signal paths (`/v1/metrics` …) are appended, like the Collector's `endpoint`. */
  readonly endpoint: string;
  /** Full per-signal URLs used as given, like the Collector's `metrics_endpoint` etc. */
  readonly signalEndpoints?: Readonly<Partial<Record<Signal, string>>>;
  /** Default `gzip`. */
  readonly compression?: OtlpHttpCompression;
  /** Extra request headers (e.g. authorization). Content headers are always ours. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-attempt timeout, covering the whole exchange. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Overrides of the Collector-compatible retry defaults (see retry.ts). */
  readonly retry?: Partial<RetryPolicy>;
  /** Bytes (uncompressed bodies) held queued or in flight before answering busy. Default 64 MiB. */
  readonly maxInFlightBytes?: number;
  /**
   * Requests held queued or in flight before answering busy. Default 1000. Because each signal
   * sends one request at a time, at most three are on the wire; the rest wait their turn.
   */
  readonly maxQueuedRequests?: number;
}

export interface OtlpHttpExporterDeps {
  readonly observer?: ExporterObserver;
  readonly logger?: ExporterLogger;
  /** Clock, sleep and random source for the retry loop. */
  readonly runtime?: RetryRuntime;
}

export const OTLP_HTTP_DEFAULTS = Object.freeze({
  name: 'otlphttp',
  compression: 'gzip',
  timeoutMs: 10_000,
  maxInFlightBytes: 64 * 1024 * 1024,
  maxQueuedRequests: 1000,
});

/** Bytes of a response body kept for partial-success and error messages; the rest is drained. */
const MAX_RESPONSE_BODY_BYTES = 64 * 1024;
const MAX_REASON_CHARS = 256;
const USER_AGENT = 'Tollgate-OTLP-HTTP-Exporter';

/** Resolves each signal's URL: an override as given, else the base endpoint plus the signal path. */
export function signalUrls(endpoint: string, overrides: Readonly<Partial<Record<Signal, string>>> = {}): Readonly<Record<Signal, URL>> {
  const base = endpoint.replace(/\/+$/, '');
  const urls = {} as Record<Signal, URL>;
  for (const signal of SIGNALS) {
    const raw = overrides[signal] ?? `${base}${SIGNAL_HTTP_PATH[signal]}`;
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`otlphttp: ${signal} endpoint must be http(s), got ${raw}`);
    }
    urls[signal] = url;
  }
  return Object.freeze(urls);
}

interface PendingExport {
  readonly request: ExportRequest;
  readonly resolve: (outcome: ExportOutcome) => void;
}

/** One signal's FIFO; `drain` is the running sender, if any. */
interface SignalLane {
  readonly queue: PendingExport[];
  drain: Promise<void> | undefined;
}

export function createOtlpHttpExporter(options: OtlpHttpExporterOptions, deps: OtlpHttpExporterDeps = {}): Exporter {
  const name = options.name ?? OTLP_HTTP_DEFAULTS.name;
  const urls = signalUrls(options.endpoint, options.signalEndpoints);
  const compression = options.compression ?? OTLP_HTTP_DEFAULTS.compression;
  const timeoutMs = options.timeoutMs ?? OTLP_HTTP_DEFAULTS.timeoutMs;
  const maxInFlightBytes = options.maxInFlightBytes ?? OTLP_HTTP_DEFAULTS.maxInFlightBytes;
  const maxQueuedRequests = options.maxQueuedRequests ?? OTLP_HTTP_DEFAULTS.maxQueuedRequests;
  const policy = resolveRetryPolicy(options.retry);
  const observer = deps.observer ?? NOOP_EXPORTER_OBSERVER;
  const logger = deps.logger ?? NOOP_EXPORTER_LOGGER;
  const runtime = deps.runtime ?? SYSTEM_RETRY_RUNTIME;

  // Keep-alive: a sidecar sends many requests to one backend; reconnecting each time would
  // cost more than the request itself.
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: SIGNALS.length }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: SIGNALS.length }),
  };
  const targets = Object.fromEntries(SIGNALS.map((s) => [s, postTarget(urls[s], agents[urls[s].protocol as 'http:' | 'https:'])])) as Record<Signal, http.RequestOptions>;
  const lanes = new Map<Signal, SignalLane>(SIGNALS.map((s) => [s, { queue: [], drain: undefined }]));
  const shutdownController = new AbortController();
  let stopping = false;
  const held = createHoldings({ maxQueuedRequests, maxInFlightBytes });

  function answer(request: ExportRequest, outcome: ExportOutcome): ExportOutcome {
    observer.onOutcome(request.signal, request.items, outcome);
    return outcome;
  }

  async function drainLane(lane: SignalLane): Promise<void> {
    while (lane.queue.length > 0) {
      const next = lane.queue[0];
      const outcome = await deliver(next.request);
      lane.queue.shift();
      held.release(next.request);
      next.resolve(answer(next.request, outcome));
    }
    lane.drain = undefined;
  }

  async function deliver(request: ExportRequest): Promise<ExportOutcome> {
    const { signal } = request;
    let body: Uint8Array;
    try {
      body = compression === 'gzip' ? await gzipAsync(request.body) : request.body;
    } catch (error) {
      return { kind: 'failed', retryable: false, reason: `gzip failed: ${errorMessage(error)}` };
    }
    const headers = requestHeaders(options.headers, compression, body.length);
    const url = urls[signal];
    const target = targets[signal];

    const result = await runWithRetry(
      async (): Promise<AttemptResult<HttpResponse>> => {
        const attempt = await postAllowingStaleSocket({ url, target, headers, body, timeoutMs, shutdown: shutdownController.signal });
        observer.onAttempt(signal, attempt.kind === 'response' ? attempt.status : attempt.kind);
        return judgeAttempt(attempt, runtime.now());
      },
      {
        policy,
        runtime,
        signal: shutdownController.signal,
        onRetry: (delayMs, reason) => observer.onRetry(signal, delayMs, reason),
      },
    );

    if (result.kind !== 'delivered') return undeliveredOutcome(result);
    const partial = parsePartialSuccess(result.value.body, result.value.contentType);
    if (partial !== undefined) {
      observer.onPartialSuccess(signal, partial.rejectedItems, partial.message);
      logger.warn('downstream accepted the request partially', {
        exporter: name,
        signal,
        rejected: partial.rejectedItems,
        message: partial.message,
      });
    }
    return { kind: 'accepted' };
  }

  return {
    name,

    start(): Promise<void> {
      return Promise.resolve();
    },

    export(request: ExportRequest): Promise<ExportOutcome> {
      if (stopping) {
        return Promise.resolve(answer(request, { kind: 'failed', retryable: true, reason: 'exporter is shutting down' }));
      }
      const refusal = held.refusal(request);
      if (refusal !== undefined) return Promise.resolve(answer(request, { kind: 'busy', reason: refusal }));
      const lane = lanes.get(request.signal);
      if (lane === undefined) {
        return Promise.resolve(answer(request, { kind: 'failed', retryable: false, reason: `unknown signal ${String(request.signal)}` }));
      }
      held.take(request);
      return new Promise<ExportOutcome>((resolve) => {
        lane.queue.push({ request, resolve });
        lane.drain ??= drainLane(lane);
      });
    },

    queuedItems(): number {
      return held.items;
    },

    async shutdown(deadline: number): Promise<void> {
      stopping = true;
      const allDrained = (): Promise<unknown> => Promise.all([...lanes.values()].map((lane) => lane.drain ?? Promise.resolve()));
      const deadlineTimer = new AbortController();
      const drainedInTime = await Promise.race([
        allDrained().then(() => true),
        runtime.sleep(Math.max(0, deadline - runtime.now()), deadlineTimer.signal).then(() => false),
      ]);
      deadlineTimer.abort();
      if (!drainedInTime) {
        // Wakes sleeping retries, cancels requests on the wire, and makes queued requests
        // fail without an attempt; each export() then resolves failed{retryable:true}.
        shutdownController.abort(new Error('exporter shut down before delivery'));
        await allDrained();
      }
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

function requestHeaders(
  custom: Readonly<Record<string, string>> | undefined,
  compression: OtlpHttpCompression,
  contentLength: number,
): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { 'user-agent': USER_AGENT };
  for (const [key, value] of Object.entries(custom ?? {})) headers[key.toLowerCase()] = value;
  headers['content-type'] = 'application/x-protobuf';
  headers['content-length'] = contentLength;
  if (compression === 'gzip') headers['content-encoding'] = 'gzip';
  else delete headers['content-encoding'];
  return headers;
}

interface HttpResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

type HttpAttempt =
  | HttpResponse
  /** `staleSocket`: a reused keep-alive connection the server had already closed. */
  | { readonly kind: 'network_error'; readonly message: string; readonly staleSocket: boolean }
  | { readonly kind: 'timeout'; readonly message: string };

interface PostParams {
  readonly url: URL;
  /** The request options for `url`, worked out once per signal (not per request, as a URL argument would be). */
  readonly target: http.RequestOptions;
  readonly headers: http.OutgoingHttpHeaders;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
  readonly shutdown: AbortSignal;
}

/**
 * A keep-alive connection can be closed by the server just as we reuse it; the request never
 * reached the application, so it is re-sent at once on a fresh connection instead of paying a
 * full backoff interval for a race that says nothing about the downstream's health.
 */
async function postAllowingStaleSocket(params: PostParams): Promise<HttpAttempt> {
  const first = await postOnce(params);
  if (first.kind === 'network_error' && first.staleSocket && !params.shutdown.aborted) return postOnce(params);
  return first;
}

/**
 * One POST; never rejects. Once the status line arrived, the status decides, even if the body is
 * cut short. A timeout or a shutdown destroys the request, whose 'error' then settles it.
 */
function postOnce(params: PostParams): Promise<HttpAttempt> {
  const { url, target, headers, body, timeoutMs, shutdown } = params;
  return new Promise<HttpAttempt>((resolve) => {
    let timedOut = false;
    let settled = false;
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request({ ...target, headers }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept >= MAX_RESPONSE_BODY_BYTES) return; // keep reading so the socket can be reused
        chunks.push(chunk);
        kept += chunk.length;
      });
      const finish = (): void =>
        settle({
          kind: 'response',
          status: res.statusCode ?? 0,
          retryAfter: headerString(res.headers['retry-after']),
          contentType: headerString(res.headers['content-type']),
          body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BODY_BYTES),
        });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    const onShutdown = (): void => {
      req.destroy(shutdown.reason instanceof Error ? shutdown.reason : new Error('exporter shut down'));
    };
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error('timeout'));
    }, timeoutMs);
    const settle = (attempt: HttpAttempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      shutdown.removeEventListener('abort', onShutdown);
      resolve(attempt);
    };
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (timedOut) {
        settle({ kind: 'timeout', message: `no answer within ${timeoutMs} ms` });
        return;
      }
      const staleSocket = req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      settle({ kind: 'network_error', message: errorMessage(error), staleSocket });
    });
    if (shutdown.aborted) {
      onShutdown();
      return;
    }
    shutdown.addEventListener('abort', onShutdown, { once: true });
    req.end(body);
  });
}

/** http.request options for a POST to `url` through `agent`. */
function postTarget(url: URL, agent: http.Agent): http.RequestOptions {
  return {
    method: 'POST',
    agent,
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    auth: url.username === '' && url.password === '' ? undefined : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  };
}

/** Turns one exchange into what the retry loop needs: delivered, permanent or retryable (with Retry-After). */
function judgeAttempt(attempt: HttpAttempt, nowMs: number): AttemptResult<HttpResponse> {
  if (attempt.kind === 'timeout') return { kind: 'retryable', reason: `timeout: ${attempt.message}` };
  if (attempt.kind === 'network_error') return { kind: 'retryable', reason: `network error: ${attempt.message}` };
  const verdict = classifyHttpStatus(attempt.status);
  if (verdict === 'success') return { kind: 'delivered', value: attempt };
  const detail = describeErrorBody(attempt.body, attempt.contentType);
  const reason = `HTTP ${attempt.status}${detail === undefined ? '' : `: ${detail}`}`;
  if (verdict === 'permanent') return { kind: 'permanent', reason };
  const retryAfterMs = honoursRetryAfter(attempt.status) ? parseRetryAfter(attempt.retryAfter, nowMs) : undefined;
  return { kind: 'retryable', reason, retryAfterMs };
}

export interface PartialSuccess {
  readonly rejectedItems: number;
  readonly message: string;
}

/**
 * Reads `partial_success` from an Export*ServiceResponse (protobuf or OTLP/JSON). The three
 * signals share its shape: field 1 = rejected count (int64), field 2 = error_message.
 * Returns undefined for a full success or a body it cannot read: the data was accepted either way.
 */
export function parsePartialSuccess(body: Uint8Array, contentType: string | undefined): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  try {
    const found = isJson(contentType) ? partialSuccessFromJson(body) : partialSuccessFromProtobuf(body);
    if (found === undefined || (found.rejectedItems === 0 && found.message === '')) return undefined;
    return found;
  } catch {
    return undefined;
  }
}

function partialSuccessFromProtobuf(body: Uint8Array): PartialSuccess | undefined {
  const inner = findLengthDelimitedField(body, 0, body.length, 1);
  if (inner === undefined) return undefined;
  let rejectedItems = 0;
  let message = '';
  const cursor = { pos: inner.start };
  while (cursor.pos < inner.end) {
    const tag = readVarint(body, cursor, inner.end);
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === WIRE_VARINT) {
      rejectedItems = readVarint(body, cursor, inner.end);
    } else if (field === 2 && wireType === WIRE_LEN) {
      const len = readVarint(body, cursor, inner.end);
      message = Buffer.from(body.buffer, body.byteOffset + cursor.pos, Math.min(len, inner.end - cursor.pos)).toString('utf8');
      cursor.pos += len;
    } else {
      cursor.pos = skipField(body, wireType, cursor.pos, inner.end);
    }
  }
  return { rejectedItems, message };
}

function partialSuccessFromJson(body: Uint8Array): PartialSuccess | undefined {
  const parsed: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const response = parsed as Record<string, unknown>;
  const partial = response.partialSuccess ?? response.partial_success;
  if (typeof partial !== 'object' || partial === null) return undefined;
  const fields = partial as Record<string, unknown>;
  const rejectedKeys = ['rejectedDataPoints', 'rejectedSpans', 'rejectedLogRecords', 'rejected_data_points', 'rejected_spans', 'rejected_log_records'];
  const rejected = rejectedKeys.map((key) => fields[key]).find((value) => value !== undefined);
  const message = fields.errorMessage ?? fields.error_message;
  return { rejectedItems: Number(rejected ?? 0) || 0, message: typeof message === 'string' ? message : '' };
}

/** The `message` of a google.rpc.Status error body (protobuf or JSON), or a text snippet. */
export function describeErrorBody(body: Uint8Array, contentType: string | undefined): string | undefined {
  if (body.length === 0) return undefined;
  try {
    let text: string | undefined;
    if (isJson(contentType)) {
      const parsed: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
      const message = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).message : undefined;
      text = typeof message === 'string' ? message : undefined;
    } else if (contentType?.includes('protobuf') === true) {
      const field = findLengthDelimitedField(body, 0, body.length, 2);
      text = field === undefined ? undefined : Buffer.from(body.subarray(field.start, field.end)).toString('utf8');
    } else {
      text = Buffer.from(body).toString('utf8').trim();
    }
    return text === undefined || text === '' ? undefined : text.slice(0, MAX_REASON_CHARS);
  } catch {
    return undefined;
  }
}

function findLengthDelimitedField(buf: Uint8Array, start: number, end: number, wanted: number): { start: number; end: number } | undefined {
  const cursor = { pos: start };
  while (cursor.pos < end) {
    const tag = readVarint(buf, cursor, end);
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === wanted && wireType === WIRE_LEN) {
      const len = readVarint(buf, cursor, end);
      if (cursor.pos + len > end) return undefined;
      return { start: cursor.pos, end: cursor.pos + len };
    }
    cursor.pos = skipField(buf, wireType, cursor.pos, end);
  }
  return undefined;
}

function isJson(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().includes('json') === true;
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
