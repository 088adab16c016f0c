import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GlobalEnforcement } from '../../../collector/global-budgets/enforcement.js';
import type { GlobalTeamState } from '../../../collector/global-budgets/team-state.js';

const ME = { instance: 'me', startedAtMs: 100 };
function state(allowedNewSeries: number, basis: GlobalTeamState['basis'], publishedAtMs = 1000): GlobalTeamState {
  return { team: 't', aggregator: 'agg', publishedAtMs, activeSeries: 100 - allowedNewSeries, limit: 100, allowedNewSeries, basis };
}

test('no state, or a state older than the maximum age: enforce locally', () => {
  const g = new GlobalEnforcement({ ...ME, maxStateAgeMs: 5000 });
  assert.equal(g.verdict('t', 1000), 'local');
  g.onState(state(10, [{ ...ME, seq: 0 }]));
  assert.equal(g.verdict('t', 6000), 'admit');
  assert.equal(g.verdict('t', 6001), 'local');
  assert.equal(g.verdict('other', 1000), 'local');
  assert.equal(g.stateAgeMs('t', 7000), 6000);
  assert.equal(g.stateAgeMs('other', 7000), undefined);
});

test('a state stamped ahead of this sidecar\'s clock ages from its arrival, so it still goes stale', () => {
  const g = new GlobalEnforcement({ ...ME, maxStateAgeMs: 5000 });
  g.onState(state(10, [{ ...ME, seq: 0 }], 100_000), 1000);
  assert.equal(g.verdict('t', 6000), 'admit');
  assert.equal(g.verdict('t', 6001), 'local', 'the aggregator clock is 99 s ahead: the state still expires 5 s after it arrived');
  assert.equal(g.stateAgeMs('t', 7000), 6000);
});

test('over the global budget: every new series is refused', () => {
  const g = new GlobalEnforcement({ ...ME, maxStateAgeMs: 5000 });
  g.onState(state(0, [{ ...ME, seq: 0 }, { instance: 'other', startedAtMs: 1, seq: 9 }]));
  assert.equal(g.verdict('t', 1000), 'refuse');
});

test('each sidecar gets its share of the headroom, minus what it admitted after the report the state counts', () => {
  const g = new GlobalEnforcement({ ...ME, maxStateAgeMs: 60_000 });
  g.noteAdmitted('t'); // before round 3: in the aggregator's estimate already
  g.noteRound('t', 3);
  g.noteAdmitted('t');
  g.noteAdmitted('t'); // after round 3: not in the estimate
  // 10 left, two sidecars: a share of 5, two of it used since round 3.
  g.onState(state(10, [{ ...ME, seq: 3 }, { instance: 'other', startedAtMs: 1, seq: 1 }]));
  assert.equal(g.allowance('t', 1000), 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(g.verdict('t', 1000), 'admit');
    g.noteAdmitted('t');
  }
  assert.equal(g.verdict('t', 1000), 'refuse');
  // A state of another process life of the same instance does not count as ours: one more sidecar, admissions since receipt.
  g.onState(state(9, [{ instance: 'me', startedAtMs: 50, seq: 3 }, { instance: 'other', startedAtMs: 1, seq: 1 }]));
  assert.equal(g.allowance('t', 1000), 3);
  g.noteAdmitted('t');
  assert.equal(g.allowance('t', 1000), 2);
});

test('shares never add up to more than the headroom, whatever the number of sidecars', () => {
  for (let sidecars = 1; sidecars <= 7; sidecars++) {
    for (let allowed = 0; allowed <= 20; allowed++) {
      const basis = Array.from({ length: sidecars }, (_, i) => ({ instance: `s${i}`, startedAtMs: 1, seq: 0 }));
      let total = 0;
      for (let i = 0; i < sidecars; i++) {
        const g = new GlobalEnforcement({ instance: `s${i}`, startedAtMs: 1, maxStateAgeMs: 1000 });
        g.noteRound('t', 0);
        g.onState(state(allowed, basis));
        while (g.verdict('t', 1000) === 'admit') {
          g.noteAdmitted('t');
          total++;
        }
      }
      assert.ok(total <= allowed && total > allowed - sidecars, `${sidecars} sidecars, ${allowed} allowed: admitted ${total}`);
    }
  }
});
