import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttemptResult, RetryPolicy, RetryRuntime } from '../../../collector/exporters/retry.js';
import {
  classifyHttpStatus,
  decideRetry,
  DEFAULT_RETRY_POLICY,
  honoursRetryAfter,
  nextDelay,
  parseRetryAfter,
  resolveRetryPolicy,
  runWithRetry,
} from '../../../collector/exporters/retry.js';

/** A clock that only moves when the code under test sleeps. */
function fakeRuntime(random = 0.5): RetryRuntime & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    random: () => random,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

const noJitter: RetryPolicy = resolveRetryPolicy({ randomizationFactor: 0 });

void test('defaults are the Collector retry_on_failure defaults', () => {
  assert.deepEqual(
    { ...DEFAULT_RETRY_POLICY },
    { enabled: true, initialIntervalMs: 5000, maxIntervalMs: 30000, maxElapsedMs: 300000, multiplier: 1.5, randomizationFactor: 0.5 },
  );
  assert.equal(resolveRetryPolicy({ initialIntervalMs: 50 }).maxIntervalMs, 30000);
});

void test('nextDelay grows by the multiplier and stops growing at maxInterval', () => {
  const delays = [0, 1, 2, 3, 4, 5, 6].map((attempt) => nextDelay(noJitter, attempt, () => 0.99));
  assert.deepEqual(delays, [5000, 7500, 11250, 16875, 25313, 30000, 30000]);
});

void test('nextDelay jitter spans interval ± factor', () => {
  const policy = resolveRetryPolicy({ initialIntervalMs: 1000, randomizationFactor: 0.5 });
  assert.equal(nextDelay(policy, 0, () => 0), 500);
  assert.equal(nextDelay(policy, 0, () => 0.5), 1000);
  assert.ok(nextDelay(policy, 0, () => 0.999999) <= 1500);
  assert.ok(nextDelay(policy, 0, () => 0.999999) >= 1499);
  // Jitter applies around the capped interval, as in the Collector.
  assert.equal(nextDelay(policy, 50, () => 0), 15000);
});

void test('parseRetryAfter reads delay-seconds and HTTP-dates', () => {
  const now = Date.parse('Sun, 06 Nov 1994 08:49:30 GMT');
  assert.equal(parseRetryAfter('2', now), 2000);
  assert.equal(parseRetryAfter(' 120 ', now), 120000);
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 7000);
  assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now), 7000);
  assert.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', now), 7000);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:00:00 GMT', now), 0, 'a date in the past means now');
});

void test('parseRetryAfter ignores what it cannot read', () => {
  for (const value of [undefined, null, '', '  ', '1.5', '-3', 'soon', '2 seconds', 'Mon, 99 Foo 2024 GMT']) {
    assert.equal(parseRetryAfter(value, 0), undefined, String(value));
  }
});

void test('only 429, 502, 503 and 504 are retryable; 2xx is success', () => {
  assert.equal(classifyHttpStatus(200), 'success');
  assert.equal(classifyHttpStatus(202), 'success');
  for (const status of [429, 502, 503, 504]) assert.equal(classifyHttpStatus(status), 'retryable', String(status));
  for (const status of [301, 400, 401, 403, 404, 408, 413, 415, 500, 501, 505]) {
    assert.equal(classifyHttpStatus(status), 'permanent', String(status));
  }
  assert.deepEqual([429, 502, 503, 504].map(honoursRetryAfter), [true, false, true, false]);
});

void test('decideRetry: Retry-After replaces the computed wait, capped by the remaining budget', () => {
  const policy = resolveRetryPolicy({ maxElapsedMs: 10_000 });
  assert.deepEqual(decideRetry(policy, { retriesSoFar: 0, elapsedMs: 0, retryAfterMs: 2000 }, () => 0.5), { retry: true, delayMs: 2000 });
  // Longer than the computed backoff is fine too: the server asked for it.
  assert.deepEqual(decideRetry(policy, { retriesSoFar: 0, elapsedMs: 1000, retryAfterMs: 8000 }, () => 0.5), { retry: true, delayMs: 8000 });
  assert.deepEqual(decideRetry(policy, { retriesSoFar: 3, elapsedMs: 7000, retryAfterMs: 60_000 }, () => 0.5), { retry: true, delayMs: 3000 });
  assert.equal(decideRetry(policy, { retriesSoFar: 3, elapsedMs: 10_000, retryAfterMs: 1 }, () => 0.5).retry, false);
});

void test('decideRetry gives up when the computed wait would pass maxElapsed, or when disabled', () => {
  const policy = resolveRetryPolicy({ maxElapsedMs: 10_000, randomizationFactor: 0 });
  assert.deepEqual(decideRetry(policy, { retriesSoFar: 0, elapsedMs: 5000 }, () => 0), { retry: true, delayMs: 5000 });
  assert.equal(decideRetry(policy, { retriesSoFar: 0, elapsedMs: 5001 }, () => 0).retry, false);
  assert.equal(decideRetry(resolveRetryPolicy({ enabled: false }), { retriesSoFar: 0, elapsedMs: 0 }, () => 0).retry, false);
  // maxElapsed 0: no time limit.
  assert.equal(decideRetry(resolveRetryPolicy({ maxElapsedMs: 0 }), { retriesSoFar: 100, elapsedMs: 1e12 }, () => 0).retry, true);
});

function scripted<T>(results: AttemptResult<T>[]): (n: number) => Promise<AttemptResult<T>> {
  return (n) => Promise.resolve(results[Math.min(n - 1, results.length - 1)]);
}

void test('runWithRetry retries retryable failures with growing waits, then delivers', async () => {
  const runtime = fakeRuntime(0.5);
  const retries: Array<[number, string]> = [];
  const outcome = await runWithRetry(
    scripted<string>([
      { kind: 'retryable', reason: 'HTTP 503' },
      { kind: 'retryable', reason: 'HTTP 503' },
      { kind: 'retryable', reason: 'HTTP 429', retryAfterMs: 2000 },
      { kind: 'delivered', value: 'ok' },
    ]),
    {
      policy: resolveRetryPolicy({ initialIntervalMs: 100 }),
      runtime,
      signal: new AbortController().signal,
      onRetry: (delay, reason) => retries.push([delay, reason]),
    },
  );
  assert.deepEqual(outcome, { kind: 'delivered', value: 'ok', attempts: 4 });
  assert.deepEqual(runtime.sleeps, [100, 150, 2000]);
  assert.deepEqual(retries, [
    [100, 'HTTP 503'],
    [150, 'HTTP 503'],
    [2000, 'HTTP 429'],
  ]);
});

void test('runWithRetry stops at once on a permanent failure', async () => {
  const runtime = fakeRuntime();
  const outcome = await runWithRetry(scripted([{ kind: 'permanent', reason: 'HTTP 400' }]), {
    policy: DEFAULT_RETRY_POLICY,
    runtime,
    signal: new AbortController().signal,
  });
  assert.deepEqual(outcome, { kind: 'permanent', reason: 'HTTP 400', attempts: 1 });
  assert.deepEqual(runtime.sleeps, []);
});

void test('runWithRetry gives up within maxElapsed and says why', async () => {
  const runtime = fakeRuntime(0.5);
  const outcome = await runWithRetry(scripted([{ kind: 'retryable', reason: 'network error: ECONNREFUSED' }]), {
    policy: resolveRetryPolicy({ initialIntervalMs: 50, maxIntervalMs: 200, maxElapsedMs: 1000 }),
    runtime,
    signal: new AbortController().signal,
  });
  assert.equal(outcome.kind, 'exhausted');
  assert.match(outcome.kind === 'exhausted' ? outcome.reason : '', /gave up.*ECONNREFUSED/);
  // 50, 75, 112.5→113, 169, 200, 200, 200 = 1007 > 1000, so the last 200 is not taken.
  assert.deepEqual(runtime.sleeps, [50, 75, 113, 169, 200, 200]);
  assert.equal(outcome.attempts, 7);
  assert.ok(runtime.sleeps.reduce((a, b) => a + b, 0) <= 1000);
});

void test('runWithRetry returns aborted when the signal fires during a wait', async () => {
  const controller = new AbortController();
  const runtime: RetryRuntime = {
    now: () => 0,
    random: () => 0.5,
    sleep: () => {
      controller.abort(new Error('exporter shut down before delivery'));
      return Promise.resolve();
    },
  };
  const outcome = await runWithRetry(scripted([{ kind: 'retryable', reason: 'HTTP 503' }]), {
    policy: DEFAULT_RETRY_POLICY,
    runtime,
    signal: controller.signal,
  });
  assert.deepEqual(outcome, { kind: 'aborted', reason: 'exporter shut down before delivery', attempts: 1 });
});
