import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES, RETRY_AFTER_SECONDS, TollgateError } from '../errors/codes.js';
import type { ErrorCode } from '../errors/codes.js';
import { OtlpJsonError, parseOtlpJson } from '../otlp/otlp-json.js';
import { SIGNAL_HTTP_PATH, SIGNALS } from '../otlp/signal.js';
import type { Signal } from '../otlp/signal.js';
import { BODY_CONTENT_TYPE, encodeExportResponse, encodeStatus } from '../otlp/status.js';
import type { BodyFormat } from '../otlp/status.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfMetrics } from '../telemetry/metrics.js';
import { bodyEncodingOf, bodyFormatOf, readBody } from './http-body.js';
import { recordOutcome } from './outcome.js';

export interface OtlpHttpReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly maxRequestBodySize: number;
  readonly maxConcurrentRequests: number;
  readonly pipeline: Pipeline;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
}

export interface Receiver {
  start(): Promise<void>;
  /** Where it listens, once started, as host:port. */
  address(): string;
  /** Stops accepting, lets in-flight requests finish until `deadline` (epoch ms), then cuts connections. */
  stop(deadline: number): Promise<void>;
}

const SIGNAL_BY_PATH = new Map<string, Signal>(SIGNALS.map((signal) => [SIGNAL_HTTP_PATH[signal], signal]));
const TRANSPORT = 'http';

export function createOtlpHttpReceiver(options: OtlpHttpReceiverOptions): Receiver {
  const { pipeline, metrics, logger } = options;
  let active = 0;
  /** Once stopping, every answer closes its connection, so keep-alive clients cannot hold the drain open. */
  let draining = false;
  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = (req.url ?? '/').split('?', 1)[0];
    const signal = SIGNAL_BY_PATH.get(path);
    const format = bodyFormatOf(req.headers['content-type']) ?? 'protobuf';
    if (!signal) {
      // Counted under signal "none": the path named no signal (the label stays bounded).
      const status = reject(req, res, 'not_found', format, path);
      metrics.receiverRequests.inc({ signal: 'none', transport: TRANSPORT, code: String(status) });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      const status = reject(req, res, 'method_not_allowed', format);
      metrics.receiverRequests.inc({ signal, transport: TRANSPORT, code: String(status) });
      return;
    }
    const timer = metrics.receiverDuration.startTimer({ signal, transport: TRANSPORT });
    active++;
    try {
      const status = await exportRequest(req, res, signal, format);
      metrics.receiverRequests.inc({ signal, transport: TRANSPORT, code: String(status) });
    } finally {
      active--;
      timer();
      logger.debug('http export', { signal, ms: Math.round(performance.now() - started) });
    }
  }

  async function exportRequest(req: IncomingMessage, res: ServerResponse, signal: Signal, fallbackFormat: BodyFormat): Promise<number> {
    const format = bodyFormatOf(req.headers['content-type']);
    const encoding = bodyEncodingOf(req.headers['content-encoding']);
    try {
      if (!format) throw new TollgateError('unsupported_media_type', `content-type ${req.headers['content-type'] ?? '(none)'}`);
      if (!encoding) throw new TollgateError('unsupported_media_type', `content-encoding ${req.headers['content-encoding']}`);
      if (active > options.maxConcurrentRequests) throw new TollgateError('overloaded', `more than ${options.maxConcurrentRequests} concurrent requests`);
      const body = await readBody(req, encoding, options.maxRequestBodySize);
      const protobuf = format === 'json' ? parseJsonBody(signal, body) : body;
      const result = await pipeline.consume(signal, protobuf);
      recordOutcome(metrics, signal, TRANSPORT, result);
      const partial = result.rejected > 0 || result.message ? { rejected: result.rejected, message: result.message ?? '' } : undefined;
      send(res, 200, format, encodeExportResponse(signal, partial, format));
      return 200;
    } catch (error) {
      if (!(error instanceof TollgateError) && req.destroyed) {
        logger.debug('client closed the connection during the request', { signal, error });
        return CLIENT_CLOSED;
      }
      const failure = asTollgateError(error, logger);
      metrics.receiverItems.inc({ signal, transport: TRANSPORT, outcome: failure.code === 'malformed_request' ? 'rejected' : 'refused' }, failure.items);
      return reject(req, res, failure.code, format ?? fallbackFormat, failure.message);
    }
  }

  function send(res: ServerResponse, status: number, format: BodyFormat, body: Uint8Array): void {
    if (draining) res.setHeader('Connection', 'close');
    writeResponse(res, status, format, body);
  }

  function reject(req: IncomingMessage, res: ServerResponse, code: ErrorCode, format: BodyFormat, detail?: string): number {
    const spec = ERROR_CODES[code];
    if (spec.retryable) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    // Unread request bytes would otherwise stall the keep-alive connection.
    if (!req.complete) req.resume();
    send(res, spec.httpStatus, format, encodeStatus(spec.grpcStatus, detail ?? spec.message, format));
    return spec.httpStatus;
  }

  return {
    start: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          logger.info('OTLP/HTTP receiver listening', { address: addressOf(server) });
          resolve();
        });
      }),
    address: () => addressOf(server),
    stop: (deadline) => {
      draining = true;
      return closeServer(server, deadline);
    },
  };
}

function parseJsonBody(signal: Signal, body: Buffer): Uint8Array {
  try {
    return parseOtlpJson(signal, body.toString('utf8'));
  } catch (error) {
    if (error instanceof OtlpJsonError || error instanceof SyntaxError) throw new TollgateError('malformed_request', error.message);
    throw error;
  }
}

function writeResponse(res: ServerResponse, status: number, format: BodyFormat, body: Uint8Array): void {
  res.writeHead(status, { 'Content-Type': BODY_CONTENT_TYPE[format], 'Content-Length': body.length });
  res.end(body);
}

/** A client that went away mid-request is not our error: there is nobody left to answer. */
const CLIENT_CLOSED = 499;

/** Anything that is not one of our coded errors is a bug: log it and answer 500. */
export function asTollgateError(error: unknown, logger: Logger): TollgateError {
  if (error instanceof TollgateError) return error;
  logger.error('unexpected error while handling an export request', { error });
  return new TollgateError('internal');
}

export function addressOf(server: { address(): AddressInfo | string | null }): string {
  const address = server.address();
  if (!address || typeof address === 'string') return String(address);
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

function closeServer(server: Server, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
