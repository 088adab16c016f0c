/**
 * Query-string schemas of the budget API, built with the config schema toolkit so one object
 * both validates a request (strict: unknown parameters are rejected, with a "did you mean") and
 * documents it in the OpenAPI document (through the JSON Schema notes on each leaf).
 */
import { UntypedScalar, duration, enumOf, integer, object, optional, scalar, string, validate } from '../collector/config/validate.js';
import type { ConfigIssue, Schema } from '../collector/config/validate.js';
import { SIGNALS } from '../collector/otlp/signal.js';
import { MAX_PAGE_SIZE, MAX_TOP } from '../collector/usage/reader.js';
import { withJsonSchema } from '../rules/json-annotations.js';

/** A query parameter or request body problem, in the words the API answers with. */
export class InputError extends Error {
  override readonly name = 'InputError';

  constructor(
    readonly code: 'invalid_query' | 'invalid_body',
    message: string,
  ) {
    super(message);
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** A time: epoch milliseconds or an RFC 3339 date-time; yields epoch milliseconds. */
function timestamp(description: string): Schema<number, string | number> {
  return withJsonSchema(
    scalar<number, string | number>({
      typeName: 'time',
      description,
      takesText: false,
      check(input) {
        if (typeof input === 'number' && Number.isSafeInteger(input) && input >= 0) return { ok: true, value: input };
        if (typeof input === 'string' && RFC3339.test(input)) {
          const ms = Date.parse(input);
          if (Number.isFinite(ms) && ms >= 0) return { ok: true, value: ms };
        }
        return { ok: false, message: 'must be epoch milliseconds or an RFC 3339 time such as 2026-01-31T12:00:00Z' };
      },
    }),
    { replace: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', format: 'date-time' }] } },
  );
}

function count(max: number, description: string): Schema<number> {
  return withJsonSchema(integer({ min: 1, max, description }), { replace: { type: 'integer', minimum: 1, maximum: max } });
}

function text(description: string): Schema<string> {
  return withJsonSchema(string({ minLength: 1, description }), { replace: { type: 'string', minLength: 1 } });
}

const signal = withJsonSchema(enumOf(SIGNALS, { description: 'The signal whose usage is returned.' }), { replace: { enum: [...SIGNALS] } });
const step = withJsonSchema(duration({ min: 1, description: 'Bucket width, e.g. `5m` or milliseconds; raised to whole minutes (hours past the minute retention). Default: the smallest giving at most 1,440 points.' }), {
  replace: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h))+$' }] },
});

export const noQuery = object({});

export const usageQuery = object({
  signal: optional(signal, 'metrics'),
  from: optional(timestamp('Start of the range (inclusive). Default: 24 hours before `to`.')),
  to: optional(timestamp('End of the range (exclusive). Default: now.')),
  step: optional(step),
});

export const cardinalityQuery = object({
  metric: optional(text('A metric name: its labels by estimated distinct values instead of the top metrics.')),
  limit: optional(count(MAX_TOP, `How many metrics (or labels) to return, 1 to ${MAX_TOP}.`), 20),
});

export const violationsQuery = object({
  since: optional(timestamp('Only violations of the minute holding this time and later.')),
  limit: optional(count(MAX_PAGE_SIZE, `Page size, 1 to ${MAX_PAGE_SIZE}.`), 50),
  cursor: optional(text('`next_cursor` of the previous page.')),
});

/**
 * Query values are text; handed to the schema as untyped scalars (as env-substituted config
 * values are) so integer and time fields read digits as numbers and string fields keep the text.
 * Repeated parameters arrive as lists, which no field accepts.
 */
export function asUntyped(query: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(query).map(([key, value]) => [key, typeof value === 'string' ? new UntypedScalar(value, /^\d{1,15}$/.test(value) ? Number(value) : value) : value]),
  );
}

/** `limit: must be …`; an unknown key already names itself (a query parameter, or a body field). */
function describeIssue(issue: ConfigIssue, unknownKeyNoun: string): string {
  if (issue.message.startsWith('unknown key ')) return issue.message.replace('unknown key', `unknown ${unknownKeyNoun}`);
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** The validated query, or an InputError listing every problem by parameter name. */
export function parseQuery<Q>(schema: Schema<Q, unknown>, query: Readonly<Record<string, unknown>>): Q {
  const result = validate(schema, asUntyped(query));
  if (result.ok) return result.value;
  throw new InputError('invalid_query', result.errors.map((issue) => describeIssue(issue, 'query parameter')).join('; '));
}

/** The validated JSON body (typed JSON values, taken as they are), or an InputError listing every problem by key path. */
export function parseBody<B>(schema: Schema<B, unknown>, body: unknown): B {
  const result = validate(schema, body);
  if (result.ok) return result.value;
  throw new InputError('invalid_body', result.errors.map((issue) => describeIssue(issue, 'field')).join('; '));
}

/** The body of `POST /rules/validate`. */
export const rulesValidateBody = object(
  { rules: withJsonSchema(string({ description: 'The rules file\'s text (YAML), as `tollgate lint` reads it.' }), { replace: { type: 'string' } }) },
  { description: 'A rules document to lint.' },
);

/** An RFC 3339 date-time only (a body is JSON: a time is written out, not given as a number); yields epoch milliseconds. */
function rfc3339(description: string): Schema<number, string> {
  return withJsonSchema(
    scalar<number, string>({
      typeName: 'RFC 3339 time',
      description,
      takesText: true,
      check(input) {
        if (typeof input === 'string' && RFC3339.test(input)) {
          const ms = Date.parse(input);
          if (Number.isFinite(ms) && ms >= 0) return { ok: true, value: ms };
        }
        return { ok: false, message: 'must be an RFC 3339 time such as 2026-01-31T12:00:00Z' };
      },
    }),
    { replace: { type: 'string', format: 'date-time' } },
  );
}

/** The body of `PUT /teams/{team}/exceptions/{id}`. */
export const exceptionBody = object(
  {
    signal: optional(withJsonSchema(enumOf(['metrics'] as const, { description: 'The budget raised: the metrics series budget (the only one for now).' }), { replace: { enum: ['metrics'] } }), 'metrics'),
    max_active_series: withJsonSchema(integer({ min: 0, description: 'The series budget while the exception is in force, in place of the rules\' `max_active_series`.' }), {
      replace: { type: 'integer', minimum: 0 },
    }),
    reason: withJsonSchema(string({ minLength: 1, pattern: { regex: /\S/, message: 'must not be blank' }, description: 'Why: kept with the exception and in its audit trail.' }), { replace: { type: 'string', minLength: 1 } }),
    expires_at: rfc3339('When the exception stops applying; must be in the future.'),
  },
  { description: 'A temporary raise of a team\'s budget.' },
);
