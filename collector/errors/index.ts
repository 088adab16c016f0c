export { ERROR_CODES, GRPC, RETRY_AFTER_SECONDS, TollgateError } from './codes.js';
export type { ErrorCode, ErrorSpec } from './codes.js';
