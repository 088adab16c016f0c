import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledAttributePolicy, CompiledRules, StringMatcher } from '../../rules/compiled.js';
import { DEFAULT_RULES_SOURCE, DEFAULT_RULES_YAML, defaultRules, parseRules } from '../../rules/load.js';
import { compile, resource, utf8, yaml } from './support.js';

/** The name of the team `teamOf` picks for a resource with these attributes. */
function teamName(rules: CompiledRules, attributes: Record<string, string>): string {
  return rules.teams[rules.teamOf(resource(attributes).lookup)].name;
}

/** The key matcher of a policy that must have one. */
function keysOf(policy: CompiledAttributePolicy): StringMatcher {
  assert.ok(policy.keys, `${policy.name} has keys`);
  return policy.keys;
}

/** Does a detector of the policy match the whole string `value`? */
function detects(rules: CompiledRules, policy: number, value: string): boolean {
  const bytes = utf8(value);
  return rules.attributePolicies[policy].detectors.some((detector) => detector.test(bytes, 0, bytes.length));
}

const TEAMS = yaml(
  'version: 1',
  'teams:',
  '  - name: payments', //                        exact on service.namespace
  '    match: { service.namespace: payments }',
  '  - name: shop', //                            glob on service.name, or the exact "cart"
  '    match: { service.name: ["shop-*", cart] }',
  '  - name: data', //                            regex on k8s.namespace.name (anchored)
  '    match: { k8s.namespace.name: {regex: "(etl|batch)-[0-9]+"} }',
  '  - name: edge', //                            a conjunction, or a second entry
  '    match:',
  '      - { service.name: gateway, k8s.namespace.name: "edge-?" }',
  '      - { service.namespace: cdn }',
);

test('teamOf: exact, glob and regex matchers on service.namespace, service.name and k8s.namespace.name', () => {
  const rules = compile(TEAMS);
  assert.equal(teamName(rules, { 'service.namespace': 'payments' }), 'payments');
  assert.equal(teamName(rules, { 'service.namespace': 'payments-v2' }), 'default', 'exact means the whole value');
  assert.equal(teamName(rules, { 'service.name': 'shop-frontend' }), 'shop');
  assert.equal(teamName(rules, { 'service.name': 'shop-' }), 'shop', '* may match nothing');
  assert.equal(teamName(rules, { 'service.name': 'cart' }), 'shop');
  assert.equal(teamName(rules, { 'service.name': 'my-shop-frontend' }), 'default', 'a glob is anchored');
  assert.equal(teamName(rules, { 'k8s.namespace.name': 'etl-42' }), 'data');
  assert.equal(teamName(rules, { 'k8s.namespace.name': 'batch-7' }), 'data');
  assert.equal(teamName(rules, { 'k8s.namespace.name': 'etl-42-old' }), 'default', 'a regex must match the whole value');
  assert.equal(teamName(rules, { 'k8s.namespace.name': 'x-etl-42' }), 'default');
});

test('teamOf: every attribute of a conjunction must match; any entry of a team may', () => {
  const rules = compile(TEAMS);
  assert.equal(teamName(rules, { 'service.name': 'gateway', 'k8s.namespace.name': 'edge-1' }), 'edge');
  assert.equal(teamName(rules, { 'service.name': 'gateway', 'k8s.namespace.name': 'edge-12' }), 'default', '? is exactly one character');
  assert.equal(teamName(rules, { 'service.name': 'gateway' }), 'default', 'an absent attribute matches nothing');
  assert.equal(teamName(rules, { 'service.namespace': 'cdn' }), 'edge');
});

test('teamOf: the first matching team in file order wins, and each attribute is looked up at most once', () => {
  const rules = compile(TEAMS);
  // Matches payments (service.namespace), shop (service.name) and data (k8s.namespace.name).
  const attributes = { 'service.namespace': 'payments', 'service.name': 'cart', 'k8s.namespace.name': 'etl-1' };
  assert.equal(teamName(rules, attributes), 'payments');
  assert.equal(teamName(rules, { ...attributes, 'service.namespace': 'other' }), 'shop');
  assert.equal(teamName(rules, { ...attributes, 'service.namespace': 'other', 'service.name': 'other' }), 'data');

  const unmatched = resource({ 'service.namespace': 'none', 'service.name': 'none', 'k8s.namespace.name': 'none' });
  rules.teamOf(unmatched.lookup);
  assert.deepEqual(Object.fromEntries(unmatched.asked), { 'service.namespace': 1, 'service.name': 1, 'k8s.namespace.name': 1 });
  assert.deepEqual(rules.teamMatchKeys, ['k8s.namespace.name', 'service.name', 'service.namespace']);
});

test('the default team: implicit when the last team has a match, the file’s own catch-all otherwise', () => {
  const implicit = compile(TEAMS);
  assert.equal(implicit.defaultTeam, implicit.teams.length - 1);
  assert.deepEqual(
    implicit.teams.map((team) => [team.name, team.index]),
    [['payments', 0], ['shop', 1], ['data', 2], ['edge', 3], ['default', 4]],
  );
  assert.equal(implicit.teams[implicit.defaultTeam].tier, 'standard');
  assert.equal(implicit.teamOf(() => undefined), implicit.defaultTeam, 'a resource without attributes goes to the default team');

  const own = compile(yaml('version: 1', 'teams:', '  - { name: a, match: { service.name: a } }', '  - { name: everyone-else, tier: economy }'));
  assert.deepEqual(
    own.teams.map((team) => team.name),
    ['a', 'everyone-else'],
    'no implicit team is added after a catch-all',
  );
  assert.equal(own.defaultTeam, 1);
  assert.equal(teamName(own, { 'service.name': 'b' }), 'everyone-else');
  assert.equal(teamName(own, { 'service.name': 'a' }), 'a');

  const none = compile('version: 1\n');
  assert.equal(none.teamOf(resource({ 'service.name': 'x' }).lookup), 0);
  assert.deepEqual(none.teamMatchKeys, []);
});

test('tiers: every team’s tier resolves, file tiers are added and may redefine a built-in one', () => {
  const rules = compile(
    yaml(
      'version: 1',
      'tiers:',
      '  standard: { trace_probability: 0.5 }',
      '  premium: { trace_probability: 0.75, log_probability: { debug: 0 }, logs_follow_traces: false }',
      'teams:',
      '  - { name: a, match: { k: a }, tier: premium }',
      '  - { name: b, match: { k: b }, tier: critical }',
      '  - { name: c, match: { k: c } }',
    ),
  );
  assert.deepEqual([...rules.tiers.keys()], ['critical', 'standard', 'economy', 'premium']);
  for (const team of rules.teams) assert.ok(rules.tiers.has(team.tier), `tier of ${team.name}`);
  assert.deepEqual(
    rules.teams.map((team) => [team.name, team.tier]),
    [['a', 'premium'], ['b', 'critical'], ['c', 'standard'], ['default', 'standard']],
  );
  assert.equal(rules.tiers.get('standard')?.traceProbability, 0.5, 'the file’s standard replaces the built-in one');
  assert.deepEqual(rules.tiers.get('standard')?.logProbability, { trace: 0.5, debug: 0.5, info: 0.5, warn: 0.5, error: 0.5, fatal: 0.5, default: 0.5 });
  assert.deepEqual(rules.tiers.get('premium'), {
    name: 'premium',
    traceProbability: 0.75,
    logProbability: { trace: 0.75, debug: 0, info: 0.75, warn: 0.75, error: 0.75, fatal: 0.75, default: 0.75 },
    logsFollowTraces: false,
  });
  assert.equal(rules.tiers.get('economy')?.traceProbability, 0.05, 'built-in tiers not redefined stay');
});

test('budgets: what is left out is unlimited, metric budgets get their defaults', () => {
  const rules = compile(
    yaml(
      'version: 1',
      'teams:',
      '  - name: a',
      '    match: { k: a }',
      '    budgets:',
      '      metrics: { max_active_series: 10 }',
      '      max_bytes_per_day: 2GiB',
      '  - name: b',
      '    match: { k: b }',
      '    budgets:',
      '      metrics:',
      '        per_metric:',
      '          - { metric: "http.*", max_active_series: 5 }',
      '          - { metric: [rpc.duration, {regex: "db\\\\..+"}], max_active_series: 7 }',
      '        exempt_metrics: ["tollgate_*", up]',
      '        mode: audit',
      '      max_spans_per_second: 12.5',
      '      max_log_records_per_second: 40',
    ),
  );
  const [a, b, fallback] = rules.teams;
  assert.deepEqual(a.budgets, {
    metrics: {
      maxActiveSeries: 10,
      defaultMaxSeriesPerMetric: undefined,
      perMetric: [],
      perLabel: [],
      exemptMetrics: undefined,
      activeWindowMs: 3_600_000,
      warningThresholds: [0.8, 0.95],
      action: 'overflow',
      mode: 'enforce',
    },
    maxSpansPerSecond: undefined,
    maxLogRecordsPerSecond: undefined,
    maxBytesPerDay: 2 * 2 ** 30,
  });

  const metrics = b.budgets.metrics;
  assert.ok(metrics);
  assert.equal(metrics.maxActiveSeries, undefined);
  assert.equal(metrics.mode, 'audit');
  assert.deepEqual(
    metrics.perMetric.map((entry) => entry.maxActiveSeries),
    [5, 7],
    'per_metric keeps file order (the first matching entry wins)',
  );
  assert.ok(metrics.perMetric[0].metric.test('http.server.duration') && !metrics.perMetric[0].metric.test('rpc.duration'));
  assert.ok(metrics.perMetric[1].metric.test('rpc.duration') && metrics.perMetric[1].metric.test('db.client.duration'));
  assert.ok(!metrics.perMetric[1].metric.test('mydb.x'));
  assert.ok(metrics.exemptMetrics?.test('tollgate_rules_info') && metrics.exemptMetrics.test('up') && !metrics.exemptMetrics.test('upx'));
  assert.equal(b.budgets.maxSpansPerSecond, 12.5);
  assert.equal(b.budgets.maxLogRecordsPerSecond, 40);
  assert.equal(b.budgets.maxBytesPerDay, undefined);

  assert.deepEqual(fallback.budgets, { metrics: undefined, maxSpansPerSecond: undefined, maxLogRecordsPerSecond: undefined, maxBytesPerDay: undefined });
});

const POLICIES = yaml(
  'version: 1',
  'teams:',
  '  - { name: payments, match: { service.namespace: payments } }',
  '  - { name: shop, match: { service.namespace: shop } }',
  'attribute_policies:',
  '  - name: exact-key',
  '    keys: user_id',
  '    action: drop',
  '  - name: glob-key',
  '    signals: [metrics]',
  '    targets: [attributes]',
  '    keys: "*.session_id"',
  '    action: hash',
  '  - name: regex-key',
  '    signals: [traces, logs]',
  '    targets: [resource]',
  '    teams: [shop, default]',
  '    services: ["shop-*"]',
  '    keys: {regex: "card\\\\.(pan|number)"}',
  '    action: reject',
  '  - name: detectors',
  '    signals: [logs]',
  '    targets: [attributes, body]',
  '    values: [email, jwt]',
  '    action: redact',
  '  - name: custom-regex',
  '    keys: note',
  '    values: {regex: "sk_live_[0-9a-z]{8,}"}',
  '    action: redact',
  '    replacement: "***"',
  '  - name: anchored-regex',
  '    values: {regex: "^order-[0-9]+$"}',
  '    action: truncate',
  '    max_length: 8',
);

test('policies: key matchers (exact, glob, regex), selectors and actions are compiled in file order', () => {
  const rules = compile(POLICIES);
  const [exact, glob, regex] = rules.attributePolicies;
  assert.deepEqual(
    rules.attributePolicies.map((policy) => [policy.index, policy.name, policy.action]),
    [
      [0, 'exact-key', 'drop'],
      [1, 'glob-key', 'hash'],
      [2, 'regex-key', 'reject'],
      [3, 'detectors', 'redact'],
      [4, 'custom-regex', 'redact'],
      [5, 'anchored-regex', 'truncate'],
    ],
  );

  const exactKeys = keysOf(exact);
  assert.ok(exactKeys.test('user_id'));
  assert.ok(!exactKeys.test('app.user_id') && !exactKeys.test('user_ids'));
  assert.deepEqual([...exact.signals], ['metrics', 'traces', 'logs']);
  assert.deepEqual(exact.targets, { resource: true, attributes: true, body: false });
  assert.equal(exact.teams, undefined);
  assert.equal(exact.services, undefined);
  assert.deepEqual(exact.detectors, [], 'no values: any value');

  const globKeys = keysOf(glob);
  assert.ok(globKeys.test('http.session_id') && globKeys.test('a.b.session_id'));
  assert.ok(!globKeys.test('session_id'), '"*." needs the dot');
  assert.deepEqual([...glob.signals], ['metrics']);

  const regexKeys = keysOf(regex);
  assert.ok(regexKeys.test('card.pan') && regexKeys.test('card.number'));
  assert.ok(!regexKeys.test('card.pan.last4') && !regexKeys.test('xcard.pan'), 'a key regex is anchored');
  assert.ok(!regexKeys.test('card-pan'), 'the escaped dot is a dot');
  assert.deepEqual(regex.targets, { resource: true, attributes: false, body: false });
  assert.deepEqual([...(regex.teams ?? [])], [1, 2], 'team names become team indices, the implicit default team included');
  assert.ok(regex.services?.test('shop-api') && !regex.services.test('payments-api'));
});

test('policies: built-in value detectors and custom regexes (which search the value unless anchored)', () => {
  const rules = compile(POLICIES);
  const [, , , detectors, custom, anchored] = rules.attributePolicies;
  assert.deepEqual(
    detectors.detectors.map((detector) => detector.name),
    ['email', 'jwt'],
  );
  assert.equal(detectors.keys, undefined);
  assert.deepEqual(detectors.targets, { resource: false, attributes: true, body: true });
  assert.ok(detects(rules, 3, 'contact: jane.doe@example.com'));
  assert.ok(detects(rules, 3, 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'));
  assert.ok(!detects(rules, 3, 'just text'));
  assert.equal(detectors.replacement, '[REDACTED]', 'redact without replacement writes the default');

  assert.deepEqual(
    custom.detectors.map((detector) => detector.name),
    ['regex:sk_live_[0-9a-z]{8,}'],
  );
  assert.ok(detects(rules, 4, 'paid with sk_live_abc12345xyz today'), 'a value regex searches');
  assert.ok(!detects(rules, 4, 'sk_live_short'));
  assert.equal(custom.replacement, '***');

  assert.ok(detects(rules, 5, 'order-12'));
  assert.ok(!detects(rules, 5, 'my order-12'), '^…$ anchors a value regex');
  assert.equal(anchored.maxLength, 8);
  assert.equal(anchored.keys, undefined);
});

test('mode: the top-level mode is inherited by policies and metric budgets that set none', () => {
  const text = (mode: string) =>
    yaml(
      'version: 1',
      ...(mode === '' ? [] : [`mode: ${mode}`]),
      'teams:',
      '  - { name: a, match: { k: a }, budgets: { metrics: { max_active_series: 1 } } }',
      '  - { name: b, match: { k: b }, budgets: { metrics: { max_active_series: 1, mode: enforce } } }',
      '  - { name: c, match: { k: c }, budgets: { metrics: { max_active_series: 1, mode: audit } } }',
      'attribute_policies:',
      '  - { name: inherits, keys: a, action: drop }',
      '  - { name: enforces, keys: b, action: drop, mode: enforce }',
      '  - { name: audits, keys: c, action: drop, mode: audit }',
    );
  const modes = (rules: CompiledRules) => ({
    file: rules.mode,
    policies: rules.attributePolicies.map((policy) => policy.mode),
    budgets: rules.teams.slice(0, 3).map((team) => team.budgets.metrics?.mode),
  });
  assert.deepEqual(modes(compile(text(''))), { file: 'enforce', policies: ['enforce', 'enforce', 'audit'], budgets: ['enforce', 'enforce', 'audit'] });
  assert.deepEqual(modes(compile(text('enforce'))), { file: 'enforce', policies: ['enforce', 'enforce', 'audit'], budgets: ['enforce', 'enforce', 'audit'] });
  assert.deepEqual(modes(compile(text('audit'))), { file: 'audit', policies: ['audit', 'enforce', 'audit'], budgets: ['audit', 'enforce', 'audit'] });
});

/** Runs `action`, which must throw a TypeError: the compiled rules refused to change. */
function refuses(what: string, action: () => unknown): void {
  assert.throws(action, TypeError, `${what} should be immutable`);
}

/** Views a frozen value through a writable type, as careless code might. */
const writable = (value: unknown) => value as Record<string, unknown>;
const list = (value: unknown) => value as unknown[];

test('compiled rules are immutable: every object, list, set and map refuses changes', () => {
  const withBudget = POLICIES.replace(
    '  - { name: shop, match: { service.namespace: shop } }',
    '  - { name: shop, match: { service.namespace: shop }, budgets: { metrics: { per_label: [{ label: x, max_distinct_values: 1 }] } } }',
  );
  const rules = compile(withBudget);
  const policy = rules.attributePolicies[2];
  const team = rules.teams[1];

  refuses('rules.mode', () => (writable(rules).mode = 'audit'));
  refuses('rules.teamOf', () => (writable(rules).teamOf = () => 0));
  refuses('rules.teams', () => list(rules.teams).push({}));
  refuses('a team', () => (writable(team).tier = 'critical'));
  refuses('a team matcher list', () => list(team.match).pop());
  refuses('a matcher conjunction', () => list(team.match[0].attributes).push({}));
  refuses('a string matcher', () => (writable(team.match[0].attributes[0].value).test = () => true));
  refuses('a budget', () => (writable(team.budgets.metrics).maxActiveSeries = 1));
  refuses('per_label', () => list(team.budgets.metrics?.perLabel).push({}));
  refuses('warning thresholds', () => (list(team.budgets.metrics?.warningThresholds)[0] = 0.1));
  refuses('rules.attributePolicies', () => list(rules.attributePolicies).splice(0, 1));
  refuses('a policy', () => (writable(policy).action = 'drop'));
  refuses('policy targets', () => (writable(policy.targets).body = true));
  refuses('policy detectors', () => list(rules.attributePolicies[3].detectors).push({}));

  const signals = policy.signals as Set<string>;
  refuses('Set#add on signals', () => signals.add('metrics'));
  refuses('Set#delete on signals', () => signals.delete('logs'));
  refuses('Set#clear on signals', () => signals.clear());
  refuses('Set#add on teams', () => (policy.teams as Set<number>).add(0));
  assert.deepEqual([...policy.signals], ['traces', 'logs'], 'the refused calls changed nothing');

  const tiers = rules.tiers as Map<string, unknown>;
  refuses('Map#set on tiers', () => tiers.set('gold', {}));
  refuses('Map#delete on tiers', () => tiers.delete('standard'));
  refuses('Map#clear on tiers', () => tiers.clear());
  refuses('a tier', () => (writable(rules.tiers.get('standard')).traceProbability = 1));
  refuses('a tier’s log probabilities', () => (writable(rules.tiers.get('standard')?.logProbability).debug = 1));
  assert.deepEqual([...rules.tiers.keys()], ['critical', 'standard', 'economy']);

  const document = rules.document as { attribute_policies: Record<string, unknown>[]; teams: unknown[] };
  refuses('the document', () => (writable(document).mode = 'audit'));
  refuses('the document’s policies', () => (document.attribute_policies[0].action = 'hash'));
  refuses('the document’s teams', () => document.teams.push({}));
});

test('matching is precompiled: no regex is built while teams and policies match', () => {
  const original = globalThis.RegExp;
  let built = 0;
  // Counts `new RegExp(...)` and `RegExp(...)`; regex literals are compiled with the code, not per call.
  globalThis.RegExp = new Proxy(original, {
    construct(target, args: [string | RegExp, string?]) {
      built++;
      return new target(...args);
    },
    apply(target, _this, args: [string | RegExp, string?]) {
      built++;
      return target(...args);
    },
  });
  let builtAtLoad = 0;
  try {
    const teams = compile(TEAMS);
    const policies = compile(POLICIES);
    builtAtLoad = built;
    built = 0;
    for (let i = 0; i < 3; i++) {
      teams.teamOf(resource({ 'service.name': `shop-${i}`, 'k8s.namespace.name': `etl-${i}` }).lookup);
      teams.teamOf(resource({ 'service.namespace': 'none' }).lookup);
      const value = utf8(`jane${i}@example.com sk_live_0123456789`);
      for (const policy of policies.attributePolicies) {
        policy.keys?.test(`card.pan${i}`);
        policy.services?.test(`shop-${i}`);
        for (const detector of policy.detectors) detector.test(value, 0, value.length);
      }
    }
  } finally {
    globalThis.RegExp = original;
  }
  assert.ok(builtAtLoad > 0, 'the spy sees the regexes compiled at load');
  assert.equal(built, 0, 'regexes built while matching');
});

test('the hash names the meaning: key order, spelling, comments and written-out defaults do not change it', () => {
  const base = compile(
    yaml(
      'version: 1',
      'teams:',
      '  - name: a',
      '    match: { service.name: cart }',
      '    budgets: { metrics: { max_active_series: 10 } }',
      'attribute_policies:',
      '  - { name: p, keys: user_id, action: redact }',
    ),
  );
  assert.match(base.hash, /^[0-9a-f]{64}$/);
  const sameMeaning = [
    // keys reordered, block style, comments, quoting
    yaml(
      '# a comment',
      'attribute_policies:',
      '  - action: redact',
      '    keys: "user_id"     # quoted',
      '    name: p',
      'teams:',
      '  - budgets:',
      '      metrics:',
      '        max_active_series: 10',
      '    match:',
      '      service.name: cart',
      '    name: a',
      'version: 1',
    ),
    // defaults written out; one pattern as a list; a glob without wildcards; {exact}
    yaml(
      'version: 1',
      'mode: enforce',
      'tiers: {}',
      'teams:',
      '  - name: a',
      '    match: [{ service.name: [{glob: cart}] }]',
      '    tier: standard',
      '    budgets:',
      '      metrics: { max_active_series: 10, active_window: 60m, warning_thresholds: [0.8, 0.95], action: overflow, mode: enforce, per_metric: [], per_label: [] }',
      'attribute_policies:',
      '  - name: p',
      '    signals: [metrics, traces, logs]',
      '    targets: [resource, attributes]',
      '    keys: [{exact: user_id}]',
      '    action: redact',
      '    replacement: "[REDACTED]"',
      '    mode: enforce',
    ),
    // the same document as JSON (YAML's flow style)
    JSON.stringify(base.document),
  ];
  for (const text of sameMeaning) assert.equal(compile(text).hash, base.hash, text);
});

test('the hash changes with any change of meaning', () => {
  const template = yaml(
    'version: 1',
    'mode: enforce',
    'teams:',
    '  - { name: a, match: { service.name: cart }, tier: standard }',
    '  - { name: b, match: { service.name: shop } }',
    'attribute_policies:',
    '  - { name: p, keys: user_id, action: drop }',
    '  - { name: q, keys: "*.id", action: hash }',
  );
  const variants: Record<string, string> = {
    'top-level mode': template.replace('mode: enforce', 'mode: audit'),
    'a team tier': template.replace('tier: standard', 'tier: economy'),
    'a team name': template.replace('name: b,', 'name: c,'),
    'a matcher value': template.replace('service.name: cart', 'service.name: carts'),
    'a matcher key': template.replace('service.name: cart', 'service.namespace: cart'),
    'exact to regex': template.replace('service.name: cart', 'service.name: {regex: cart}'),
    'team order': template.replace(/( {2}- \{ name: a.*\n)( {2}- \{ name: b.*\n)/, '$2$1'),
    'policy order': template.replace(/( {2}- \{ name: p.*\n)( {2}- \{ name: q.*\n)/, '$2$1'),
    'a policy action': template.replace('action: drop', 'action: reject'),
    'a policy mode': template.replace('action: drop }', 'action: drop, mode: audit }'),
    'a policy signal': template.replace('keys: user_id,', 'keys: user_id, signals: [logs],'),
    'a budget': template.replace('tier: standard }', 'tier: standard, budgets: { max_bytes_per_day: 1GiB } }'),
    'a tier redefined': template.replace('teams:', 'tiers: { standard: { trace_probability: 0.3 } }\nteams:'),
  };
  const base = compile(template).hash;
  const hashes = new Map<string, string>([[base, 'the template']]);
  for (const [change, text] of Object.entries(variants)) {
    assert.notEqual(text, template, `${change}: the variant must differ from the template`);
    const hash = compile(text).hash;
    assert.ok(!hashes.has(hash), `${change}: same hash as ${hashes.get(hash)}`);
    hashes.set(hash, change);
  }
});

test('the embedded default rules compile: audit mode, one catch-all team, the documented policies', () => {
  const rules = defaultRules();
  assert.equal(defaultRules(), rules, 'compiled once and shared');
  assert.equal(rules.hash, parseRules(DEFAULT_RULES_YAML, DEFAULT_RULES_SOURCE).hash);
  assert.equal(rules.mode, 'audit');
  assert.deepEqual(
    rules.teams.map((team) => [team.name, team.tier]),
    [['default', 'standard']],
  );
  assert.equal(rules.defaultTeam, 0);
  assert.deepEqual(
    rules.attributePolicies.map((policy) => [policy.name, policy.action, policy.mode]),
    [
      ['metrics-unbounded-label-keys', 'drop', 'audit'],
      ['metrics-genai-content', 'drop', 'audit'],
      ['metrics-unbounded-label-values', 'drop', 'audit'],
      ['redact-personal-data', 'redact', 'audit'],
      ['truncate-long-values', 'truncate', 'audit'],
    ],
  );
  assert.equal(rules.teams[0].budgets.metrics?.maxActiveSeries, 100_000);
  assert.equal(rules.teams[0].budgets.metrics?.mode, 'audit');
  const [keys, genai] = rules.attributePolicies;
  assert.ok(keys.keys?.test('app.user_id') && keys.keys.test('session_id') && !keys.keys.test('user'));
  assert.ok(genai.keys?.test('gen_ai.prompt.0.content') && !genai.keys.test('gen_ai.usage.input_tokens'));
  assert.ok(Object.isFrozen(rules));
});
