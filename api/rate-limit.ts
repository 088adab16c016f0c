/**
 * Per-token rate limiting of the budget API: a token bucket per configured token (keyed by the
 * token's name, so the set of buckets is bounded by the config, never by traffic). A dashboard
 * polling a few routes stays far below the default; a runaway script gets 429 with Retry-After
 * instead of taking the SQLite reader away from everyone else.
 */

export interface RateLimit {
  /** Requests a token may make at once after being idle. */
  readonly burst: number;
  /** Sustained requests per second. */
  readonly perSecond: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = Object.freeze({ burst: 60, perSecond: 20 });

export interface Bucket {
  readonly tokens: number;
  readonly at: number;
}

export type Take = { readonly allowed: true; readonly bucket: Bucket } | { readonly allowed: false; readonly bucket: Bucket; readonly retryAfterMs: number };

/** Refills `bucket` up to `now`, then takes one request from it if it can. */
export function take(bucket: Bucket | undefined, now: number, limit: RateLimit): Take {
  const start = bucket ?? { tokens: limit.burst, at: now };
  const elapsed = Math.max(0, now - start.at);
  const tokens = Math.min(limit.burst, start.tokens + (elapsed * limit.perSecond) / 1000);
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, at: now } };
  return { allowed: false, bucket: { tokens, at: now }, retryAfterMs: Math.ceil(((1 - tokens) * 1000) / limit.perSecond) };
}

/** A limiter over named buckets; answers how long to wait (ms) when a request is refused, else 0. */
export function createRateLimiter(limit: RateLimit, now: () => number): (key: string) => number {
  if (!(limit.burst >= 1 && limit.perSecond > 0)) throw new Error(`rate limit must allow at least one request (burst ${limit.burst}, ${limit.perSecond}/s)`);
  const buckets = new Map<string, Bucket>();
  return (key) => {
    const result = take(buckets.get(key), now(), limit);
    buckets.set(key, result.bucket);
    return result.allowed ? 0 : result.retryAfterMs;
  };
}
