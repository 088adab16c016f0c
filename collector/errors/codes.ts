/**
 * Every error Tollgate reports to a client, in one table: its stable code, what it means, the
 * HTTP status and gRPC status it maps to, and whether the client should retry. The docs list
 * the same table (docs/errors.md) and a test keeps the two in sync.
 */

import { GrpcStatus } from '../otlp/status.js';

export interface ErrorSpec {
  readonly message: string;
  readonly httpStatus: number;
  readonly grpcStatus: number;
  readonly retryable: boolean;
}

export const ERROR_CODES = {
  malformed_request: {
    message: 'the request body is not a valid OTLP export request',
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
  },
  request_too_large: {
    message: 'the request body exceeds the size limit after decompression',
    httpStatus: 413,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    retryable: false,
  },
  unsupported_media_type: {
    message: 'the content type or content encoding is not supported',
    httpStatus: 415,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
  },
  not_found: {
    message: 'no OTLP endpoint at this path',
    httpStatus: 404,
    grpcStatus: GrpcStatus.UNIMPLEMENTED,
    retryable: false,
  },
  method_not_allowed: {
    message: 'OTLP endpoints accept POST only',
    httpStatus: 405,
    grpcStatus: GrpcStatus.UNIMPLEMENTED,
    retryable: false,
  },
  overloaded: {
    message: 'Tollgate is at its memory or concurrency limit; retry later',
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
  },
  exporter_busy: {
    message: 'an exporter queue is full; retry later',
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
  },
  export_failed: {
    message: 'the downstream did not accept the data in time; retry later',
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
  },
  export_rejected: {
    message: 'the downstream rejected the data permanently',
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
  },
  shutting_down: {
    message: 'Tollgate is shutting down; retry against another instance',
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
  },
  unauthorized: {
    message: 'the budget API needs a valid bearer token',
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    retryable: false,
  },
  forbidden: {
    message: 'this route needs an admin token',
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    retryable: false,
  },
  invalid_query: {
    message: 'the query parameters are not valid',
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
  },
  invalid_body: {
    message: 'the request body is not valid',
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
  },
  invalid_cursor: {
    message: 'the pagination cursor is not one this API handed out; start again without it',
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
  },
  rate_limited: {
    message: 'this token made too many budget API requests; retry after the Retry-After delay',
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    retryable: true,
  },
  resource_not_found: {
    message: 'no such team or resource visible to this token',
    httpStatus: 404,
    grpcStatus: GrpcStatus.NOT_FOUND,
    retryable: false,
  },
  internal: {
    message: 'an internal error occurred',
    httpStatus: 500,
    grpcStatus: GrpcStatus.INTERNAL,
    retryable: false,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Seconds a throttled client is told to wait (HTTP Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

/** A failure carrying one of the codes above, with detail for the client. */
export class TollgateError extends Error {
  /** Items (points, spans, log records) the failed request carried, when known. */
  items = 0;

  constructor(
    readonly code: ErrorCode,
    detail?: string,
  ) {
    super(detail ? `${ERROR_CODES[code].message}: ${detail}` : ERROR_CODES[code].message);
    this.name = 'TollgateError';
  }

  get spec(): ErrorSpec {
    return ERROR_CODES[this.code];
  }
}
