export { ADAPTIVE_RATE_DEFAULTS, AdaptiveRate, VisibilityFloor, visibilityKey } from './adaptive-rate.js';
export type { AdaptiveRateOptions, VisibilityKey } from './adaptive-rate.js';
export { adjustedCount, ConsistentSampler, createDecision } from './decision.js';
export type { SamplingDecision } from './decision.js';
export {
  encodeRandomnessValue,
  isValidTraceId,
  readLogRandomness,
  readRandomnessValue,
  readTraceIdRandomness,
  TRACE_ID_BYTES,
  traceIdRandomnessHi,
  traceIdRandomnessLo,
} from './randomness.js';
export {
  ALWAYS_SAMPLE,
  atLeast,
  compareValue56,
  decodeThreshold,
  DEFAULT_THRESHOLD_PRECISION,
  encodeThreshold,
  hexDigitValue,
  MAX_ADJUSTED_COUNT,
  MAX_THRESHOLD,
  MIN_PROBABILITY,
  MutableValue56,
  readHex56,
  Threshold,
  THRESHOLD_HEX_DIGITS,
  thresholdFromProbability,
} from './threshold.js';
export type { Value56 } from './threshold.js';
export {
  getMember,
  isValidTraceStateKey,
  isValidTraceStateValue,
  OT_KEY,
  OT_VALUE_MAX_LENGTH,
  ParsedTraceState,
  parseOtValue,
  parseTraceState,
  putMemberFirst,
  serializeOtValue,
  serializeTraceState,
  setThreshold,
  TRACESTATE_MAX_KEY_LENGTH,
  TRACESTATE_MAX_MEMBERS,
  TRACESTATE_MAX_VALUE_LENGTH,
  withOtThreshold,
} from './tracestate.js';
export type { KeyValue } from './tracestate.js';
