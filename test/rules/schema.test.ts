import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from '../../collector/config/validate.js';
import { rulesSchema } from '../../rules/schema.js';
import { compile, issueMessages, rulesIssues, utf8, yaml } from './support.js';

const GiB = 2 ** 30;

test('the smallest valid file: version only, with an implicit default team and the built-in tiers', () => {
  const rules = compile('version: 1\n');
  assert.equal(rules.version, 1);
  assert.equal(rules.mode, 'enforce');
  assert.deepEqual(
    rules.teams.map((team) => [team.name, team.tier, team.index]),
    [['default', 'standard', 0]],
  );
  assert.equal(rules.defaultTeam, 0);
  assert.deepEqual([...rules.tiers.keys()], ['critical', 'standard', 'economy']);
  assert.deepEqual(rules.attributePolicies, []);
  assert.deepEqual(rules.document, {
    version: 1,
    mode: 'enforce',
    tiers: {},
    teams: [],
    attribute_policies: [],
    sampling: {
      rules: [
        { name: 'keep-errors', signals: ['traces'], when: { status: 'error' }, action: 'keep' },
        { name: 'keep-error-logs', signals: ['logs'], when: { min_severity: 'error' }, action: 'keep' },
        { name: 'sample-the-rest', signals: ['traces', 'logs'], when: {}, action: 'sample' },
      ],
    },
  });
});

const FULL = yaml(
  'version: 1',
  'mode: enforce',
  'tiers:',
  '  premium:',
  '    trace_probability: 0.5',
  '    log_probability: { debug: 0.1, default: 0.4, error: 1 }',
  '  thin:',
  '    trace_probability: 0.01',
  '    logs_follow_traces: false',
  'teams:',
  '  - name: payments',
  '    match:',
  '      - service.namespace: payments',
  '      - service.name: ["pay-*", billing]',
  '        k8s.namespace.name: {regex: "pay-(prod|stage)"}',
  '    tier: premium',
  '    budgets:',
  '      metrics:',
  '        max_active_series: 1000',
  '        default_max_series_per_metric: 100',
  '        per_metric: [{ metric: "http.*", max_active_series: 500 }]',
  '        per_label: [{ label: http.route, max_distinct_values: 50 }]',
  '        exempt_metrics: up',
  '        active_window: 30m',
  '        warning_thresholds: [0.5, 0.9]',
  '        action: strip_label',
  '        mode: audit',
  '      max_spans_per_second: 250.5',
  '      max_log_records_per_second: 1000',
  '      max_bytes_per_day: 2GiB',
  '  - name: rest',
  '    tier: thin',
  'attribute_policies:',
  '  - name: ids',
  '    signals: [metrics]',
  '    targets: [attributes]',
  '    keys: [user_id, "*.user_id"]',
  '    action: drop',
  '  - name: secrets',
  '    signals: [traces, logs]',
  '    targets: [attributes, body]',
  '    teams: [payments]',
  '    services: "pay-*"',
  '    values: [email, {regex: "sk_live_[0-9a-z]{8,}"}]',
  '    action: redact',
  '    mode: audit',
  '  - name: long',
  '    keys: "*"',
  '    action: truncate',
  '    max_length: 100',
);

test('a full document compiles: teams, budgets, tiers and policies', () => {
  const rules = compile(FULL);
  assert.deepEqual(
    rules.teams.map((team) => team.name),
    ['payments', 'rest'],
  );
  assert.equal(rules.defaultTeam, 1, 'the last team has no match, so it is the default team');

  const payments = rules.teams[0];
  assert.equal(payments.tier, 'premium');
  assert.equal(payments.match.length, 2);
  assert.deepEqual(
    payments.match.map((conjunction) => conjunction.attributes.map((a) => a.key)),
    [['service.namespace'], ['service.name', 'k8s.namespace.name']],
  );
  const metrics = payments.budgets.metrics;
  assert.ok(metrics);
  assert.equal(metrics.maxActiveSeries, 1000);
  assert.equal(metrics.defaultMaxSeriesPerMetric, 100);
  assert.equal(metrics.perMetric[0].maxActiveSeries, 500);
  assert.ok(metrics.perMetric[0].metric.test('http.server.duration'));
  assert.ok(!metrics.perMetric[0].metric.test('rpc.server.duration'));
  assert.deepEqual(metrics.perLabel, [{ label: 'http.route', maxDistinctValues: 50 }]);
  assert.ok(metrics.exemptMetrics?.test('up') && !metrics.exemptMetrics.test('upx'));
  assert.equal(metrics.activeWindowMs, 30 * 60_000);
  assert.deepEqual(metrics.warningThresholds, [0.5, 0.9]);
  assert.equal(metrics.action, 'strip_label');
  assert.equal(metrics.mode, 'audit');
  assert.equal(payments.budgets.maxSpansPerSecond, 250.5);
  assert.equal(payments.budgets.maxLogRecordsPerSecond, 1000);
  assert.equal(payments.budgets.maxBytesPerDay, 2 * GiB);

  const rest = rules.teams[1];
  assert.deepEqual(rest.budgets, { metrics: undefined, maxSpansPerSecond: undefined, maxLogRecordsPerSecond: undefined, maxBytesPerDay: undefined });
  assert.deepEqual(rest.match, [{ attributes: [] }], 'the catch-all is one empty conjunction: it matches everything');

  // Tiers: severities left out take `default`, `default` left out takes trace_probability.
  assert.deepEqual(rules.tiers.get('premium'), {
    name: 'premium',
    traceProbability: 0.5,
    logProbability: { trace: 0.4, debug: 0.1, info: 0.4, warn: 0.4, error: 1, fatal: 0.4, default: 0.4 },
    logsFollowTraces: true,
  });
  assert.deepEqual(rules.tiers.get('thin')?.logProbability, { trace: 0.01, debug: 0.01, info: 0.01, warn: 0.01, error: 0.01, fatal: 0.01, default: 0.01 });
  assert.equal(rules.tiers.get('thin')?.logsFollowTraces, false);
  assert.equal(rules.tiers.get('critical')?.traceProbability, 1);

  const [ids, secrets, long] = rules.attributePolicies;
  assert.deepEqual([ids.name, ids.index, [...ids.signals], ids.targets, ids.teams, ids.services, ids.action, ids.mode], [
    'ids',
    0,
    ['metrics'],
    { resource: false, attributes: true, body: false },
    undefined,
    undefined,
    'drop',
    'enforce',
  ]);
  assert.ok(ids.keys?.test('user_id') && ids.keys.test('app.user_id') && !ids.keys.test('user_ids'));
  assert.deepEqual(ids.detectors, []);

  assert.deepEqual([...secrets.signals], ['traces', 'logs']);
  assert.deepEqual(secrets.targets, { resource: false, attributes: true, body: true });
  assert.deepEqual([...(secrets.teams ?? [])], [0]);
  assert.ok(secrets.services?.test('pay-api') && !secrets.services.test('shop'));
  assert.equal(secrets.keys, undefined);
  assert.deepEqual(
    secrets.detectors.map((d) => d.name),
    ['email', 'regex:sk_live_[0-9a-z]{8,}'],
  );
  const token = utf8('charged with key sk_live_abcdef123 today');
  assert.ok(secrets.detectors[1].test(token, 0, token.length), 'a value regex searches the value');
  assert.equal(secrets.replacement, '[REDACTED]');
  assert.equal(secrets.mode, 'audit');

  assert.deepEqual([...long.signals], ['metrics', 'traces', 'logs']);
  assert.deepEqual(long.targets, { resource: true, attributes: true, body: false });
  assert.equal(long.action, 'truncate');
  assert.equal(long.maxLength, 100);
});

test('the document is normalized: patterns become lists of {exact}/{glob}/{regex}, modes are resolved', () => {
  const rules = compile(
    yaml(
      'version: 1',
      'mode: audit',
      'teams:',
      '  - name: a',
      '    match: { service.name: [x, "y*", {glob: z}, {exact: "w*"}, {regex: "v.+"}] }',
      '    budgets: { metrics: { max_active_series: 10 } }',
      'attribute_policies:',
      '  - { name: p, keys: k, action: redact, replacement: "#" }',
    ),
  );
  const document = rules.document as { teams: unknown[]; attribute_policies: unknown[] };
  assert.deepEqual(document.teams[0], {
    name: 'a',
    match: [{ 'service.name': [{ exact: 'x' }, { glob: 'y*' }, { exact: 'z' }, { exact: 'w*' }, { regex: 'v.+' }] }],
    tier: 'standard',
    budgets: {
      metrics: {
        max_active_series: 10,
        per_metric: [],
        per_label: [],
        active_window: 3_600_000,
        warning_thresholds: [0.8, 0.95],
        action: 'overflow',
        mode: 'audit',
      },
    },
  });
  assert.deepEqual(document.attribute_policies[0], {
    name: 'p',
    signals: ['metrics', 'traces', 'logs'],
    targets: ['resource', 'attributes'],
    keys: [{ exact: 'k' }],
    action: 'redact',
    replacement: '#',
    mode: 'audit',
  });
  assert.ok(rules.teams[0].match[0].attributes[0].value.test('w*'), '{exact: "w*"} is a literal star');
  assert.ok(!rules.teams[0].match[0].attributes[0].value.test('ww'));
});

test('the validated document is valid input again and means the same', () => {
  const rules = compile(FULL);
  const again = compile(JSON.stringify(rules.document));
  assert.deepEqual(again.document, rules.document);
  assert.equal(again.hash, rules.hash);
});

test('validation through the toolkit: the document is deeply frozen', () => {
  const result = validate(rulesSchema, { version: 1, teams: [{ name: 'a', match: { k: 'v' } }] });
  assert.ok(result.ok);
  assert.ok(Object.isFrozen(result.value) && Object.isFrozen(result.value.teams[0]) && Object.isFrozen(result.value.teams[0].match));
});

test('every issue comes with its key path and line:column, typos with the nearest key', () => {
  assert.deepEqual(
    rulesIssues(
      yaml(
        'version: 1', //                          1
        'mdoe: audit', //                         2
        'teams:', //                              3
        '  - name: a', //                         4
        '    teir: standard', //                  5
        '    match: { service.name: x }', //      6
        '    budgets:', //                        7
        '      metrics:', //                      8
        '        max_active_serie: 10', //        9
        'attribute_policies:', //                 10
        '  - name: p', //                         11
        '    key: user_id', //                    12
        '    action: drop', //                    13
      ),
    ),
    [
      '2:7 mdoe: unknown key "mdoe" (did you mean "mode"?)',
      '5:11 teams[0].teir: unknown key "teir" (did you mean "tier"?)',
      '9:27 teams[0].budgets.metrics.max_active_serie: unknown key "max_active_serie" (did you mean "max_active_series"?)',
      // The policy's own checks (it has neither keys nor values) wait until its keys are right.
      '12:10 attribute_policies[0].key: unknown key "key" (did you mean "keys"?)',
    ],
  );
});

test('version is required and must be 1', () => {
  assert.deepEqual(rulesIssues(''), ['-:- version: is required']);
  assert.deepEqual(rulesIssues('version: 2\n'), ['1:10 version: unsupported rules version 2: this Tollgate reads version 1']);
  assert.deepEqual(rulesIssues('version: one\n'), ['1:10 version: must be 1']);
});

test('names: unknown tier, team and detector with suggestions; duplicates; the reserved default name', () => {
  const text = yaml(
    'version: 1',
    'tiers: { premium: { trace_probability: 0.5 } }',
    'teams:',
    '  - { name: payments, match: { a: b }, tier: premum }',
    '  - { name: payments, match: { a: c }, tier: gold }',
    '  - { name: default, match: { a: d } }',
    'attribute_policies:',
    '  - { name: p, teams: [paymnts], keys: k, action: drop }',
    '  - { name: p, keys: k2, values: [emial], action: drop }',
    '  - { name: q, keys: k3, values: [phone], action: drop }',
  );
  // Issues come in source order; the team checks run although a policy has errors of its own.
  assert.deepEqual(issueMessages(text), [
    'teams[0].tier: unknown tier "premum" (did you mean "premium"?)',
    'teams[1].name: duplicate team name "payments" (teams[0] already uses it)',
    'teams[1].tier: unknown tier "gold" (known tiers: critical, standard, economy, premium)',
    'teams[2].name: "default" is the name of the implicit default team; rename this team, or make it the default by removing its match and putting it last',
    'attribute_policies[1].values[0]: unknown detector "emial" (did you mean "email"?)',
    'attribute_policies[2].values[0]: unknown detector "phone" (built-in detectors: uuid, email, ipv4, ipv6, hex, credit_card, jwt; use {regex: "..."} for your own)',
  ]);
  // The policy checks read every policy, so they run once each policy is valid on its own.
  const fixed = text.replace('[emial]', '[email]').replace('values: [phone], ', '');
  assert.deepEqual(issueMessages(fixed).filter((line) => line.startsWith('attribute_policies')), [
    'attribute_policies[0].teams[0]: unknown team "paymnts" (did you mean "payments"?)',
    'attribute_policies[1].name: duplicate policy name "p" (attribute_policies[0] already uses it)',
  ]);
});

test('policy shape: action-specific keys, targets and signals that cannot meet, empty lists', () => {
  const issues = issueMessages(
    yaml(
      'version: 1',
      'attribute_policies:',
      '  - { name: a, keys: k, action: truncate }',
      '  - { name: b, keys: k, action: drop, max_length: 10, replacement: x }',
      '  - { name: c, keys: k, targets: [body], action: redact }',
      '  - { name: d, values: email, targets: [attributes, body], signals: [traces], action: redact }',
      '  - { name: e, keys: k, signals: [], targets: [], teams: [], action: drop }',
      '  - { name: f, keys: [], action: drop }',
      '  - { name: g, keys: k, signals: [logs, logs], action: hash }',
      '  - { name: h, keys: k, action: explode }',
    ),
  );
  assert.deepEqual(issues, [
    'attribute_policies[0].max_length: is required when action is truncate',
    'attribute_policies[1].max_length: only applies to action truncate, not drop',
    'attribute_policies[1].replacement: only applies to action redact, not drop',
    'attribute_policies[2].keys: can never match: the only target is "body", and a log body has no key',
    'attribute_policies[2].targets: "body" needs values: a log body has no key, so only value detectors can match it',
    'attribute_policies[3].targets: "body" exists only on logs, which signals leaves out, so the policy can never apply there',
    'attribute_policies[4].signals: is empty, so the policy can never apply; leave it out to apply to every signal',
    'attribute_policies[4].targets: is empty, so the policy can never apply; leave it out for resource and attributes',
    'attribute_policies[4].teams: is empty, so the policy can never apply; leave it out to apply to every team',
    'attribute_policies[5].keys: must have at least 1 item',
    'attribute_policies[6].signals[1]: duplicate "logs"',
    'attribute_policies[7].action: must be one of "drop", "hash", "redact", "truncate", "reject"',
  ]);
});

test('patterns: one kind per mapping, allow_backtracking only on regexes, no empty strings, no other types', () => {
  assert.deepEqual(
    issueMessages(
      yaml(
        'version: 1',
        'attribute_policies:',
        '  - { name: a, keys: [{exact: x, glob: "y*"}], action: drop }',
        '  - { name: b, keys: [{glob: "y*", allow_backtracking: true}], action: drop }',
        '  - { name: c, keys: [""], action: drop }',
        '  - { name: d, keys: [{}], action: drop }',
        '  - { name: e, keys: [5], action: drop }',
        '  - { name: f, keys: [{regx: "a"}], action: drop }',
        '  - { name: g, keys: [{regex: "(unclosed"}], action: drop }',
      ),
    ),
    [
      'attribute_policies[0].keys[0]: must set only one of exact, glob',
      'attribute_policies[1].keys[0].allow_backtracking: only applies to regex',
      'attribute_policies[2].keys[0]: must not be empty',
      'attribute_policies[3].keys[0]: needs one of exact, glob or regex',
      'attribute_policies[4].keys[0]: must be a string or a mapping such as {regex: "..."}, not a number',
      'attribute_policies[5].keys[0].regx: unknown key "regx" (did you mean "regex"?)',
      'attribute_policies[6].keys[0].regex: is not a valid regular expression: Unterminated group',
    ],
  );
});

test('teams and budgets: empty matchers, probability and threshold ranges, duplicate labels, byte sizes', () => {
  assert.deepEqual(
    issueMessages(
      yaml(
        'version: 1',
        'tiers:',
        '  zero: { trace_probability: 0 }',
        '  big: { trace_probability: 1, log_probability: { info: 1.5 } }',
        '  "bad name": { trace_probability: 1 }',
        'teams:',
        '  - name: a',
        '    match: [{}]',
        '    budgets:',
        '      metrics:',
        '        max_active_series: 0',
        '        warning_thresholds: [0.9, 0.8]',
        '        per_label: [{ label: x, max_distinct_values: 5 }, { label: x, max_distinct_values: 6 }]',
        '        active_window: 10ms',
        '      max_bytes_per_day: lots',
        '      max_spans_per_second: 0',
        '  - name: "b c"',
      ),
    ),
    [
      'tiers.zero.trace_probability: must be a number greater than 0 and at most 1',
      'tiers.big.log_probability.info: must be a number from 0 to 1',
      'tiers["bad name"]: is not a valid name: must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'teams[0].match[0]: must name at least one resource attribute (a team without match is the catch-all)',
      'teams[0].budgets.metrics.max_active_series: must be a positive integer',
      'teams[0].budgets.metrics.active_window: must be at least 1s',
      'teams[0].budgets.max_bytes_per_day: must be a byte size like "64MiB"',
      'teams[0].budgets.max_spans_per_second: must be a number greater than 0',
      'teams[1].name: must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit',
    ],
  );
  assert.deepEqual(
    issueMessages(
      yaml(
        'version: 1',
        'teams:',
        '  - name: a',
        '    match: { k: v }',
        '    budgets:',
        '      metrics:',
        '        warning_thresholds: [0.9, 0.8]',
        '        per_label: [{ label: x, max_distinct_values: 5 }, { label: x, max_distinct_values: 6 }]',
      ),
    ),
    [
      'teams[0].budgets.metrics.warning_thresholds[1]: must be greater than the threshold before it',
      'teams[0].budgets.metrics.per_label[1].label: duplicate label "x" (per_label[0] already limits it)',
    ],
  );
});

test('rules take no environment substitution: ${...} stays as written', () => {
  const rules = compile(yaml('version: 1', 'teams:', '  - { name: a, match: { service.name: "${env:HOME}" } }'));
  assert.ok(rules.teams[0].match[0].attributes[0].value.test('${env:HOME}'));
});

test('a YAML syntax error is one issue with its position', () => {
  const [issue, ...rest] = rulesIssues('version: 1\nteams: [\n');
  assert.deepEqual(rest, []);
  assert.match(issue, /^\d+:\d+ : YAML syntax error: /);
});
