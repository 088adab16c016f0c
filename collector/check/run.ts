/**
 * A whole check from bytes in hand: sample → findings → suppressions → source locations →
 * report. The CLI (cli/check.ts) and the API (api/check.ts) gather the bytes and call this.
 */
import type { CompiledRules } from '../../rules/compiled.js';
import { evaluate } from './evaluate.js';
import type { TeamUsage } from './evaluate.js';
import type { Level } from './findings.js';
import { addOtlpInput, addPrometheusInput, detectKind } from './inputs.js';
import type { InputKind } from './inputs.js';
import { buildReport, isEmptySample, statsFromReport } from './report.js';
import type { CheckReport } from './report.js';
import { createSampleBuilder } from './sample.js';
import type { SampleStats } from './sample.js';
import { locateFindings } from './source-locations.js';
import type { SourceIndex } from './source-locations.js';
import { applySuppressions } from './suppressions.js';
import type { CompiledSuppression } from './suppressions.js';

export interface CheckInput {
  /** `auto` (baselines): detected from the bytes; a saved JSON report is accepted too. */
  readonly kind: InputKind | 'auto';
  /** File path or URL, as reports should name it. */
  readonly path: string;
  readonly bytes: Uint8Array;
}

export interface CheckOptions {
  readonly rules: CompiledRules;
  readonly inputs: readonly CheckInput[];
  /** `inputs` already read (sampleOf), when the caller needed the sample first (e.g. to ask only its teams' usage). */
  readonly sample?: SampleStats;
  readonly baseline?: readonly CheckInput[];
  /** Resource attributes given to Prometheus inputs (they have none of their own), e.g. service.name. */
  readonly resource?: Readonly<Record<string, string>>;
  readonly usage?: ReadonlyMap<string, TeamUsage>;
  readonly suppressions?: readonly CompiledSuppression[];
  readonly source?: SourceIndex;
  readonly maxGrowth: number;
  readonly failOn: Level;
  readonly now: number;
  readonly version: string;
}

/** Nothing was evaluated: no data point, span or log record in any input. Never a pass. */
export class EmptySampleError extends Error {
  constructor(inputs: number) {
    super(`nothing to check: the ${inputs === 1 ? 'input has' : `${inputs} inputs have`} no data point, span or log record (0 metrics, 0 series, 0 labels checked)`);
    this.name = 'EmptySampleError';
  }
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** The inputs' statistics after the rules' policies. */
export function sampleOf(rules: CompiledRules, inputs: readonly CheckInput[], resource: Readonly<Record<string, string>>): SampleStats {
  const builder = createSampleBuilder(rules);
  for (const input of inputs) {
    const kind = input.kind === 'auto' ? detectKind(input.bytes) : input.kind;
    if (kind === 'otlp') addOtlpInput(builder, input.bytes, input.path);
    else addPrometheusInput(builder, text(input.bytes), input.path, resource);
  }
  return builder.finish();
}

/** A baseline: a saved JSON report (single input), or inputs like the sample's. */
function baselineOf(rules: CompiledRules, inputs: readonly CheckInput[], resource: Readonly<Record<string, string>>): SampleStats {
  if (inputs.length === 1 && inputs[0].bytes[0] === 0x7b) {
    const body = text(inputs[0].bytes);
    if (body.trimStart().startsWith('{') && body.includes('"tool"')) {
      try {
        const stats = statsFromReport(JSON.parse(body));
        if (stats) return stats;
      } catch {
        // Not a single JSON document: OTLP/JSON lines, read below.
      }
    }
  }
  return sampleOf(rules, inputs, resource);
}

export function runCheck(options: CheckOptions): CheckReport {
  const resource = options.resource ?? {};
  const sample = options.sample ?? sampleOf(options.rules, options.inputs, resource);
  if (isEmptySample(sample)) throw new EmptySampleError(options.inputs.length);
  const baseline = options.baseline && options.baseline.length > 0 ? baselineOf(options.rules, options.baseline, resource) : undefined;
  const findings = evaluate({ rules: options.rules, sample, usage: options.usage, baseline, maxGrowth: options.maxGrowth });
  findings.push(...applySuppressions(findings, options.suppressions ?? [], options.now));
  if (options.source) locateFindings(findings, options.source);
  return buildReport({ version: options.version, rules: options.rules, failOn: options.failOn, inputs: options.inputs.length, sample, findings });
}
