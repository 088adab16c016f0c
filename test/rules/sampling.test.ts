import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledAttributeCondition, CompiledRules, CompiledSamplingRule, StringMatcher } from '../../rules/compiled.js';
import { defaultRules, loadRules } from '../../rules/load.js';
import { compile, issueMessages, rulesIssues, yaml } from './support.js';

/** A rules file with these sampling rules (one YAML line each, under `sampling.rules`) after `head`. */
function sampling(head: readonly string[], ...rules: string[]): string {
  return yaml('version: 1', ...head, 'sampling:', '  rules:', ...rules.map((rule) => `    - ${rule}`));
}

const CATCH_ALL = '{ name: rest, action: sample }';
const TEAMS = ['teams:', '  - { name: pay, match: { k: pay } }', '  - { name: shop, match: { k: shop } }'];

/** Only sampling rules, with two teams and the catch-all appended. */
const rules = (...entries: string[]) => sampling(TEAMS, ...entries, CATCH_ALL);

function rule(compiled: CompiledRules, name: string): CompiledSamplingRule {
  const found = compiled.sampling.find((candidate) => candidate.name === name);
  assert.ok(found, `rule ${name} is compiled`);
  return found;
}

function matcherOf(value: StringMatcher | undefined): StringMatcher {
  assert.ok(value, 'a matcher is set');
  return value;
}

/** A compiled attribute condition without its matcher, for deepEqual. */
const plain = ({ matcher, ...rest }: CompiledAttributeCondition) => ({ ...rest, hasMatcher: matcher !== undefined });

// ─── Compile output ────────────────────────────────────────────────────────────────────────────

test('every condition compiles: status, duration in ns, span name matcher, severity number, attributes', () => {
  const compiled = compile(
    rules(
      '{ name: errors, signals: [traces], when: { status: error }, action: keep }',
      '{ name: slow, signals: [traces], teams: [shop, pay], when: { min_duration: 500ms, span_name: ["GET /a", "POST *", {regex: "rpc\\\\.[a-z]+"}] }, action: keep }',
      '{ name: warn-logs, signals: [logs], teams: [default], when: { min_severity: warn }, action: keep }',
      '{ name: probes, when: { attributes: [{ key: http.response.status_code, gte: 500 }, { key: user_agent.original, matches: "kube-probe/*" }, { key: synthetic, exists: false }] }, action: drop }',
    ),
  );
  assert.deepEqual(
    compiled.sampling.map((r) => [r.name, r.index, r.action]),
    [
      ['errors', 0, 'keep'],
      ['slow', 1, 'keep'],
      ['warn-logs', 2, 'keep'],
      ['probes', 3, 'drop'],
      ['rest', 4, 'sample'],
    ],
  );

  const errors = rule(compiled, 'errors');
  assert.deepEqual([...errors.signals], ['traces']);
  assert.equal(errors.teams, undefined, 'no teams: every team');
  assert.equal(errors.statusError, true);
  assert.equal(errors.minDurationNs, undefined);
  assert.equal(errors.spanName, undefined);
  assert.equal(errors.minSeverityNumber, undefined);
  assert.deepEqual(errors.attributes, []);

  const slow = rule(compiled, 'slow');
  assert.equal(slow.statusError, false, 'a condition that is not set');
  assert.equal(slow.minDurationNs, 500_000_000);
  assert.deepEqual([...(slow.teams ?? [])].sort(), [0, 1], 'team names resolve to indices into rules.teams');
  const spanName = matcherOf(slow.spanName);
  assert.ok(spanName.test('GET /a') && !spanName.test('GET /ab'), 'exact');
  assert.ok(spanName.test('POST /orders') && !spanName.test('xPOST /orders'), 'an anchored glob');
  assert.ok(spanName.test('rpc.call') && !spanName.test('rpc.call2'), 'an anchored regex');

  const warnLogs = rule(compiled, 'warn-logs');
  assert.deepEqual([...warnLogs.signals], ['logs']);
  assert.deepEqual([...(warnLogs.teams ?? [])], [compiled.defaultTeam], 'the implicit default team can be named');
  assert.equal(compiled.teams[compiled.defaultTeam].name, 'default');
  assert.equal(warnLogs.minSeverityNumber, 13);

  const probes = rule(compiled, 'probes');
  assert.deepEqual([...probes.signals], ['traces', 'logs'], 'signals default to both');
  assert.deepEqual(probes.attributes.map(plain), [
    { key: 'http.response.status_code', op: 'gte', value: 500, exists: undefined, hasMatcher: false },
    { key: 'user_agent.original', op: 'matches', value: undefined, exists: undefined, hasMatcher: true },
    { key: 'synthetic', op: 'exists', value: undefined, exists: false, hasMatcher: false },
  ]);
  const userAgent = matcherOf(probes.attributes[1].matcher);
  assert.ok(userAgent.test('kube-probe/1.29') && !userAgent.test('curl/8'));

  const rest = rule(compiled, 'rest');
  assert.deepEqual([...rest.signals], ['traces', 'logs']);
  assert.equal(rest.teams, undefined);
  assert.deepEqual(
    [rest.statusError, rest.minDurationNs, rest.spanName, rest.minSeverityNumber, rest.attributes],
    [false, undefined, undefined, undefined, []],
    'the catch-all has no condition',
  );
});

test('min_severity maps to the lowest OTel severity number of each severity', () => {
  const severities = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };
  // Strictest first: each rule is broader than the one before it, so none is shadowed.
  const compiled = compile(
    rules(
      ...Object.keys(severities)
        .reverse()
        .map((s) => `{ name: at-least-${s}, signals: [logs], teams: [pay], when: { min_severity: ${s} }, action: drop }`),
    ),
  );
  assert.deepEqual(
    Object.fromEntries(compiled.sampling.slice(0, -1).map((r) => [r.name.replace('at-least-', ''), r.minSeverityNumber])),
    severities,
  );
});

test('min_duration: every duration spelling becomes nanoseconds', () => {
  const spellings: Record<string, number> = {
    '500ms': 500_000_000,
    '1s': 1_000_000_000,
    '1m30s': 90_000_000_000,
    '2h': 7_200_000_000_000,
    '0.5ms': 500_000,
    '250': 250_000_000, // a bare number is milliseconds, as everywhere in the file
  };
  for (const [text, ns] of Object.entries(spellings)) {
    const compiled = compile(rules(`{ name: slow, signals: [traces], when: { min_duration: ${text} }, action: keep }`));
    assert.equal(rule(compiled, 'slow').minDurationNs, ns, text);
  }
});

test('attribute conditions: every operator, with value, matcher and exists set as the contract says', () => {
  const compiled = compile(
    rules(
      '{ name: a, teams: [pay], when: { attributes: [{ key: s, equals: "x" }, { key: n, equals: 500 }, { key: b, equals: true }, { key: ne, not_equals: GET }] }, action: keep }',
      '{ name: b, teams: [pay], when: { attributes: [{ key: n, gt: 1.5 }, { key: n, gte: -2 }, { key: n, lt: 10 }, { key: n, lte: 0 }] }, action: keep }',
      '{ name: c, teams: [pay], when: { attributes: [{ key: m, matches: [exact, "gl*b", {regex: "r[0-9]+"}] }, { key: e, exists: true }] }, action: keep }',
    ),
  );
  assert.deepEqual(rule(compiled, 'a').attributes.map(plain), [
    { key: 's', op: 'equals', value: 'x', exists: undefined, hasMatcher: false },
    { key: 'n', op: 'equals', value: 500, exists: undefined, hasMatcher: false },
    { key: 'b', op: 'equals', value: true, exists: undefined, hasMatcher: false },
    { key: 'ne', op: 'not_equals', value: 'GET', exists: undefined, hasMatcher: false },
  ]);
  assert.deepEqual(rule(compiled, 'b').attributes.map(plain), [
    { key: 'n', op: 'gt', value: 1.5, exists: undefined, hasMatcher: false },
    { key: 'n', op: 'gte', value: -2, exists: undefined, hasMatcher: false },
    { key: 'n', op: 'lt', value: 10, exists: undefined, hasMatcher: false },
    { key: 'n', op: 'lte', value: 0, exists: undefined, hasMatcher: false },
  ]);
  const [matches, exists] = rule(compiled, 'c').attributes;
  assert.deepEqual(plain(exists), { key: 'e', op: 'exists', value: undefined, exists: true, hasMatcher: false });
  assert.deepEqual(plain(matches), { key: 'm', op: 'matches', value: undefined, exists: undefined, hasMatcher: true });
  const matcher = matcherOf(matches.matcher);
  for (const yes of ['exact', 'glob', 'gl-b', 'r42']) assert.ok(matcher.test(yes), yes);
  for (const no of ['exact2', 'glo', 'r', 'xr42']) assert.ok(!matcher.test(no), no);
});

test('compiled sampling rules are immutable', () => {
  const compiled = compile(rules('{ name: a, teams: [pay], when: { attributes: [{ key: k, equals: 1 }] }, action: keep }'));
  const [first] = compiled.sampling;
  assert.ok(Object.isFrozen(compiled.sampling) && Object.isFrozen(first) && Object.isFrozen(first.attributes) && Object.isFrozen(first.attributes[0]));
  assert.throws(() => (compiled.sampling as CompiledSamplingRule[]).push(first), TypeError);
  assert.throws(() => ((first as { action: string }).action = 'drop'), TypeError);
  assert.throws(() => (first.signals as Set<string>).add('metrics'), /immutable/);
  assert.throws(() => (first.teams as Set<number>).clear(), /immutable/);
  assert.deepEqual([...first.signals], ['traces', 'logs']);
});

// ─── The default ───────────────────────────────────────────────────────────────────────────────

const DEFAULT_NAMES = ['keep-errors', 'keep-error-logs', 'sample-the-rest'];

test('without a sampling section: keep error spans, keep error logs, sample the rest', () => {
  for (const text of ['version: 1\n', 'version: 1\nsampling: {}\n', 'version: 1\nsampling:\n']) {
    const compiled = compile(text);
    assert.deepEqual(
      compiled.sampling.map((r) => [r.name, r.action, [...r.signals], r.statusError, r.minSeverityNumber, r.teams]),
      [
        ['keep-errors', 'keep', ['traces'], true, undefined, undefined],
        ['keep-error-logs', 'keep', ['logs'], false, 17, undefined],
        ['sample-the-rest', 'sample', ['traces', 'logs'], false, undefined, undefined],
      ],
      text,
    );
  }
});

test('the default written out is the same document, with the same hash', () => {
  const absent = compile('version: 1\n');
  const written = compile(
    sampling(
      [],
      '{ name: keep-errors, signals: [traces], when: { status: error }, action: keep }',
      '{ name: keep-error-logs, signals: [logs], when: { min_severity: error }, action: keep }',
      // signals in the other order, and an empty `when`, mean the same
      '{ name: sample-the-rest, signals: [logs, traces], when: {}, action: sample }',
    ),
  );
  assert.deepEqual(written.document, absent.document);
  assert.equal(written.hash, absent.hash);
});

test('the embedded default rules keep errors, drop health checks and sample the rest', () => {
  const compiled = defaultRules();
  assert.deepEqual(
    compiled.sampling.map((r) => [r.name, r.action]),
    [
      ['keep-errors', 'keep'],
      ['keep-error-logs', 'keep'],
      ['drop-health-checks', 'drop'],
      ['sample-the-rest', 'sample'],
    ],
  );
  assert.deepEqual(
    compiled.sampling.filter((r) => r.name !== 'drop-health-checks').map((r) => r.name),
    DEFAULT_NAMES,
    'the documented default, plus the health-check drop',
  );
  const health = matcherOf(rule(compiled, 'drop-health-checks').spanName);
  for (const name of ['GET /healthz', 'GET /readyz', 'GET /livez', 'GET /health', 'grpc.health.v1.Health/Check']) assert.ok(health.test(name), name);
  for (const name of ['GET /health/records', 'GET /api/patients', 'POST /healthz']) assert.ok(!health.test(name), name);
});

test('the example file’s sampling rules compile', () => {
  const compiled = loadRules(new URL('../../rules/examples/platform-team.yaml', import.meta.url).pathname);
  const names = compiled.sampling.map((r) => r.name);
  for (const name of ['keep-errors', 'keep-slow-requests', 'keep-server-errors', 'drop-health-checks', 'sample-the-rest']) assert.ok(names.includes(name), name);
  assert.equal(names[names.length - 1], 'sample-the-rest');
  assert.equal(rule(compiled, 'keep-slow-requests').minDurationNs, 1e9);
  assert.deepEqual([...(rule(compiled, 'keep-payments-audit-logs').teams ?? [])], [compiled.teams.findIndex((team) => team.name === 'payments')]);
});

// ─── The hash ──────────────────────────────────────────────────────────────────────────────────

test('the hash changes with any change of the sampling rules', () => {
  const template = rules(
    '{ name: a, signals: [traces], when: { status: error }, action: keep }',
    '{ name: b, signals: [traces], teams: [pay], when: { min_duration: 1s, attributes: [{ key: k, gte: 500 }] }, action: keep }',
  );
  const variants: Record<string, string> = {
    'an action': template.replace('status: error }, action: keep', 'status: error }, action: drop'),
    'a name': template.replace('name: a,', 'name: z,'),
    'rule order': template.replace(/( {4}- \{ name: a.*\n)( {4}- \{ name: b.*\n)/, '$2$1'),
    'a duration': template.replace('min_duration: 1s', 'min_duration: 2s'),
    'an attribute value': template.replace('gte: 500', 'gte: 501'),
    'an attribute operator': template.replace('gte: 500', 'gt: 500'),
    'a team': template.replace('teams: [pay]', 'teams: [shop]'),
    'a signal': template.replace('signals: [traces], teams', 'signals: [traces, logs], teams').replace('min_duration: 1s, ', ''),
    'a new rule': template.replace(CATCH_ALL, `{ name: c, signals: [logs], when: { min_severity: fatal }, action: keep }\n    - ${CATCH_ALL}`),
    'the catch-all action': template.replace(CATCH_ALL, '{ name: rest, action: keep }'),
    'the default instead': sampling(TEAMS).replace('sampling:\n  rules:\n', ''),
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

// ─── Validation: fields ────────────────────────────────────────────────────────────────────────

test('typos are reported with their key path and the nearest key or value', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        '{ name: a, signals: [trace], wen: {}, action: keep }',
        '{ name: b, when: { min_duraton: 1s }, action: keep }',
        '{ name: c, signals: [traces], when: { status: eror, attributes: [{ key: k, gtee: 5 }] }, action: kepp }',
        '{ name: d, signals: [logs], when: { min_severity: warning }, action: sample }',
      ),
    ),
    [
      'sampling.rules[0].signals[0]: must be one of "traces", "logs" (did you mean "traces"?)',
      'sampling.rules[0].wen: unknown key "wen" (did you mean "when"?)',
      'sampling.rules[1].when.min_duraton: unknown key "min_duraton" (did you mean "min_duration"?)',
      'sampling.rules[2].when.status: must be one of "error" (did you mean "error"?)',
      'sampling.rules[2].when.attributes[0].gtee: unknown key "gtee" (did you mean "gte"?)',
      'sampling.rules[2].action: must be one of "keep", "drop", "sample" (did you mean "keep"?)',
      'sampling.rules[3].when.min_severity: must be one of "trace", "debug", "info", "warn", "error", "fatal"',
    ],
  );
  assert.deepEqual(issueMessages(sampling([], '{ name: a, action: keep }').replace('rules:', 'ruels:')), [
    'sampling.ruels: unknown key "ruels" (did you mean "rules"?)',
  ]);
  assert.deepEqual(issueMessages(yaml('version: 1', 'samplng: {}')), ['samplng: unknown key "samplng" (did you mean "sampling"?)']);
});

test('issues carry line and column of the offending value', () => {
  const text = yaml(
    'version: 1', //                                     1
    'sampling:', //                                      2
    '  rules:', //                                       3
    '    - name: slow', //                               4
    '      signals: [traces]', //                        5
    '      when:', //                                    6
    '        min_duration: soon', //                     7
    '      action: keep', //                             8
    '    - { name: rest, action: sample }', //           9
  );
  assert.deepEqual(rulesIssues(text), ['7:23 sampling.rules[0].when.min_duration: must be a duration like "30s"']);
});

test('condition values: types, ranges and patterns are checked', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        '{ name: a, signals: [traces], when: { min_duration: 0 }, action: keep }',
        '{ name: b, signals: [traces], when: { min_duration: -5 }, action: keep }',
        '{ name: c, signals: [traces], when: { span_name: "" }, action: drop }',
        '{ name: d, signals: [traces], when: { span_name: {regex: "(a+)+$"} }, action: drop }',
        '{ name: e, when: { attributes: [{ key: k, equals: [1] }, { key: k, equals: null }, { key: k, gte: "500" }] }, action: keep }',
        '{ name: f, when: { attributes: [{ key: "", exists: yes }, { key: k, matches: [] }] }, action: keep }',
        '{ name: g, when: { attributes: [] }, action: keep }',
      ),
    ),
    [
      'sampling.rules[0].when.min_duration: must be greater than 0 (every span lasts at least 0: leave the condition out)',
      'sampling.rules[1].when.min_duration: must be a duration like "30s"',
      'sampling.rules[2].when.span_name: must not be empty',
      'sampling.rules[3].when.span_name.regex: can backtrack catastrophically: "a+" inside the repetition "(a+)+" can divide the same text between iterations in a huge number of ways (nested quantifiers); rewrite it so repeated parts cannot match the same text, or set allow_backtracking: true',
      'sampling.rules[4].when.attributes[0].equals: must be a string, a number or true/false, not a list',
      // `equals:` with no value counts as left out, like any empty key
      'sampling.rules[4].when.attributes[1]: needs one operator: equals, not_equals, gt, gte, lt, lte, matches, exists',
      'sampling.rules[4].when.attributes[2].gte: must be a number',
      'sampling.rules[5].when.attributes[0].key: must not be empty',
      'sampling.rules[5].when.attributes[0].exists: must be true or false',
      'sampling.rules[5].when.attributes[1].matches: must have at least 1 item',
      'sampling.rules[6].when.attributes: must have at least 1 item',
    ],
  );
});

test('an attribute condition needs exactly one operator', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        '{ name: a, when: { attributes: [{ key: http.response.status_code }] }, action: keep }',
        '{ name: b, when: { attributes: [{ key: http.response.status_code, gte: 500, lt: 600 }] }, action: keep }',
        '{ name: c, when: { attributes: [{ key: k, equals: a, matches: "a*", exists: true }] }, action: keep }',
      ),
    ),
    [
      'sampling.rules[0].when.attributes[0]: needs one operator: equals, not_equals, gt, gte, lt, lte, matches, exists',
      'sampling.rules[1].when.attributes[0]: must set only one of gte, lt (for a range, write two conditions: all of them must hold)',
      'sampling.rules[2].when.attributes[0]: must set only one of equals, matches, exists (for a range, write two conditions: all of them must hold)',
    ],
  );
  // The range, written as the message says.
  compile(rules('{ name: range, when: { attributes: [{ key: code, gte: 500 }, { key: code, lt: 600 }] }, action: keep }'));
});

test('a condition the rule’s signals can never have is an error', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        // signals default to both: a span condition never matches logs, min_severity never matches spans
        '{ name: a, when: { status: error }, action: keep }',
        '{ name: b, when: { min_severity: error }, action: keep }',
        '{ name: c, when: { min_duration: 1s, span_name: "GET *" }, action: keep }',
        // signals that have none of the condition's kind: the rule never matches at all
        '{ name: d, signals: [logs], when: { status: error }, action: keep }',
        '{ name: e, signals: [traces], when: { min_severity: warn }, action: keep }',
        // both kinds on both signals: each side is reported
        '{ name: f, when: { status: error, min_severity: error }, action: keep }',
      ),
    ),
    [
      'sampling.rules[0].when.status: never matches logs: status is a span condition, which no log record satisfies; set signals: [traces]',
      'sampling.rules[1].when.min_severity: never matches spans: min_severity is a log record condition, which no span satisfies; set signals: [logs]',
      'sampling.rules[2].when.min_duration: never matches logs: min_duration is a span condition, which no log record satisfies; set signals: [traces]',
      'sampling.rules[2].when.span_name: never matches logs: span_name is a span condition, which no log record satisfies; set signals: [traces]',
      'sampling.rules[3].when.status: can never match: status is a span condition, which no log record satisfies, and signals is [logs]',
      'sampling.rules[4].when.min_severity: can never match: min_severity is a log record condition, which no span satisfies, and signals is [traces]',
      'sampling.rules[5].when.status: never matches logs: status is a span condition, which no log record satisfies; set signals: [traces]',
      'sampling.rules[5].when.min_severity: never matches spans: min_severity is a log record condition, which no span satisfies; set signals: [logs]',
    ],
  );
  // Attributes exist on both signals.
  compile(rules('{ name: both, when: { attributes: [{ key: k, exists: true }] }, action: keep }'));
});

test('empty signals or teams, duplicate signals, unknown teams and duplicate names', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        '{ name: a, signals: [], action: keep }',
        '{ name: b, teams: [], action: keep }',
        '{ name: c, signals: [logs, logs], action: keep }',
        '{ name: d, signals: [metrics], action: keep }',
      ),
    ),
    [
      'sampling.rules[0].signals: is empty, so the rule can never match; leave it out to apply to traces and logs',
      'sampling.rules[1].teams: is empty, so the rule can never match; leave it out to apply to every team',
      'sampling.rules[2].signals[1]: duplicate "logs"',
      'sampling.rules[3].signals[0]: must be one of "traces", "logs"',
    ],
  );
  assert.deepEqual(
    issueMessages(
      rules(
        '{ name: a, teams: [payy], action: keep }',
        '{ name: b, teams: [shop, nobody], action: keep }',
        '{ name: a, signals: [logs], teams: [pay], action: drop }',
      ),
    ),
    [
      'sampling.rules[0].teams[0]: unknown team "payy" (did you mean "pay"?)',
      'sampling.rules[1].teams[1]: unknown team "nobody" (known teams: pay, shop, default)',
      'sampling.rules[2].name: duplicate sampling rule name "a" (sampling.rules[0] already uses it)',
    ],
  );
});

// ─── Validation: the catch-all and reachability ────────────────────────────────────────────────

const CATCH_ALL_MESSAGE =
  'sampling.rules: must end with a catch-all rule (no when, teams or signals) such as { name: sample-the-rest, action: sample }, so every span and log record gets a decision';

test('the list must end with a catch-all', () => {
  const without = (...entries: string[]) => sampling(TEAMS, ...entries);
  assert.deepEqual(issueMessages(without('{ name: errors, signals: [traces], when: { status: error }, action: keep }')), [CATCH_ALL_MESSAGE]);
  // Unconditional, but not for every signal, or not for every team: no single rule decides everything.
  assert.deepEqual(issueMessages(without('{ name: t, signals: [traces], action: sample }', '{ name: l, signals: [logs], action: sample }')), [CATCH_ALL_MESSAGE]);
  assert.deepEqual(issueMessages(without('{ name: p, teams: [pay, shop, default], action: sample }')), [CATCH_ALL_MESSAGE]);
  // `rules:` with no value counts as left out (the default); an explicit empty list is refused.
  assert.deepEqual(compile(without()).sampling.map((r) => r.name), DEFAULT_NAMES);
  assert.deepEqual(issueMessages(without().replace('rules:', 'rules: []')), [
    'sampling.rules: is empty: it needs at least a catch-all rule such as { name: sample-the-rest, action: sample }, or leave it out for the default rules',
  ]);
  // Any action will do for the catch-all, and signals may be spelled out.
  for (const action of ['keep', 'drop', 'sample']) compile(without(`{ name: all, signals: [traces, logs], when: {}, action: ${action} }`));
});

test('rules after the catch-all are unreachable', () => {
  assert.deepEqual(
    issueMessages(
      sampling(
        TEAMS,
        '{ name: errors, signals: [traces], when: { status: error }, action: keep }',
        '{ name: everything, action: sample }',
        '{ name: late, signals: [logs], when: { min_severity: fatal }, action: keep }',
        '{ name: late-catch-all, action: drop }',
      ),
    ),
    [
      'sampling.rules[2]: unreachable: sampling.rules[1] ("everything") is a catch-all (no when, teams or signals), so it decides every span and log record first; the catch-all must be the last rule',
      'sampling.rules[3]: unreachable: sampling.rules[1] ("everything") is a catch-all (no when, teams or signals), so it decides every span and log record first; the catch-all must be the last rule',
    ],
  );
});

const shadowed = (index: number, by: string) =>
  `sampling.rules[${index}]: unreachable: ${by} comes first and matches everything this rule would (the first matching rule wins)`;

test('a rule an earlier rule with the same or an unconditional match decides first is unreachable', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        // identical conditions, whatever the action
        '{ name: errors, signals: [traces], when: { status: error }, action: keep }',
        '{ name: errors-again, signals: [traces], when: { status: error }, action: drop }',
        // an unconditional rule for a team takes everything of that team on its signals
        '{ name: pay-logs, signals: [logs], teams: [pay], action: sample }',
        '{ name: pay-audit, signals: [logs], teams: [pay], when: { attributes: [{ key: audit, exists: true }] }, action: keep }',
        // identical attribute conditions, in another order
        '{ name: probes, when: { attributes: [{ key: ua, matches: "kube-probe/*" }, { key: path, equals: /healthz }] }, action: drop }',
        '{ name: probes-again, when: { attributes: [{ key: path, equals: /healthz }, { key: ua, matches: "kube-probe/*" }] }, action: drop }',
      ),
    ),
    [shadowed(1, 'sampling.rules[0] ("errors")'), shadowed(3, 'sampling.rules[2] ("pay-logs")'), shadowed(5, 'sampling.rules[4] ("probes")')],
  );
});

test('shadowing is decided per signal, and per team', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        // traces by one rule, logs by another: together they take all of a rule for both signals
        '{ name: shop-traces, signals: [traces], teams: [shop], action: sample }',
        '{ name: shop-logs, signals: [logs], teams: [shop], action: drop }',
        '{ name: shop-audit, teams: [shop], when: { attributes: [{ key: audit, exists: true }] }, action: keep }',
        // an earlier rule for more teams covers a rule for fewer
        '{ name: big, signals: [logs], teams: [pay, default], when: { attributes: [{ key: x, equals: 1 }] }, action: drop }',
        '{ name: small, signals: [logs], teams: [default], when: { attributes: [{ key: x, equals: 1 }] }, action: keep }',
        // every team, spelled out, covers a rule for every team
        '{ name: all-teams, signals: [traces], teams: [pay, shop, default], when: { span_name: "GET /x" }, action: drop }',
        '{ name: any-team, signals: [traces], when: { span_name: "GET /x" }, action: keep }',
      ),
    ),
    [
      shadowed(2, 'sampling.rules[0] ("shop-traces") and sampling.rules[1] ("shop-logs")').replace('comes first and matches', 'come first and match'),
      shadowed(4, 'sampling.rules[3] ("big")'),
      shadowed(6, 'sampling.rules[5] ("all-teams")'),
    ],
  );
});

test('a rule whose conditions are stricter than an earlier rule’s is unreachable', () => {
  assert.deepEqual(
    issueMessages(
      rules(
        '{ name: slow, signals: [traces], when: { min_duration: 500ms }, action: keep }',
        '{ name: slower-errors, signals: [traces], when: { min_duration: 2s, status: error }, action: drop }',
        '{ name: errors, signals: [logs], when: { min_severity: error }, action: keep }',
        '{ name: fatal, signals: [logs], when: { min_severity: fatal }, action: drop }',
        '{ name: health, signals: [traces], when: { span_name: "GET /health*" }, action: drop }',
        '{ name: healthz, signals: [traces], when: { span_name: ["GET /healthz", "GET /health"] }, action: keep }',
        '{ name: five-hundreds, when: { attributes: [{ key: code, gte: 500 }] }, action: keep }',
        '{ name: gateway-timeouts, when: { attributes: [{ key: code, equals: 504 }] }, action: drop }',
        '{ name: above-600, when: { attributes: [{ key: code, gt: 600 }, { key: method, equals: GET }] }, action: drop }',
        '{ name: bots, when: { attributes: [{ key: ua, matches: ["*bot*", "curl/*"] }] }, action: drop }',
        '{ name: googlebot, when: { attributes: [{ key: ua, equals: "Googlebot/2.1 (+http://www.google.com/bot.html)" }] }, action: keep }',
        '{ name: tenant-known, when: { attributes: [{ key: tenant, exists: true }] }, action: keep }',
        '{ name: tenant-acme, when: { attributes: [{ key: tenant, matches: "acme-*" }] }, action: drop }',
        '{ name: small, when: { attributes: [{ key: size, lt: 10 }] }, action: drop }',
        '{ name: tiny, when: { attributes: [{ key: size, lte: 2 }] }, action: keep }',
      ),
    ),
    [
      shadowed(1, 'sampling.rules[0] ("slow")'),
      shadowed(3, 'sampling.rules[2] ("errors")'),
      shadowed(5, 'sampling.rules[4] ("health")'),
      shadowed(7, 'sampling.rules[6] ("five-hundreds")'),
      shadowed(8, 'sampling.rules[6] ("five-hundreds")'),
      shadowed(10, 'sampling.rules[9] ("bots")'),
      shadowed(12, 'sampling.rules[11] ("tenant-known")'),
      shadowed(14, 'sampling.rules[13] ("small")'),
    ],
  );
});

test('rules that only overlap, or whose inclusion is not certain, are not reported', () => {
  compile(
    rules(
      // the later rule is broader than the earlier one
      '{ name: slow, signals: [traces], when: { min_duration: 2s }, action: keep }',
      '{ name: slowish, signals: [traces], when: { min_duration: 500ms }, action: drop }',
      '{ name: fatal, signals: [logs], when: { min_severity: fatal }, action: keep }',
      '{ name: errors, signals: [logs], when: { min_severity: error }, action: drop }',
      // earlier covers only one of the later rule's signals, or fewer teams
      '{ name: traces-k, signals: [traces], when: { attributes: [{ key: k, exists: true }] }, action: keep }',
      '{ name: both-k, when: { attributes: [{ key: k, exists: true }] }, action: drop }',
      '{ name: pay-only, teams: [pay], when: { attributes: [{ key: j, exists: true }] }, action: keep }',
      '{ name: all-j, when: { attributes: [{ key: j, exists: true }] }, action: drop }',
      // a narrower glob, and a regex: covered or not, it is not decided between patterns
      '{ name: api, signals: [traces], when: { span_name: "GET /api/*" }, action: keep }',
      '{ name: api-v1, signals: [traces], when: { span_name: "GET /api/v1/*" }, action: drop }',
      '{ name: rx, signals: [traces], when: { span_name: {regex: "GET /x.*"} }, action: keep }',
      '{ name: rx2, signals: [traces], when: { span_name: {regex: "GET /xy.*"} }, action: drop }',
      // not_equals, exists: false and bounds of the other direction imply nothing here
      '{ name: not-get, when: { attributes: [{ key: method, not_equals: GET }] }, action: keep }',
      '{ name: post, when: { attributes: [{ key: method, equals: POST }] }, action: drop }',
      '{ name: no-tenant, when: { attributes: [{ key: tenant, exists: false }] }, action: keep }',
      '{ name: tenant-not-acme, when: { attributes: [{ key: tenant, not_equals: acme }] }, action: drop }',
      '{ name: big, when: { attributes: [{ key: size, gt: 100 }] }, action: keep }',
      '{ name: at-least-100, when: { attributes: [{ key: size, gte: 100 }] }, action: drop }',
      // the same operator on another key
      '{ name: code-a, when: { attributes: [{ key: a.code, gte: 500 }] }, action: keep }',
      '{ name: code-b, when: { attributes: [{ key: b.code, gte: 500 }] }, action: drop }',
    ),
  );
});

test('sampling checks run even when another section has errors', () => {
  const text = yaml(
    'version: 1',
    'teams: [{ name: pay, match: { k: v } }]',
    'attribute_policies:',
    '  - { name: p, keys: k, action: explode }',
    'sampling:',
    '  rules:',
    '    - { name: a, teams: [pya], action: keep }',
    '    - { name: rest, action: sample }',
    '    - { name: late, action: drop }',
  );
  assert.deepEqual(issueMessages(text), [
    'attribute_policies[0].action: must be one of "drop", "hash", "redact", "truncate", "reject"',
    'sampling.rules[0].teams[0]: unknown team "pya" (did you mean "pay"?)',
    'sampling.rules[2]: unreachable: sampling.rules[1] ("rest") is a catch-all (no when, teams or signals), so it decides every span and log record first; the catch-all must be the last rule',
  ]);
});
