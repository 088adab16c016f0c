import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import {
  budgetRules,
  CHECKOUT,
  createChain,
  CUMULATIVE,
  DELTA,
  intPoint,
  outcomeTotals,
  outputPoints,
  request,
  resource,
  send,
  sumMetric,
} from './harness.js';
import type { Chain } from './harness.js';

/**
 * Audit mode: nothing changes on the wire, and every decision enforce would take is recorded
 * all the same — the same violations (rule, metric, count, samples), counted as `audited`.
 */

const BUDGET = `
  max_active_series: 6
  default_max_series_per_metric: 3
  per_label:
    - { label: route, max_distinct_values: 2 }
  action: overflow
`;

/** Round k of the traffic: routes, an exploding delta sum, an exploding cumulative sum. */
function traffic(k: number): OtlpObject {
  const time = 1_000 * (k + 1);
  return request(
    resource(
      CHECKOUT,
      sumMetric('hits', DELTA, ['/a', '/b', '/c'].map((route) => intPoint({ route }, k, time))),
      sumMetric('reqs', DELTA, [1, 2, 3, 4, 5].map((u) => intPoint({ user: `u${u}` }, u, time))),
      sumMetric('total', CUMULATIVE, [1, 2, 3, 4].map((u) => intPoint({ user: `u${u}` }, u * 10 * k, time, 500))),
    ),
  );
}

/**
 * Worked out from the budget: round 1 admits /a, /b (route then has 2 values, so /c is
 * refused by the per-label cap), u1–u3 of reqs (its metric cap of 3 refuses u4, u5) and u1 of
 * total (the team is then at 6: u2–u4 are refused by the team cap). In round 2 the team is
 * full, so every new series — /c, u4 and u5 of reqs too — is refused by the team cap first.
 */
const EXPECTED_VIOLATIONS = [
  ['hits', 'max_distinct_values', 1, [{ route: '/c' }]],
  ['reqs', 'max_series_per_metric', 2, [{ user: 'u4' }, { user: 'u5' }]],
  ['total', 'max_active_series', 3, [{ user: 'u2' }, { user: 'u3' }, { user: 'u4' }]],
  ['hits', 'max_active_series', 1, [{ route: '/c' }]],
  ['reqs', 'max_active_series', 2, [{ user: 'u4' }, { user: 'u5' }]],
  ['total', 'max_active_series', 3, [{ user: 'u2' }, { user: 'u3' }, { user: 'u4' }]],
];

const violationsOf = (chain: Chain) => chain.violations.map((v) => [v.metric, v.rule, v.count, v.samples]);

test('audit mode forwards every request byte for byte and records exactly the violations enforce records', () => {
  const enforce = createChain(budgetRules(BUDGET));
  const audit = createChain(budgetRules(BUDGET, 'audit'));
  let enforceEdited = 0;
  for (const k of [1, 2]) {
    const body = traffic(k);
    const audited = send(audit, body);
    assert.equal(audited.bytesOut, audited.bytesIn, `round ${k}: audit forwards the very input`);
    const enforced = send(enforce, body);
    if (outputPoints(enforced.output).length !== outputPoints(audited.output).length) enforceEdited++;
  }
  assert.equal(enforceEdited, 2, 'enforce did change both rounds (else this test proves nothing)');

  assert.deepEqual(violationsOf(enforce), EXPECTED_VIOLATIONS);
  assert.deepEqual(violationsOf(audit), EXPECTED_VIOLATIONS);
  assert.ok(audit.violations.every((v) => v.mode === 'audit' && v.action === 'overflow' && v.team === 'checkout'));
  assert.ok(enforce.violations.every((v) => v.mode === 'enforce'));

  // Admitted and passed alike; what enforce overflowed, audit counts as audited.
  assert.deepEqual(outcomeTotals(enforce), { admitted: 6, overflowed: 12, passed: 6 });
  assert.deepEqual(outcomeTotals(audit), { admitted: 6, audited: 12, passed: 6 });
  assert.equal(audit.state.team('checkout').table.size, enforce.state.team('checkout').table.size);
});

test('a budget can audit inside an enforcing rules file (its own mode wins), and drops are never reported in audit', () => {
  const chain = createChain(
    budgetRules(`
      max_active_series: 1
      action: drop
      mode: audit
    `),
    { reportDrops: true },
  );
  const sent = send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ user: 'a' }, 1, 1_000), intPoint({ user: 'b' }, 1, 1_000)]))));
  assert.equal(sent.bytesOut, sent.bytesIn);
  assert.equal(sent.rejected, 0);
  assert.deepEqual(
    chain.violations.map((v) => [v.rule, v.action, v.mode, v.count]),
    [['max_active_series', 'drop', 'audit', 1]],
  );
  assert.equal(chain.budget.pointAttributesChanged, false);
});
