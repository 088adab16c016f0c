export { evaluate } from './evaluate.js';
export type { EvaluateOptions, TeamUsage } from './evaluate.js';
export { CHECK_RULES, LEVELS, POLICY_RULE_PREFIX, atLeast, fingerprintOf, locationOf } from './findings.js';
export type { Finding, Level, RuleInfo, Suppression } from './findings.js';
export {
  OUTPUT_FORMATS,
  RENDERERS,
  checkedLine,
  escapeGithubData,
  escapeGithubProperty,
  escapeXml,
  renderGithub,
  renderGitlab,
  renderHuman,
  renderJson,
  renderJunit,
  renderMarkdownSummary,
  renderSarif,
} from './formats.js';
export type { OutputFormat } from './formats.js';
export { CheckInputError, addOtlpInput, addPrometheusInput, detectKind, signalOfJsonLine } from './inputs.js';
export type { InputKind } from './inputs.js';
export { PrometheusTextError, parsePrometheusText, prometheusToOtlp } from './prometheus-text.js';
export type { PrometheusMetric } from './prometheus-text.js';
export { REPORT_TOOL, buildReport, isEmptySample, narrowReport, reportToJson, statsFromReport } from './report.js';
export type { CheckReport, CheckSummary, ReportInput } from './report.js';
export { EmptySampleError, runCheck } from './run.js';
export type { CheckInput, CheckOptions } from './run.js';
export { createSampleBuilder } from './sample.js';
export type { MetricStats, Origin, PolicyHit, RequestOrigin, SampleBuilder, SampleStats } from './sample.js';
export { createSourceIndex, locateFindings, metricSpellings } from './source-locations.js';
export type { SourceFile, SourceIndex } from './source-locations.js';
export { applySuppressions, parseSuppressions, suppressionsFileSchema } from './suppressions.js';
export type { CompiledSuppression } from './suppressions.js';
