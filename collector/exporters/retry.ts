import type { ExportOutcome } from '../pipeline/contracts.js';
// Retry policy for exporters: exponential backoff with jitter, the OTLP rules for which HTTP
// answers may be retried, and Retry-After handling. Everything here is pure except
// `runWithRetry`, whose clock, sleep and random source are injected so tests run on fake time.
//
// Semantics follow the OpenTelemetry Collector's `retry_on_failure` (exporterhelper):
// the n-th retry waits `min(initial · multiplier^n, maxInterval)` randomized by ±factor, and a
// request is given up once the next wait would take it past `maxElapsed` since its first attempt.

export interface RetryPolicy {
  /** When false, a failed attempt is final. */
  readonly enabled: boolean;
  /** Wait before the first retry (before jitter). */
  readonly initialIntervalMs: number;
  /** Upper bound of the un-randomized wait; jitter may still go up to `(1 + factor) ·` this. */
  readonly maxIntervalMs: number;
  /** Total time budget for one request, from its first attempt; 0 means no limit. */
  readonly maxElapsedMs: number;
  readonly multiplier: number;
  /** 0.5 turns a 1 s interval into a uniformly random wait in [0.5 s, 1.5 s]. */
  readonly randomizationFactor: number;
}

/** The Collector's `retry_on_failure` defaults. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  enabled: true,
  initialIntervalMs: 5_000,
  maxIntervalMs: 30_000,
  maxElapsedMs: 300_000,
  multiplier: 1.5,
  randomizationFactor: 0.5,
});

/** Fills unset fields from the defaults. */
export function resolveRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return Object.freeze({ ...DEFAULT_RETRY_POLICY, ...overrides });
}

/**
 * The wait before retry number `attempt` (0 = the first retry), in ms.
 * `random` returns a number in [0, 1).
 */
export function nextDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const growth = Math.pow(policy.multiplier, Math.max(0, attempt));
  const interval = Math.min(policy.initialIntervalMs * growth, policy.maxIntervalMs);
  const spread = policy.randomizationFactor * interval;
  return Math.max(0, Math.round(interval - spread + random() * 2 * spread));
}

/**
 * Parses a Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into a wait
 * in ms from `nowMs`. Returns undefined when absent or unparseable, so the computed backoff
 * applies; a date in the past means "retry now" (0).
 */
export function parseRetryAfter(headerValue: string | null | undefined, nowMs: number): number | undefined {
  if (headerValue === null || headerValue === undefined) return undefined;
  const value = headerValue.trim();
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // HTTP-dates always name a month; requiring letters stops Date.parse's leniency from
  // reading "1.5" or "-3" as dates. asctime dates carry no zone but are GMT by definition.
  if (!/[a-z]{3}/i.test(value)) return undefined;
  const at = Date.parse(/GMT/i.test(value) ? value : `${value} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export type HttpStatusClass = 'success' | 'retryable' | 'permanent';

/** OTLP/HTTP: 2xx succeeded; only 429, 502, 503 and 504 may be retried; anything else is final. */
export function classifyHttpStatus(status: number): HttpStatusClass {
  if (status >= 200 && status < 300) return 'success';
  if (status === 429 || status === 502 || status === 503 || status === 504) return 'retryable';
  return 'permanent';
}

/** The throttling answers whose Retry-After the OTLP spec tells clients to honour. */
export function honoursRetryAfter(status: number): boolean {
  return status === 429 || status === 503;
}

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: string };

export interface RetryState {
  /** Retries already made (0 after the first failed attempt). */
  readonly retriesSoFar: number;
  /** Time since the request's first attempt began. */
  readonly elapsedMs: number;
  /** A server-requested wait (Retry-After), if the failed answer carried one. */
  readonly retryAfterMs?: number;
}

/**
 * Decides whether and when to retry after a retryable failure.
 * - computed backoff: give up when the wait would end past `maxElapsed` (Collector behaviour);
 * - Retry-After: the server knows best, so it replaces the computed wait, but never beyond the
 *   remaining budget: the request gets one last attempt when its budget runs out.
 */
export function decideRetry(policy: RetryPolicy, state: RetryState, random: () => number): RetryDecision {
  if (!policy.enabled) return { retry: false, reason: 'retries disabled' };
  const unlimited = policy.maxElapsedMs <= 0;
  const remainingMs = unlimited ? Infinity : policy.maxElapsedMs - state.elapsedMs;
  if (remainingMs <= 0) return { retry: false, reason: `gave up after ${state.elapsedMs} ms` };
  if (state.retryAfterMs !== undefined) {
    return { retry: true, delayMs: Math.min(state.retryAfterMs, remainingMs) };
  }
  const delayMs = nextDelay(policy, state.retriesSoFar, random);
  if (delayMs > remainingMs) {
    return { retry: false, reason: `gave up after ${state.elapsedMs} ms: next retry would exceed max elapsed time` };
  }
  return { retry: true, delayMs };
}

/** What one attempt produced, as the retry loop needs to know it. */
export type AttemptResult<T> =
  | { readonly kind: 'delivered'; readonly value: T }
  | { readonly kind: 'permanent'; readonly reason: string }
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMs?: number };

export type RetryOutcome<T> =
  | { readonly kind: 'delivered'; readonly value: T; readonly attempts: number }
  | { readonly kind: 'permanent'; readonly reason: string; readonly attempts: number }
  /** Retries were not allowed or the time budget ran out. */
  | { readonly kind: 'exhausted'; readonly reason: string; readonly attempts: number }
  /** The abort signal fired (shutdown deadline). */
  | { readonly kind: 'aborted'; readonly reason: string; readonly attempts: number };

/**
 * The exporter outcome of a retry loop that did not deliver: a permanent refusal must not be
 * retried by the client; a loop that ran out of time or was aborted may succeed later, since
 * the downstream never refused the data for what it is.
 */
export function undeliveredOutcome(result: Exclude<RetryOutcome<unknown>, { kind: 'delivered' }>): ExportOutcome {
  return { kind: 'failed', retryable: result.kind !== 'permanent', reason: result.reason };
}

/** Time and chance, injected. `sleep` must resolve (not reject) early when `signal` aborts. */
export interface RetryRuntime {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
}

export interface RetryLoopOptions {
  readonly policy: RetryPolicy;
  readonly runtime: RetryRuntime;
  readonly signal: AbortSignal;
  /** Called before each wait, for counters and logs. */
  readonly onRetry?: (delayMs: number, reason: string) => void;
}

/**
 * Calls `attempt` until it delivers, fails permanently, the policy gives up or `signal`
 * aborts. `attempt` must not throw; it reports every failure as a result.
 */
export async function runWithRetry<T>(
  attempt: (attemptNumber: number) => Promise<AttemptResult<T>>,
  options: RetryLoopOptions,
): Promise<RetryOutcome<T>> {
  const { policy, runtime, signal } = options;
  const startedAt = runtime.now();
  for (let attempts = 1; ; attempts++) {
    if (signal.aborted) return { kind: 'aborted', reason: abortReason(signal), attempts: attempts - 1 };
    const result = await attempt(attempts);
    if (result.kind === 'delivered') return { kind: 'delivered', value: result.value, attempts };
    if (result.kind === 'permanent') return { kind: 'permanent', reason: result.reason, attempts };
    if (signal.aborted) return { kind: 'aborted', reason: `${abortReason(signal)} (last error: ${result.reason})`, attempts };
    const decision = decideRetry(
      policy,
      { retriesSoFar: attempts - 1, elapsedMs: runtime.now() - startedAt, retryAfterMs: result.retryAfterMs },
      () => runtime.random(),
    );
    if (!decision.retry) return { kind: 'exhausted', reason: `${decision.reason} (last error: ${result.reason})`, attempts };
    options.onRetry?.(decision.delayMs, result.reason);
    await runtime.sleep(decision.delayMs, signal);
  }
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted';
}

/** A real-time sleep that resolves early (never rejects) when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const SYSTEM_RETRY_RUNTIME: RetryRuntime = Object.freeze({
  now: () => Date.now(),
  sleep: abortableSleep,
  random: () => Math.random(),
});
