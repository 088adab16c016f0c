/**
 * `POST /api/v1/check`: `tollgate check` over HTTP, against the rules in force and the teams'
 * current usage from the usage store (the server is the `--api`). The body carries the sample:
 * OTLP/JSON export requests (metrics, traces or logs, each as the object a file exporter line
 * holds) and/or Prometheus exposition text, optionally a baseline of the same kinds. The answer
 * is the report `tollgate check --format json` writes; whether it passed is its `passed` field,
 * not the HTTP status. A team token sees the findings of its own team only.
 */
import { enumOf, number, object, optional, record, scalar, string } from '../collector/config/validate.js';
import type { Infer, Schema } from '../collector/config/validate.js';
import type { TeamUsage } from '../collector/check/evaluate.js';
import { CheckInputError } from '../collector/check/inputs.js';
import { narrowReport, reportToJson } from '../collector/check/report.js';
import { EmptySampleError, runCheck } from '../collector/check/run.js';
import type { CheckInput } from '../collector/check/run.js';
import { VERSION } from '../cli/version.js';
import { withJsonSchema } from '../rules/json-annotations.js';
import type { CompiledRules } from '../rules/compiled.js';
import { InputError } from './query.js';

const otlpRequests: Schema<readonly object[]> = withJsonSchema(
  scalar<readonly object[]>({
    typeName: 'array of OTLP/JSON export requests',
    description: 'OTLP/JSON Export*ServiceRequest objects ({"resourceMetrics": …}, {"resourceSpans": …} or {"resourceLogs": …}).',
    takesText: false,
    check(input) {
      if (Array.isArray(input) && input.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) return { ok: true, value: input as object[] };
      return { ok: false, message: 'must be an array of OTLP/JSON request objects' };
    },
  }),
  { replace: { type: 'array', items: { type: 'object' } } },
);

const prometheusText = withJsonSchema(string({ description: 'Prometheus exposition text, as a scrape returns it.' }), { replace: { type: 'string' } });

const sampleFields = {
  otlp: optional(otlpRequests),
  prometheus: optional(prometheusText),
};

export const checkBody = object(
  {
    ...sampleFields,
    baseline: optional(object(sampleFields, { description: 'A sample to compare with (e.g. from the main branch): new metrics, new labels, series growth.' })),
    resource: optional(
      withJsonSchema(record(string()), { replace: { type: 'object', additionalProperties: { type: 'string' } } }),
    ),
    max_growth: optional(withJsonSchema(number({ min: 0, description: 'Series growth over the baseline that is still fine, as a fraction (default 0.2).' }), { replace: { type: 'number', minimum: 0 } }), 0.2),
    fail_on: optional(withJsonSchema(enumOf(['error', 'warning'] as const, { description: 'The lowest level that fails the check (default error).' }), { replace: { enum: ['error', 'warning'] } }), 'error'),
  },
  { description: 'A sample of telemetry to check against the rules in force.' },
);

export type CheckBody = Infer<typeof checkBody>;

type Sample = { readonly otlp?: readonly object[]; readonly prometheus?: string };

function inputsOf(sample: Sample | undefined, name: string): CheckInput[] {
  if (!sample) return [];
  const inputs: CheckInput[] = [];
  if (sample.otlp && sample.otlp.length > 0) {
    const lines = sample.otlp.map((request) => JSON.stringify(request)).join('\n');
    inputs.push({ kind: 'otlp', path: `${name}.otlp`, bytes: new TextEncoder().encode(lines) });
  }
  if (sample.prometheus !== undefined) inputs.push({ kind: 'prometheus', path: `${name}.prometheus`, bytes: new TextEncoder().encode(sample.prometheus) });
  return inputs;
}

export interface ApiCheckContext {
  readonly rules: CompiledRules;
  /** May the caller see this team's findings and usage? */
  readonly canSee: (team: string) => boolean;
  /** The team's current metrics usage and limit in force. */
  readonly usageOf: (team: string) => TeamUsage;
  readonly now: number;
}

export function runApiCheck(context: ApiCheckContext, body: CheckBody): unknown {
  const inputs = inputsOf(body, 'request');
  if (inputs.length === 0) throw new InputError('invalid_body', 'give a sample: otlp (an array of OTLP/JSON requests) and/or prometheus (exposition text)');
  const visible = context.rules.teams.filter((team) => context.canSee(team.name));
  const usage = new Map(visible.map((team) => [team.name, context.usageOf(team.name)]));
  let report;
  try {
    report = runCheck({
      rules: context.rules,
      inputs,
      baseline: inputsOf(body.baseline, 'baseline'),
      resource: body.resource ?? {},
      usage,
      maxGrowth: body.max_growth,
      failOn: body.fail_on,
      now: context.now,
      version: VERSION,
    });
  } catch (error) {
    if (error instanceof CheckInputError || error instanceof EmptySampleError) throw new InputError('invalid_body', error.message);
    throw error;
  }
  return reportToJson(narrowReport(report, (team) => team === undefined || context.canSee(team)));
}
