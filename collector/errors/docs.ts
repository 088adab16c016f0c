import { ERROR_CODES } from './codes.js';
import { GrpcStatus } from '../otlp/status.js';

const GRPC_NAME = new Map<number, string>(Object.entries(GrpcStatus).map(([name, code]) => [code, name]));

/** The markdown table of every error code, as docs/errors.md shows it. */
export function renderErrorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.httpStatus} | ${GRPC_NAME.get(spec.grpcStatus) ?? spec.grpcStatus} | ${spec.retryable ? 'yes' : 'no'} | ${spec.message} |`,
  );
  return ['| code | HTTP | gRPC | retry | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
