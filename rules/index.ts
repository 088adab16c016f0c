export type {
  AttributeAction,
  AttributeConditionOp,
  CompiledAttributeCondition,
  CompiledAttributePolicy,
  CompiledRules,
  CompiledSamplingRule,
  CompiledTeam,
  CompiledTier,
  DetectorName,
  MetricBudget,
  PolicyMode,
  PolicyTargets,
  ResourceMatcher,
  SamplingAction,
  SamplingSignal,
  StringMatcher,
  TeamBudgets,
  ValueDetector,
} from './compiled.js';
export { DETECTORS, createRegexDetector } from './detectors.js';
export {
  ATTRIBUTE_ACTIONS,
  ATTRIBUTE_CONDITION_OPS,
  BUILTIN_TIERS,
  DEFAULT_REPLACEMENT,
  DEFAULT_SAMPLING_RULES,
  DEFAULT_TIER,
  DETECTOR_NAMES,
  IMPLICIT_DEFAULT_TEAM_NAME,
  LOG_SEVERITIES,
  LOG_SEVERITY_NUMBERS,
  METRIC_BUDGET_ACTIONS,
  POLICY_MODES,
  POLICY_TARGETS,
  RULES_VERSION,
  SAMPLING_ACTIONS,
  SAMPLING_SIGNALS,
  SIGNAL_NAMES,
  SPAN_STATUSES,
} from './builtins.js';
export type { LogSeverity, TierDefinition } from './builtins.js';
export { rulesSchema } from './schema.js';
export type {
  MetricBudgetDocument,
  PatternInput,
  RawRulesDocument,
  RulesAttributeCondition,
  RulesAttributePolicy,
  RulesDocument,
  RulesSamplingRule,
  RulesTeam,
  ValueInput,
  ValueSpec,
} from './schema.js';
export { checkRulesDocument } from './analysis.js';
export { compileRules } from './compile.js';
export { canonicalJson, rulesHash } from './hash.js';
export {
  DEFAULT_RULES_SOURCE,
  DEFAULT_RULES_YAML,
  RULES_SUBJECT,
  defaultRules,
  loadRules,
  parseRules,
  readRulesFile,
  validateRules,
} from './load.js';
export {
  REGEX_FLAGS,
  compileAnchoredRegex,
  compileMatcher,
  compileValueRegex,
  globToRegexSource,
  hasGlobWildcard,
  isUniversalPattern,
  patternsCover,
  regexProblem,
} from './matchers.js';
export type { PatternSpec } from './matchers.js';
export { findBacktrackingRisk } from './regex-safety.js';
export type { BacktrackingRisk } from './regex-safety.js';
export { jsonAnnotationOf, withJsonSchema } from './json-annotations.js';
export type { JsonAnnotation, JsonObject, JsonValue, ToJsonSchema } from './json-annotations.js';
export { JSON_SCHEMA_DIALECT, RULES_JSON_SCHEMA_PATH, renderRulesJsonSchema, rulesJsonSchema, toJsonSchema } from './json-schema.js';
export {
  RULES_DOC_BLOCKS,
  blockEnd,
  blockStart,
  renderBuiltinTiers,
  renderDefaultRules,
  renderDefaultSampling,
  renderRulesDoc,
  renderRulesTable,
  replaceBlock,
} from './render-docs.js';
export type { RulesDocBlock } from './render-docs.js';
