// Shared set-up for the budget API tests: a real Express app on 127.0.0.1:0 over a real SQLite
// usage store in a temporary directory, seeded through the store's record API and flushed, and
// rules compiled from YAML. Values are chosen so the expected answers can be computed by hand.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createApp } from '../../api/app.js';
import type { TokenEntry } from '../../api/auth.js';
import type { BudgetApiDeps } from '../../api/routes.js';
import { openUsageStore } from '../../collector/usage/store.js';
import type { UsageStore } from '../../collector/usage/store.js';
import type { CompiledRules } from '../../rules/compiled.js';
import { parseRules } from '../../rules/load.js';
import type { ReloadReport } from '../../rules/watcher.js';

/** 2025-01-15T10:00:00Z, the API's "now": a whole minute, so the 5-minute rate window is [T0 − 5m, T0). */
export const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
export const MIN = 60_000;

export const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  checkout: 'checkout-token-0123456789abcdef',
  search: 'search-token-0123456789abcdef',
} as const;

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

export const TOKEN_ENTRIES: readonly TokenEntry[] = [
  { name: 'ops', admin: true, sha256: sha(TOKENS.admin) },
  { name: 'checkout-ci', admin: false, team: 'checkout', sha256: sha(TOKENS.checkout) },
  { name: 'search-ci', admin: false, team: 'search', sha256: sha(TOKENS.search) },
];

export const RULES_YAML = `version: 1
teams:
  - name: checkout
    match: { service.name: checkout }
    budgets:
      metrics: { max_active_series: 1000 }
      max_spans_per_second: 10
      max_bytes_per_day: 1MB
  - name: search
    match: { service.name: search }
    budgets:
      metrics: { max_active_series: 100 }
`;

export interface ApiFixture {
  readonly base: string;
  readonly store: UsageStore;
  readonly rules: CompiledRules;
  readonly reloads: { count: number };
  /** The API's and the store's clock (T0 after seeding); move it to test time-based behaviour. */
  readonly clock: { t: number };
  get(path: string, token?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  /** `body`: sent as JSON, or as is when already a string (with `contentType`, default application/json). */
  request(method: string, path: string, token?: string, body?: unknown, contentType?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * The seeded store. checkout: spans 1,200 in / 900 passed / 300 dropped and 50,000 bytes in the
 * minute T0 − 3m, 600 / 600 / 0 and 20,000 bytes in T0 − 2m; 850 active series; two metrics,
 * two labels; two violations. search: 120 active series (over its 100) and one violation.
 */
function seed(store: UsageStore, clock: { t: number }): void {
  clock.t = T0 - 3 * MIN + 10_000;
  store.recordUsage('checkout', 'traces', { itemsIn: 1200, passed: 900, dropped: 300, bytes: 50_000 });
  clock.t = T0 - 2 * MIN + 5_000;
  store.recordUsage('checkout', 'traces', { itemsIn: 600, passed: 600, bytes: 20_000 });
  store.recordViolation({ team: 'checkout', metric: 'http_requests', rule: 'per_label:user_id', action: 'drop', count: 5, labels: { user_id: 'u1' } });
  clock.t = T0 - MIN + 1_000;
  store.recordTeamSeries('checkout', 850);
  store.recordMetricSeries('checkout', 'http_requests', 600);
  store.recordMetricSeries('checkout', 'db_calls', 250);
  store.recordLabelEstimate('checkout', 'http_requests', 'user_id', 400);
  store.recordLabelEstimate('checkout', 'http_requests', 'route', 12);
  store.recordViolation({ team: 'checkout', metric: 'http_requests', rule: 'max_active_series', action: 'overflow', count: 3 });
  store.recordTeamSeries('search', 120);
  store.recordViolation({ team: 'search', metric: 'queries', rule: 'max_active_series', action: 'drop', count: 1 });
  store.flush();
  clock.t = T0;
}

export async function startApiFixture(overrides: Partial<BudgetApiDeps> = {}): Promise<ApiFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-api-'));
  const clock = { t: T0 };
  const store = openUsageStore({ dataDir: dir, now: () => clock.t });
  seed(store, clock);
  const rules = parseRules(RULES_YAML, 'rules.yaml');
  const reloads = { count: 0 };
  const reload = (): ReloadReport => {
    reloads.count++;
    return { outcome: 'unchanged', hash: rules.hash };
  };
  const app = createApp({
    registry: new Registry(),
    isReady: () => true,
    version: '0.0.0-test',
    // A limit no test reaches by accident; the rate-limit test sets its own.
    budgetApi: { reader: store.reader, exceptions: store.exceptions, rules: () => rules, reload, tokens: TOKEN_ENTRIES, now: () => clock.t, rateLimit: { burst: 10_000, perSecond: 10_000 }, ...overrides },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1');
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request = async (method: string, path: string, token?: string, body?: unknown, contentType = 'application/json') => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = contentType;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const response = await fetch(`${base}${path}`, { method, headers, body: payload });
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
  };
  return {
    base,
    store,
    rules,
    reloads,
    clock,
    request,
    get: (path, token) => request('GET', path, token),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
