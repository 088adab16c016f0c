/**
 * The rules file, declared once with the config toolkit: this schema validates a file (every
 * issue with its key path, "did you mean" for typos, a frozen result), renders the reference
 * table in docs/rules.md, and generates rules/rules.schema.json. Leaves carry their JSON Schema
 * facts (`withJsonSchema`), since the toolkit's structure does not describe scalars.
 *
 * The validated document is normalized so that two files meaning the same thing are equal (and
 * hash the same): patterns become `{exact}`/`{glob}`/`{regex}` lists, defaults are filled in
 * (the default sampling rules too), tiers list every severity, sampling rules list their signals
 * in one order, and policy and budget modes inherit the top-level mode.
 */
import {
  INVALID,
  arrayOf,
  boolean,
  byteSize,
  duration,
  enumOf,
  formatPath,
  integer,
  object,
  optional,
  record,
  refine,
  scalar,
  string,
  suggestClosest,
  validate,
} from '../collector/config/validate.js';
import type { Cursor, Infer, ReportIssue, Schema, Simplify } from '../collector/config/validate.js';
import { checkRulesDocument } from './analysis.js';
import {
  ATTRIBUTE_ACTIONS,
  ATTRIBUTE_CONDITION_OPS,
  BUILTIN_TIERS,
  DEFAULT_REPLACEMENT,
  DEFAULT_SAMPLING_RULES,
  DEFAULT_TIER,
  DETECTOR_NAMES,
  LOG_SEVERITIES,
  METRIC_BUDGET_ACTIONS,
  POLICY_MODES,
  POLICY_TARGETS,
  RULES_VERSION,
  SAMPLING_ACTIONS,
  SAMPLING_SIGNALS,
  SIGNAL_NAMES,
  SPAN_STATUSES,
} from './builtins.js';
import type { TierDefinition } from './builtins.js';
import type { DetectorName, PolicyMode } from './compiled.js';
import { withJsonSchema } from './json-annotations.js';
import type { JsonObject } from './json-annotations.js';
import { hasGlobWildcard, regexProblem } from './matchers.js';
import type { PatternSpec } from './matchers.js';

// ─── Small building blocks ─────────────────────────────────────────────────────────────────────

function reportAt(at: Cursor, message: string): void {
  at.issues.push({ path: formatPath(at.segments), message, segments: at.segments });
}

function isMapping(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? `"${value}"` : `a ${typeof value}`;
}

const accept = <T>(value: T) => ({ ok: true as const, value });
const reject = (message: string) => ({ ok: false as const, message });

/** Team, tier and policy names appear in API paths, metric labels and messages: keep them plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NAME_MESSAGE = 'must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit';

function name(description: string): Schema<string> {
  return withJsonSchema(string({ minLength: 1, pattern: { regex: NAME, message: NAME_MESSAGE }, description }), {
    replace: { type: 'string', pattern: NAME.source },
  });
}

function text(description: string, minLength = 0): Schema<string> {
  return withJsonSchema(string({ minLength, description }), { replace: minLength > 0 ? { type: 'string', minLength } : { type: 'string' } });
}

function positiveInteger(description: string): Schema<number> {
  return withJsonSchema(integer({ min: 1, description }), { replace: { type: 'integer', minimum: 1 } });
}

function flag(description: string): Schema<boolean> {
  return withJsonSchema(boolean({ description }), { replace: { type: 'boolean' } });
}

function choice<const V extends readonly string[]>(values: V, description: string): Schema<V[number]> {
  return withJsonSchema(enumOf(values, { description }), { replace: { enum: [...values] } });
}

/** A number in [0, 1] or, when zero means "never" and is not allowed, in (0, 1]. */
function fraction(description: string, { zero }: { zero: boolean }): Schema<number> {
  const range = zero ? 'from 0 to 1' : 'greater than 0 and at most 1';
  return withJsonSchema(
    scalar<number>({
      typeName: zero ? 'number (0–1)' : 'number (0 < x ≤ 1)',
      description,
      takesText: false,
      check: (input) =>
        typeof input === 'number' && Number.isFinite(input) && input <= 1 && (zero ? input >= 0 : input > 0) ? accept(input) : reject(`must be a number ${range}`),
    }),
    { replace: zero ? { type: 'number', minimum: 0, maximum: 1 } : { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
  );
}

function positiveRate(description: string): Schema<number> {
  return withJsonSchema(
    scalar<number>({
      typeName: 'number (> 0)',
      description,
      takesText: false,
      check: (input) => (typeof input === 'number' && Number.isFinite(input) && input > 0 ? accept(input) : reject('must be a number greater than 0')),
    }),
    { replace: { type: 'number', exclusiveMinimum: 0 } },
  );
}

const BYTE_SIZE_JSON: JsonObject = {
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?)?[bB]$' },
  ],
};

function bytes(description: string): Schema<number, string | number> {
  return withJsonSchema(byteSize({ min: 1, description }), { replace: BYTE_SIZE_JSON });
}

const DURATION_TEXT_JSON: JsonObject = { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$' };

const DURATION_JSON: JsonObject = {
  anyOf: [{ type: 'integer', minimum: 1000 }, DURATION_TEXT_JSON],
};

function window(description: string): Schema<number, string | number> {
  return withJsonSchema(duration({ min: 1000, description }), { replace: DURATION_JSON });
}

/** A list whose items may not repeat (`signals: [logs, logs]` is a typo, not an intent). */
function uniqueList<Out, In>(element: Schema<Out, In>, description: string): Schema<readonly Out[], readonly In[]> {
  const list = refine(arrayOf(element, { description }), (items, report) => {
    items.forEach((item, index) => {
      if (items.indexOf(item) < index) report([index], `duplicate ${JSON.stringify(item)}`);
    });
    return items;
  });
  return withJsonSchema(list, { extend: { uniqueItems: true } });
}

/**
 * One value or a list of them (`keys: user_id` or `keys: [user_id, "*.user_id"]`); the
 * validated form is always a non-empty list. An explicit empty list is refused: it would
 * silently mean "nothing".
 */
function oneOrMany<Out, In>(element: Schema<Out, In>, typeName: string, description: string): Schema<readonly Out[], In | readonly In[]> {
  const list = arrayOf(element, { minItems: 1 });
  const schema: Schema<readonly Out[], In | readonly In[]> = {
    typeName,
    description,
    structure: { kind: 'list', element },
    parse(input, at) {
      if (Array.isArray(input)) return list.parse(input, at);
      const one = element.parse(input, at);
      return one === INVALID ? INVALID : [one];
    },
  };
  return withJsonSchema(schema, {
    replace: (convert) => {
      const item = convert(element);
      return { anyOf: [item, { type: 'array', items: item, minItems: 1 }] };
    },
  });
}

// ─── Patterns ──────────────────────────────────────────────────────────────────────────────────

const patternMapping = refine(
  object({
    exact: optional(string({ minLength: 1 })),
    glob: optional(string({ minLength: 1 })),
    regex: optional(string({ minLength: 1 })),
    allow_backtracking: optional(boolean()),
  }),
  (raw, report): PatternSpec => {
    const given = (['exact', 'glob', 'regex'] as const).filter((key) => raw[key] !== undefined);
    if (given.length !== 1) {
      report([], given.length === 0 ? 'needs one of exact, glob or regex' : `must set only one of ${given.join(', ')}`);
      return { exact: '' };
    }
    if (raw.allow_backtracking !== undefined && raw.regex === undefined) report(['allow_backtracking'], 'only applies to regex');
    if (raw.regex !== undefined) {
      const problem = regexProblem(raw.regex, raw.allow_backtracking === true);
      if (problem) report(['regex'], problem);
      return raw.allow_backtracking === true ? { regex: raw.regex, allow_backtracking: true } : { regex: raw.regex };
    }
    // A glob without wildcards is an exact string: normalize so both spellings hash the same.
    if (raw.glob !== undefined) return hasGlobWildcard(raw.glob) ? { glob: raw.glob } : { exact: raw.glob };
    return { exact: raw.exact ?? '' };
  },
);

const REGEX_JSON: JsonObject = {
  type: 'object',
  properties: {
    regex: { type: 'string', minLength: 1, description: 'A JavaScript regular expression (`s` and `u` flags).' },
    allow_backtracking: { type: 'boolean', description: 'Accept a regex the backtracking check flags.' },
  },
  required: ['regex'],
  additionalProperties: false,
};

const PATTERN_JSON: JsonObject = {
  description: 'A string (exact, or a glob when it contains `*` or `?`), or {exact}, {glob} or {regex}.',
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'object', properties: { exact: { type: 'string', minLength: 1 } }, required: ['exact'], additionalProperties: false },
    { type: 'object', properties: { glob: { type: 'string', minLength: 1 } }, required: ['glob'], additionalProperties: false },
    REGEX_JSON,
  ],
};

export type PatternInput = string | { readonly exact?: string; readonly glob?: string; readonly regex?: string; readonly allow_backtracking?: boolean };

function pattern(): Schema<PatternSpec, PatternInput> {
  const schema: Schema<PatternSpec, PatternInput> = {
    typeName: 'pattern',
    description: '',
    structure: { kind: 'scalar' },
    parse(input, at) {
      if (typeof input === 'string') {
        if (input === '') {
          reportAt(at, 'must not be empty');
          return INVALID;
        }
        return hasGlobWildcard(input) ? { glob: input } : { exact: input };
      }
      if (isMapping(input)) return patternMapping.parse(input, at);
      reportAt(at, `must be a string or a mapping such as {regex: "..."}, not ${describeValue(input)}`);
      return INVALID;
    },
  };
  return withJsonSchema(schema, { replace: PATTERN_JSON, definition: 'pattern' });
}

function patterns(description: string): Schema<readonly PatternSpec[], PatternInput | readonly PatternInput[]> {
  return oneOrMany(pattern(), 'pattern or list of patterns', description);
}

/** A value detector: a built-in detector's name, or a custom regex. */
export type ValueSpec = DetectorName | { readonly regex: string; readonly allow_backtracking?: true };
export type ValueInput = string | { readonly regex: string; readonly allow_backtracking?: boolean };

const valueRegexMapping = refine(
  object({ regex: string({ minLength: 1 }), allow_backtracking: optional(boolean()) }),
  (raw, report): ValueSpec => {
    const problem = regexProblem(raw.regex, raw.allow_backtracking === true);
    if (problem) report(['regex'], problem);
    return raw.allow_backtracking === true ? { regex: raw.regex, allow_backtracking: true } : { regex: raw.regex };
  },
);

function valueDetector(): Schema<ValueSpec, ValueInput> {
  const schema: Schema<ValueSpec, ValueInput> = {
    typeName: 'detector',
    description: '',
    structure: { kind: 'scalar' },
    parse(input, at) {
      if (typeof input === 'string') {
        if ((DETECTOR_NAMES as readonly string[]).includes(input)) return input as DetectorName;
        const near = suggestClosest(input, DETECTOR_NAMES);
        const hint = near === undefined ? `built-in detectors: ${DETECTOR_NAMES.join(', ')}; use {regex: "..."} for your own` : `did you mean "${near}"?`;
        reportAt(at, `unknown detector "${input}" (${hint})`);
        return INVALID;
      }
      if (isMapping(input)) return valueRegexMapping.parse(input, at);
      reportAt(at, `must be a detector name or a mapping such as {regex: "..."}, not ${describeValue(input)}`);
      return INVALID;
    },
  };
  return withJsonSchema(schema, {
    replace: { description: 'A built-in detector, or {regex} (searched anywhere in the value).', anyOf: [{ enum: [...DETECTOR_NAMES] }, REGEX_JSON] },
    definition: 'detector',
  });
}

// ─── Tiers ─────────────────────────────────────────────────────────────────────────────────────

const logProbabilityFields = Object.fromEntries(
  LOG_SEVERITIES.map((severity) => [severity, optional(fraction(`Keep probability of \`${severity}\` records; default: \`default\`.`, { zero: true }))]),
) as Record<(typeof LOG_SEVERITIES)[number], Schema<number | undefined, number | undefined>>;

const tierSchema = refine(
  object(
    {
      trace_probability: fraction('Probability that a trace is kept (consistent across services, by trace id).', { zero: false }),
      log_probability: optional(
        object(
          {
            ...logProbabilityFields,
            default: optional(
              fraction('Keep probability of records with no severity, and of severities not listed; default: `trace_probability`.', { zero: true }),
            ),
          },
          { description: 'Keep probability of log records by severity; 0 drops them all, 1 keeps them all.' },
        ),
        {},
      ),
      logs_follow_traces: optional(
        flag('A log record whose trace is kept is kept too, whatever its severity, so a kept trace has its logs.'),
        true,
      ),
    },
    { description: 'A sampling tier.' },
  ),
  (raw): TierDefinition => {
    const fallback = raw.log_probability.default ?? raw.trace_probability;
    const bySeverity = Object.fromEntries(LOG_SEVERITIES.map((severity) => [severity, raw.log_probability[severity] ?? fallback]));
    return {
      trace_probability: raw.trace_probability,
      log_probability: { ...bySeverity, default: fallback } as TierDefinition['log_probability'],
      logs_follow_traces: raw.logs_follow_traces,
    };
  },
);

const NAME_KEYS = { regex: NAME, message: `is not a valid name: ${NAME_MESSAGE}` };

const tiersSchema = withJsonSchema(
  record(tierSchema, {
    keyPattern: NAME_KEYS,
    description: `Sampling tiers by name, in addition to the built-in ${Object.keys(BUILTIN_TIERS)
      .map((tier) => `\`${tier}\``)
      .join(', ')} (which a file may redefine).`,
  }),
  { extend: { propertyNames: { pattern: NAME.source } } },
);

// ─── Teams ─────────────────────────────────────────────────────────────────────────────────────

const conjunctionSchema = withJsonSchema(
  refine(
    record(patterns('')),
    (raw, report) => {
      if (Object.keys(raw).length === 0) report([], 'must name at least one resource attribute (a team without match is the catch-all)');
      return raw;
    },
  ),
  { extend: { minProperties: 1 } },
);

const metricBudgetSchema = refine(
  object(
    {
      max_active_series: optional(positiveInteger('Distinct series seen within `active_window`, across all metrics of the team.')),
      default_max_series_per_metric: optional(positiveInteger('Active series per metric, for metrics `per_metric` does not name.')),
      per_metric: optional(
        arrayOf(
          object({
            metric: patterns('Metric names this limit applies to; the first entry that matches a metric wins.'),
            max_active_series: positiveInteger('Active series per matching metric.'),
          }),
          { description: 'Limits for particular metrics.' },
        ),
        [],
      ),
      per_label: optional(
        arrayOf(
          object({
            label: text('A point attribute key.', 1),
            max_distinct_values: positiveInteger('Distinct values of the label per metric, counted over the last one to two label windows (the shortest `active_window` among the budgets). Once reached, new series carrying a value not seen in that time are refused; values already seen still pass.'),
          }),
          { description: 'Caps on distinct values of particular labels.' },
        ),
        [],
      ),
      exempt_metrics: optional(patterns('Metrics the budget never limits: their series are neither tracked nor counted against it.')),
      active_window: optional(window('A series is active while it was seen within this window; older ones free their slot.'), '1h'),
      warning_thresholds: optional(
        arrayOf(fraction('A fraction of a limit.', { zero: false }), {
          description: 'Fractions of each limit at which a warning is recorded, ascending.',
        }),
        [0.8, 0.95],
      ),
      action: optional(
        choice(
          METRIC_BUDGET_ACTIONS,
          'What happens to a new series over a limit: `drop` it, fold it into the overflow series (`otel.metric.overflow=true`), or `strip_label` (remove the exploding label and re-aggregate). Existing series always keep flowing.',
        ),
        'overflow',
      ),
      mode: optional(choice(POLICY_MODES, '`audit` records what the budget would do without doing it. Default: the top-level `mode`.')),
    },
    { description: 'Cardinality budget of the team’s metrics.' },
  ),
  (raw, report) => {
    raw.warning_thresholds.forEach((threshold, index) => {
      if (index > 0 && threshold <= raw.warning_thresholds[index - 1]) report(['warning_thresholds', index], 'must be greater than the threshold before it');
    });
    raw.per_label.forEach((entry, index) => {
      const first = raw.per_label.findIndex((other) => other.label === entry.label);
      if (first < index) report(['per_label', index, 'label'], `duplicate label "${entry.label}" (per_label[${first}] already limits it)`);
    });
    return raw;
  },
);

const budgetsSchema = object(
  {
    metrics: optional(metricBudgetSchema),
    max_spans_per_second: optional(positiveRate('Span volume the sampler keeps the team under (adapting its probability); unset: no limit.')),
    max_log_records_per_second: optional(positiveRate('Log record volume the sampler keeps the team under; unset: no limit.')),
    max_bytes_per_day: optional(bytes('Bytes forwarded per day (e.g. `50GiB`); unset: no limit.')),
  },
  { description: 'The team’s budgets; anything left out is unlimited.' },
);

const teamSchema = object(
  {
    name: name('Unique team name (used in the budget API, metrics and reports).'),
    match: optional(
      oneOrMany(
        conjunctionSchema,
        'map of resource attribute to pattern(s), or a list of them',
        'Resource attributes that attribute traffic to this team. Each entry is a map of attribute key to pattern(s), all of which must match; the team matches if any entry does. Leave out for the catch-all team, which must be the last.',
      ),
    ),
    tier: optional(name('Sampling tier: a built-in tier or one from `tiers`.'), DEFAULT_TIER),
    budgets: optional(budgetsSchema, {}),
  },
  { description: 'A team.' },
);

// ─── Attribute policies ────────────────────────────────────────────────────────────────────────

const ALL_SIGNALS: readonly (typeof SIGNAL_NAMES)[number][] = [...SIGNAL_NAMES];

const policyFields = object(
  {
    name: name('Unique policy name (in reports, metrics and partial-success messages).'),
    signals: optional(uniqueList(choice(SIGNAL_NAMES, 'A signal.'), 'Signals the policy applies to.'), ALL_SIGNALS),
    targets: optional(
      uniqueList(choice(POLICY_TARGETS, 'A target.'), 'Where to look: `resource` attributes, item `attributes` (points, spans, events, links, log records, scopes), log `body`.'),
      ['resource', 'attributes'],
    ),
    teams: optional(uniqueList(name('A team name.'), 'Teams the policy applies to; unset: every team.')),
    services: optional(patterns('`service.name` values the policy applies to; unset: every service.')),
    keys: optional(patterns('Attribute keys the policy applies to; unset: any key (then `values` decides).')),
    values: optional(
      oneOrMany(
        valueDetector(),
        'detector or list of detectors',
        `Values the policy applies to: built-in detectors (${DETECTOR_NAMES.map((d) => `\`${d}\``).join(', ')}) or {regex}; unset: any value.`,
      ),
    ),
    action: choice(
      ATTRIBUTE_ACTIONS,
      '`drop` the attribute, `hash` its value (keyed HMAC-SHA256), `redact` it, `truncate` it, or `reject` the whole point, span or log record (reported as partial success).',
    ),
    replacement: optional(text(`For \`redact\`: the value written instead; default \`${DEFAULT_REPLACEMENT}\`.`)),
    max_length: optional(positiveInteger('For `truncate` (required there): the longest value kept, in UTF-8 bytes.')),
    mode: optional(choice(POLICY_MODES, '`audit` counts and reports what the policy would do without changing anything. Default: the top-level `mode`.')),
  },
  { description: 'An attribute policy. For each attribute, the first policy in file order that matches it decides.' },
);

const policySchema = refine(policyFields, (raw, report) => {
  const never = 'so the policy can never apply';
  if (raw.signals.length === 0) report(['signals'], `is empty, ${never}; leave it out to apply to every signal`);
  if (raw.targets.length === 0) report(['targets'], `is empty, ${never}; leave it out for resource and attributes`);
  if (raw.teams?.length === 0) report(['teams'], `is empty, ${never}; leave it out to apply to every team`);
  if (raw.keys === undefined && raw.values === undefined) report([], 'needs keys, values or both (without either it would match every attribute)');
  if (raw.targets.includes('body')) {
    if (raw.values === undefined) report(['targets'], '"body" needs values: a log body has no key, so only value detectors can match it');
    if (!raw.signals.includes('logs')) report(['targets'], `"body" exists only on logs, which signals leaves out, ${never} there`);
    if (raw.targets.length === 1 && raw.keys !== undefined) report(['keys'], 'can never match: the only target is "body", and a log body has no key');
  }
  if (raw.action === 'truncate' && raw.max_length === undefined) report(['max_length'], 'is required when action is truncate');
  if (raw.action !== 'truncate' && raw.max_length !== undefined) report(['max_length'], `only applies to action truncate, not ${raw.action}`);
  if (raw.action !== 'redact' && raw.replacement !== undefined) report(['replacement'], `only applies to action redact, not ${raw.action}`);
  return raw.action === 'redact' ? { ...raw, replacement: raw.replacement ?? DEFAULT_REPLACEMENT } : raw;
});

// ─── Sampling rules ────────────────────────────────────────────────────────────────────────────

/** A span duration threshold: the toolkit's duration (ms, fractions allowed), above zero. */
function minimumDuration(description: string): Schema<number, string | number> {
  const positive = refine(duration({ description }), (ms, report) => {
    if (ms === 0) report([], 'must be greater than 0 (every span lasts at least 0: leave the condition out)');
    return ms;
  });
  return withJsonSchema(positive, { replace: { anyOf: [{ type: 'number', exclusiveMinimum: 0 }, DURATION_TEXT_JSON] } });
}

function finiteNumber(description: string): Schema<number> {
  return withJsonSchema(
    scalar<number>({
      typeName: 'number',
      description,
      takesText: false,
      check: (input) => (typeof input === 'number' && Number.isFinite(input) ? accept(input) : reject('must be a number')),
    }),
    { replace: { type: 'number' } },
  );
}

/** The value of `equals` / `not_equals`: an attribute value of one of the kinds OTLP has a scalar for. */
function attributeValue(description: string): Schema<string | number | boolean> {
  return withJsonSchema(
    scalar<string | number | boolean>({
      typeName: 'string, number or boolean',
      description,
      takesText: false,
      check: (input) =>
        typeof input === 'string' || typeof input === 'boolean' || (typeof input === 'number' && Number.isFinite(input))
          ? accept(input)
          : reject(`must be a string, a number or true/false, not ${describeValue(input)}`),
    }),
    { replace: { type: ['string', 'number', 'boolean'] } },
  );
}

const attributeConditionSchema = withJsonSchema(
  refine(
    object(
      {
        key: text('Attribute key of the span or log record (exact; resource and scope attributes are not looked at).', 1),
        equals: optional(attributeValue('The attribute has this value, of the same kind (a number equals int and double attributes).')),
        not_equals: optional(attributeValue('The attribute does not have this value: absent, of another kind, or different.')),
        gt: optional(finiteNumber('The attribute is a number (int or double) greater than this.')),
        gte: optional(finiteNumber('The attribute is a number at least this (e.g. `http.response.status_code` `gte: 500`).')),
        lt: optional(finiteNumber('The attribute is a number less than this.')),
        lte: optional(finiteNumber('The attribute is a number at most this.')),
        matches: optional(patterns('The attribute is a string matching one of these patterns.')),
        exists: optional(flag('`true`: the attribute is present (any value); `false`: it is absent.')),
      },
      { description: 'A condition on one attribute: `key` and exactly one operator.' },
    ),
    (raw, report) => {
      const given = ATTRIBUTE_CONDITION_OPS.filter((op) => raw[op] !== undefined);
      if (given.length === 0) report([], `needs one operator: ${ATTRIBUTE_CONDITION_OPS.join(', ')}`);
      if (given.length > 1) report([], `must set only one of ${given.join(', ')} (for a range, write two conditions: all of them must hold)`);
      return raw;
    },
  ),
  { extend: { minProperties: 2, maxProperties: 2 } },
);

const whenSchema = object(
  {
    status: optional(choice(SPAN_STATUSES, 'Spans only: `error` holds for spans whose status code is ERROR.')),
    min_duration: optional(minimumDuration('Spans only: the span lasted at least this long (end time − start time), e.g. `500ms`.')),
    span_name: optional(patterns('Spans only: the span name matches one of these patterns.')),
    min_severity: optional(
      choice(LOG_SEVERITIES, 'Log records only: the severity number is in this severity’s range or above (`error`: 17 and up); records without a severity never hold.'),
    ),
    attributes: optional(
      withJsonSchema(arrayOf(attributeConditionSchema, { minItems: 1, description: 'Conditions on attributes of the span or log record; all must hold.' }), {
        extend: { minItems: 1 },
      }),
    ),
  },
  { description: 'Conditions, all of which must hold; left out: none (the rule takes every item of its signals and teams).' },
);

const SPAN_CONDITIONS = ['status', 'min_duration', 'span_name'] as const;
const ALL_SAMPLING_SIGNALS: readonly (typeof SAMPLING_SIGNALS)[number][] = [...SAMPLING_SIGNALS];

const samplingRuleFields = object(
  {
    name: name('Unique rule name (in reports and metrics).'),
    signals: optional(uniqueList(choice(SAMPLING_SIGNALS, 'A signal.'), 'Signals the rule applies to.'), ALL_SAMPLING_SIGNALS),
    teams: optional(uniqueList(name('A team name.'), 'Teams the rule applies to; unset: every team.')),
    when: optional(whenSchema, {}),
    action: choice(
      SAMPLING_ACTIONS,
      '`keep` what matches whatever the tier probability and budget, `drop` it, or `sample` it with the team’s tier probability, lowered to stay within its budget.',
    ),
  },
  { description: 'A sampling rule. For each span and log record the first rule in order that matches decides.' },
);

/**
 * A rule's conditions must be ones its signals can have: a span condition never holds for a
 * log record and `min_severity` never holds for a span, so a rule that asks for one on the
 * other signal silently never matches there. Signals are put in their canonical order, so
 * `[logs, traces]` and `[traces, logs]` hash the same.
 */
const samplingRuleSchema = refine(samplingRuleFields, (raw, report) => {
  if (raw.signals.length === 0) report(['signals'], 'is empty, so the rule can never match; leave it out to apply to traces and logs');
  if (raw.teams?.length === 0) report(['teams'], 'is empty, so the rule can never match; leave it out to apply to every team');
  const traces = raw.signals.includes('traces');
  const logs = raw.signals.includes('logs');
  for (const condition of SPAN_CONDITIONS) {
    if (raw.when[condition] === undefined || !logs) continue;
    report(
      ['when', condition],
      traces
        ? `never matches logs: ${condition} is a span condition, which no log record satisfies; set signals: [traces]`
        : `can never match: ${condition} is a span condition, which no log record satisfies, and signals is [logs]`,
    );
  }
  if (raw.when.min_severity !== undefined && traces) {
    report(
      ['when', 'min_severity'],
      logs
        ? 'never matches spans: min_severity is a log record condition, which no span satisfies; set signals: [logs]'
        : 'can never match: min_severity is a log record condition, which no span satisfies, and signals is [traces]',
    );
  }
  return { ...raw, signals: SAMPLING_SIGNALS.filter((signal) => raw.signals.includes(signal)) };
});

const samplingRulesList = arrayOf(samplingRuleSchema, {
  description:
    'Sampling rules in order: for each span and log record the first rule that matches decides. Must end with a catch-all (no `when`, `teams` or `signals`). Left out: keep error spans and error logs, sample the rest (docs/rules.md, “Sampling rules”).',
});

/** What a file without `sampling.rules` gets, parsed once: a default that does not validate is a bug, caught at load. */
const defaultSamplingRules = (() => {
  const result = validate(samplingRulesList, DEFAULT_SAMPLING_RULES);
  if (!result.ok) throw new Error(`invalid default sampling rules: ${result.errors.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  return result.value;
})();

const samplingSchema = refine(
  object({ rules: optional(samplingRulesList) }, { description: 'Which spans and log records are kept, dropped or sampled by tier.' }),
  (raw) => ({ rules: raw.rules ?? defaultSamplingRules }),
);

// ─── The file ──────────────────────────────────────────────────────────────────────────────────

const versionSchema = withJsonSchema(
  scalar<typeof RULES_VERSION>({
    typeName: `\`${RULES_VERSION}\``,
    description: 'Version of the rules format.',
    takesText: false,
    check: (input) => {
      if (input === RULES_VERSION) return accept(RULES_VERSION);
      if (typeof input === 'number') return reject(`unsupported rules version ${input}: this Tollgate reads version ${RULES_VERSION}`);
      return reject(`must be ${RULES_VERSION}`);
    },
  }),
  { replace: { const: RULES_VERSION } },
);

const tiersField = optional(tiersSchema, {});
const teamsField = optional(
  arrayOf(teamSchema, {
    description: 'Teams in order: a resource belongs to the first team whose match it satisfies, else to the default team.',
  }),
  [],
);
const policiesField = optional(arrayOf(policySchema, { description: 'Attribute policies in order: for each attribute the first that matches decides.' }), []);
const samplingField = optional(samplingSchema, {});

const rulesFields = object({
  version: versionSchema,
  mode: optional(
    choice(POLICY_MODES, '`enforce` applies policies and budgets; `audit` only counts and reports what they would do. Policies and budgets without their own `mode` inherit it.'),
    'enforce',
  ),
  tiers: tiersField,
  teams: teamsField,
  attribute_policies: policiesField,
  sampling: samplingField,
});

/** The file as validated field by field, before cross-references are checked and modes resolved. */
export type RawRulesDocument = Infer<typeof rulesFields>;
export type RawTeam = RawRulesDocument['teams'][number];
export type RawAttributePolicy = RawRulesDocument['attribute_policies'][number];
export type RawSamplingRule = RawRulesDocument['sampling']['rules'][number];
export type RawAttributeCondition = NonNullable<RawSamplingRule['when']['attributes']>[number];

type RawMetricBudget = NonNullable<RawTeam['budgets']['metrics']>;
type ResolvedMetricBudget = Simplify<Omit<RawMetricBudget, 'mode'> & { readonly mode: PolicyMode }>;
type ResolvedBudgets = Simplify<Omit<RawTeam['budgets'], 'metrics'> & { readonly metrics?: ResolvedMetricBudget }>;

/** Policies and budgets without their own mode take the file's, so the document says what runs. */
function withResolvedModes(raw: RawRulesDocument) {
  const mode = raw.mode;
  return {
    ...raw,
    teams: raw.teams.map((team) => {
      const { metrics, ...unlimited } = team.budgets;
      const budgets: ResolvedBudgets = metrics === undefined ? unlimited : { ...unlimited, metrics: { ...metrics, mode: metrics.mode ?? mode } };
      return { ...team, budgets };
    }),
    attribute_policies: raw.attribute_policies.map((policy) => ({ ...policy, mode: policy.mode ?? mode })),
  };
}

/** The sections the whole-file checks read; a section is absent when it has errors of its own. */
export type RulesSections = Partial<Pick<RawRulesDocument, 'tiers' | 'teams' | 'attribute_policies' | 'sampling'>>;

/**
 * The sections of a document that failed validation which are valid on their own, so the
 * whole-file checks can still run on them: a typo in one policy should not hide an unknown
 * tier in a team. Their issues were reported already; the scratch cursor drops the repeats.
 */
function validSections(input: unknown, at: Cursor): RulesSections {
  if (!isMapping(input)) return {};
  const section = <T>(key: string, schema: Schema<T, unknown>): T | undefined => {
    const scratch: Cursor = { segments: [...at.segments, key], issues: [] };
    const value = schema.parse(input[key], scratch);
    return value === INVALID || scratch.issues.length > 0 ? undefined : value;
  };
  return {
    tiers: section('tiers', tiersField),
    teams: section('teams', teamsField),
    attribute_policies: section('attribute_policies', policiesField),
    sampling: section('sampling', samplingField),
  };
}

type ResolvedRules = ReturnType<typeof withResolvedModes>;

/**
 * The schema of a rules file (version 1): the fields, then the whole-file checks (names that
 * refer to other entries, reachability) and mode inheritance. Like the toolkit's `refine`, but
 * the whole-file checks also run on the valid sections of an invalid file.
 */
export const rulesSchema: Schema<ResolvedRules, unknown> = {
  typeName: rulesFields.typeName,
  description: 'A Tollgate rules file.',
  structure: { kind: 'refined', inner: rulesFields },
  parse(input, at) {
    const report: ReportIssue = (relativePath, message) => {
      const segments = [...at.segments, ...relativePath];
      at.issues.push({ path: formatPath(segments), message, segments });
    };
    const issuesBefore = at.issues.length;
    const raw = rulesFields.parse(input, at);
    if (raw === INVALID) {
      checkRulesDocument(validSections(input, at), report);
      return INVALID;
    }
    checkRulesDocument(raw, report);
    return at.issues.length > issuesBefore ? INVALID : withResolvedModes(raw);
  },
};

/** A validated, normalized, deeply frozen rules document. */
export type RulesDocument = Infer<typeof rulesSchema>;
export type RulesTeam = RulesDocument['teams'][number];
export type RulesAttributePolicy = RulesDocument['attribute_policies'][number];
export type RulesSamplingRule = RulesDocument['sampling']['rules'][number];
export type RulesAttributeCondition = NonNullable<RulesSamplingRule['when']['attributes']>[number];
export type MetricBudgetDocument = NonNullable<RulesTeam['budgets']['metrics']>;
