import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRateLimiter, take } from '../../api/rate-limit.js';
import { TOKENS, startApiFixture } from './support.js';

test('token bucket: a burst, then one request per 1/perSecond, refilled up to the burst only', () => {
  const limit = { burst: 3, perSecond: 2 };
  let bucket = undefined;
  for (let i = 0; i < 3; i++) {
    const result = take(bucket, 1000, limit);
    assert.equal(result.allowed, true);
    bucket = result.bucket;
  }
  const refused = take(bucket, 1000, limit);
  assert.deepEqual(refused, { allowed: false, bucket: { tokens: 0, at: 1000 }, retryAfterMs: 500 });
  assert.equal(take(refused.bucket, 1250, limit).allowed, false, 'half a token after 250 ms');
  assert.equal(take(refused.bucket, 1500, limit).allowed, true, 'one token after 500 ms');
  assert.deepEqual(take(refused.bucket, 1_000_000, limit).bucket, { tokens: 2, at: 1_000_000 }, 'never more than the burst');
  assert.throws(() => createRateLimiter({ burst: 0, perSecond: 1 }, () => 0), /at least one request/);
});

test('per token over HTTP: 429 rate_limited with Retry-After for that token only, until the bucket refills', async () => {
  const api = await startApiFixture({ rateLimit: { burst: 2, perSecond: 1 } });
  try {
    assert.equal((await api.get('/api/v1/teams', TOKENS.checkout)).status, 200);
    assert.equal((await api.get('/api/v1/teams', TOKENS.checkout)).status, 200);
    const limited = await api.get('/api/v1/teams', TOKENS.checkout);
    assert.equal(limited.status, 429);
    assert.deepEqual(Object.keys(limited.body).sort(), ['code', 'message']);
    assert.equal(limited.body.code, 'rate_limited');
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal((await api.get('/api/v1/teams', TOKENS.search)).status, 200, 'another token has its own bucket');
    assert.equal((await api.get('/api/v1/teams')).status, 401, 'no token is refused before any bucket is touched');
    assert.equal((await api.get('/api/v1/openapi.json')).status, 200, 'the OpenAPI document is not limited');
    api.clock.t += 1000;
    assert.equal((await api.get('/api/v1/teams', TOKENS.checkout)).status, 200);
  } finally {
    await api.close();
  }
});
