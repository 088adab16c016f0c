export { ERROR_CODES, RETRY_AFTER_SECONDS, TollgateError } from './codes.js';
export type { ErrorCode, ErrorSpec } from './codes.js';
