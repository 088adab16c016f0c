// The dashboard at `/` in real headless Chromium, against the budget API over a real SQLite
// usage store. The shared API fixture (support.ts) is extended with a day of minute rows, a
// growing series count and more violations; every figure the page must show is computed here
// from the seeded values, not read back from the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { BudgetReader } from '../../collector/usage/reader.js';
import { chromiumSkipReason, launchChromium } from '../support/chromium.js';
import type { ChromiumSession } from '../support/chromium.js';
import { MIN, T0, TOKENS, startApiFixture } from './support.js';
import type { ApiFixture } from './support.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT = join(ROOT, 'docs', 'images', 'dashboard.png');
const DAY = 24 * 60 * MIN;
/** Minute rows from T0 − 24 h up to T0 − 6 min: outside the 5-minute rate window the fixture's spans fill. */
const HISTORY_MINUTES = 24 * 60 - 6;
const BYTES_PER_MINUTE = { metrics: 200, traces: 150, logs: 50 } as const;

function metricsAt(k: number) {
  const itemsIn = 1000 + 4 * (k % 360);
  const dropped = k >= 1200 ? 120 : 0;
  const overflowed = k >= 1200 ? 40 : 0;
  return { itemsIn, passed: itemsIn - dropped - overflowed, dropped, overflowed, bytes: BYTES_PER_MINUTE.metrics };
}

function tracesAt(k: number) {
  const itemsIn = k % 120 < 60 ? 900 : 1300;
  const passed = Math.round(itemsIn * 0.6);
  return { itemsIn, passed, dropped: itemsIn - passed, bytes: BYTES_PER_MINUTE.traces };
}

function logsAt() {
  return { itemsIn: 400, passed: 400, bytes: BYTES_PER_MINUTE.logs };
}

/** Adds a day of usage, a series count growing over the last half hour, label estimates and violations to the fixture's checkout team. */
function seedHistory(api: ApiFixture): void {
  const { store, clock } = api;
  for (let k = 0; k < HISTORY_MINUTES; k++) {
    clock.t = T0 - DAY + k * MIN + 1_000;
    store.recordUsage('checkout', 'metrics', metricsAt(k));
    store.recordUsage('checkout', 'traces', tracesAt(k));
    store.recordUsage('checkout', 'logs', logsAt());
  }
  // 700, 705, … in the minutes T0 − 30 min … T0 − 2 min; the fixture's 850 at T0 − 1 min is the latest.
  for (let j = 0; j < 29; j++) {
    clock.t = T0 - (30 - j) * MIN + 2_000;
    store.recordTeamSeries('checkout', 700 + 5 * j);
  }
  clock.t = T0 - 90 * MIN;
  store.recordViolation({ team: 'checkout', metric: 'db_calls', rule: 'per_label:db.statement', action: 'strip_label', count: 40, labels: { 'db.statement': 'SELECT …' } });
  clock.t = T0 - 45 * MIN;
  store.recordViolation({ team: 'checkout', metric: 'http_requests', rule: 'per_label:user_id', action: 'drop', count: 12, labels: { user_id: 'u9', route: '/cart' } });
  clock.t = T0 - MIN + 3_000;
  store.recordLabelEstimate('checkout', 'db_calls', 'db.statement', 240);
  store.recordLabelEstimate('checkout', 'db_calls', 'db.system', 2);
  store.flush();
  clock.t = T0;
}

interface MinuteRow {
  readonly itemsIn: number;
  readonly passed: number;
  readonly dropped?: number;
}

/** A field summed over the seeded history. */
function total(at: (k: number) => MinuteRow, field: keyof MinuteRow): number {
  let sum = 0;
  for (let k = 0; k < HISTORY_MINUTES; k++) sum += at(k)[field] ?? 0;
  return sum;
}
const en = (n: number): string => n.toLocaleString('en-US');

let api: ApiFixture;
let browser: ChromiumSession | undefined;
const skip = chromiumSkipReason();

before(async () => {
  api = await startApiFixture();
  seedHistory(api);
  if (!skip) browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await api.close();
});

interface PageLog {
  readonly errors: string[];
}

async function openPage(base: string): Promise<{ page: Page; log: PageLog }> {
  if (!browser) throw new Error('no browser');
  const page = await browser.context.newPage();
  const log: PageLog = { errors: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') log.errors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => log.errors.push(`pageerror: ${error.message}`));
  await page.goto(`${base}/`);
  return { page, log };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('API token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Show budgets' }).click();
}

const cellTexts = (page: Page, selector: string): Promise<string[][]> =>
  page
    .locator(`${selector} tbody tr`)
    .evaluateAll((rows) => rows.map((row) => [...row.children].map((cell) => (cell as unknown as { innerText: string }).innerText.replace(/\s+/g, ' ').trim())));

test('a team token sees its team, budget, usage charts, top metrics and violations, and nothing of another team', { skip, timeout: 60_000 }, async () => {
  const { page, log } = await openPage(api.base);
  await signIn(page, TOKENS.checkout);
  await page.locator('#violations table').waitFor();
  await page.locator('#cardinality table').waitFor();
  await page.locator('figure.usage[data-signal="logs"] svg').waitFor();

  // Teams: only checkout; its highest line is 850 of 1,000 series.
  assert.deepEqual(await cellTexts(page, '#teams'), [['checkout', 'standard', 'warning', '85.0%']]);
  const meter = page.getByRole('meter', { name: 'checkout: highest utilization' });
  assert.equal(await meter.getAttribute('aria-valuetext'), '85.0%');
  assert.equal(await meter.getAttribute('aria-valuenow'), '85');

  // Budget lines, each computed from the seed: spans (900 + 600) / 300 s = 5/s of 10; no logs in
  // the rate window and no logs limit; bytes: the fixture's 70,000 plus 400 a minute for the history.
  const bytes = 70_000 + HISTORY_MINUTES * (BYTES_PER_MINUTE.metrics + BYTES_PER_MINUTE.traces + BYTES_PER_MINUTE.logs);
  assert.equal(bytes, 643_600);
  assert.deepEqual(await cellTexts(page, '#budget'), [
    ['Active series', '850 series', '1,000 series', '85.0%', 'warning', 'active series over 1h'],
    ['Spans per second', '5 spans/s', '10 spans/s', '50.0%', 'ok', 'mean rate over 5m'],
    ['Log records per second', '0 log records/s', '—', 'no limit', 'ok', 'mean rate over 5m'],
    ['Bytes per day', '643.6 kB/day', '1 MB/day', '64.4%', 'ok', 'sum over 24h'],
  ]);
  // The series count grew over the last half hour, so there is a forecast.
  assert.match(await page.locator('#budget .forecast').innerText(), /^At the current growth the series budget is reached /);

  // Usage: 24 h at 15-minute steps is 96 points per line; totals are the seeded sums.
  for (const signal of ['metrics', 'traces', 'logs']) {
    const lines = page.locator(`figure.usage[data-signal="${signal}"] polyline`);
    const vertices = await lines.evaluateAll((nodes) => nodes.map((n) => (n.getAttribute('points') ?? '').trim().split(/\s+/).length));
    assert.deepEqual(vertices, signal === 'metrics' ? [96, 96, 96, 96] : [96, 96, 96], `${signal} chart lines`);
  }
  const legend = (signal: string) => page.locator(`figure.usage[data-signal="${signal}"] .legend li`).allInnerTexts();
  // Traces: the history plus the fixture's 1,200 / 900 / 300 and 600 / 600 / 0.
  assert.deepEqual(await legend('traces'), [`received: ${en(total(tracesAt, 'itemsIn') + 1800)}`, `passed: ${en(total(tracesAt, 'passed') + 1500)}`, `dropped: ${en(total(tracesAt, 'dropped') + 300)}`]);
  assert.deepEqual(await legend('logs'), [`received: ${en(400 * HISTORY_MINUTES)}`, `passed: ${en(400 * HISTORY_MINUTES)}`, 'dropped: 0']);
  assert.equal((await legend('metrics'))[0], `received: ${en(total(metricsAt, 'itemsIn'))}`);
  // The drawn line follows the data: the traces "received" line is not flat (900 and 1,300 alternate every hour).
  const ys = await page.locator('figure.usage[data-signal="traces"] polyline.line-items_in').evaluate((n) => (n.getAttribute('points') ?? '').trim().split(/\s+/).map((p: string) => Number(p.split(',')[1])));
  assert.ok(new Set(ys).size > 1, 'the traces line has more than one height');

  // Top metrics and their labels.
  assert.deepEqual(await cellTexts(page, '#cardinality'), [
    ['http_requests', '600', '100.0%', 'user_id 400 route 12'],
    ['db_calls', '250', '41.7%', 'db.statement 240 db.system 2'],
  ]);

  // Violations, newest first (one row per minute × metric × rule × action).
  const violations = await cellTexts(page, '#violations');
  assert.deepEqual(
    violations.map((row) => row.slice(1, 5)),
    [
      ['http_requests', 'max_active_series', 'overflow', '3'],
      ['http_requests', 'per_label:user_id', 'drop', '5'],
      ['http_requests', 'per_label:user_id', 'drop', '12'],
      ['db_calls', 'per_label:db.statement', 'strip_label', '40'],
    ],
  );
  assert.equal(violations[2][5], 'route=/cart, user_id=u9');
  assert.equal(violations[0][0], new Date(T0 - MIN).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }));

  // Nothing of the search team: not its name, its 120 % utilization, nor its violation's metric.
  const text = await page.locator('body').innerText();
  for (const absent of ['search', '120.0%', 'queries']) assert.ok(!text.includes(absent), `"${absent}" is not on the page`);

  // Accessible structure: one h1, a heading per section, tables named by their captions.
  assert.equal(await page.locator('h1').count(), 1);
  for (const heading of ['Teams', 'Budget of checkout', 'Usage of checkout over time', 'Top metrics of checkout and their labels', 'Recent violations of checkout']) {
    assert.equal(await page.getByRole('heading', { name: heading, level: 2 }).count(), 1, heading);
  }
  assert.equal(await page.getByRole('table', { name: 'Budget of checkout' }).count(), 1);

  // The token stays out of the URL; the page ran without script errors or policy violations.
  assert.ok(!page.url().includes(TOKENS.checkout));
  assert.equal(await page.evaluate('sessionStorage.getItem("tollgate.token")'), TOKENS.checkout);
  assert.deepEqual(log.errors, []);

  // The screenshot for the README; rewritten only on request so a test run leaves the tree clean.
  const shotDir = mkdtempSync(join(tmpdir(), 'tollgate-shot-'));
  try {
    const target = process.env.UPDATE_SCREENSHOTS === '1' ? SCREENSHOT : join(shotDir, 'dashboard.png');
    mkdirSync(dirname(target), { recursive: true });
    await page.screenshot({ path: target, fullPage: true });
    const png = readFileSync(target);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(png.readUInt32BE(16), 1280, 'screenshot width');
  } finally {
    rmSync(shotDir, { recursive: true, force: true });
  }
  await page.close();
});

test('the range switch redraws the charts: 7 days at hourly steps', { skip, timeout: 60_000 }, async () => {
  const { page, log } = await openPage(api.base);
  await signIn(page, TOKENS.checkout);
  await page.locator('figure.usage[data-signal="traces"] svg').waitFor();
  await page.getByRole('radio', { name: '7 days' }).check();
  await page.getByText('spans per hour', { exact: true }).waitFor();
  // 7 days of hourly buckets from T0 − 7 d: 168 points; the history lies in the last 24 of them.
  const vertices = await page.locator('figure.usage[data-signal="traces"] polyline.line-items_in').evaluate((n) => (n.getAttribute('points') ?? '').trim().split(/\s+/).length);
  assert.equal(vertices, 168);
  assert.deepEqual(log.errors, []);
  await page.close();
});

test('a quick range change never shows the slower answer of the range before it', { skip, timeout: 60_000 }, async () => {
  const { page, log } = await openPage(api.base);
  await signIn(page, TOKENS.checkout);
  await page.locator('figure.usage[data-signal="traces"] svg').waitFor();
  // The 7-day answers are held back until the 1-hour charts are drawn, then let through.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let heldCount = 0;
  await page.route(/\/usage\?.*step=1h/, async (route) => {
    heldCount++;
    await held;
    await route.continue();
  });
  await page.getByRole('radio', { name: '7 days' }).check();
  await page.getByRole('radio', { name: '1 hour' }).check();
  await page.getByText('spans per minute', { exact: true }).waitFor();
  assert.equal(heldCount, 3, 'the 7-day requests were made and held');
  const answered = page.waitForResponse(/\/usage\?signal=logs.*step=1h/);
  release();
  await answered;
  // Give the page a moment to (wrongly) render the late answers, then check the 1-hour charts stayed.
  await page.waitForTimeout(300);
  assert.equal(await page.getByText('spans per hour', { exact: true }).count(), 0);
  assert.equal(await page.getByText('spans per minute', { exact: true }).count(), 1);
  assert.deepEqual(log.errors, []);
  await page.close();
});

test('a refused token brings the token form back with the API\'s code and message, and is not kept', { skip, timeout: 60_000 }, async () => {
  const { page } = await openPage(api.base);
  const message = page.locator('#login-message');
  assert.equal(await page.getByRole('heading', { name: 'Sign in with an API token' }).isVisible(), true);
  assert.equal(await message.isVisible(), false);

  await signIn(page, 'not-a-token');
  await message.waitFor();
  assert.match(await message.innerText(), /^The token was not accepted \(unauthorized: /);
  assert.equal(await page.evaluate('sessionStorage.getItem("tollgate.token")'), null);
  assert.equal(await page.locator('#board').isVisible(), false);

  // A good token then works, and survives a reload (session storage) without ever entering the URL.
  await signIn(page, TOKENS.search);
  await page.locator('#teams table').waitFor();
  assert.deepEqual(await cellTexts(page, '#teams'), [['search', 'standard', 'exceeded', '120.0%']]);
  await page.reload();
  await page.locator('#teams table').waitFor();
  assert.ok(!page.url().includes(TOKENS.search));

  // A stored token the API no longer accepts (rotated, say) also leads back to the form.
  await page.evaluate('sessionStorage.setItem("tollgate.token", "rotated-away")');
  await page.reload();
  await message.waitFor();
  assert.match(await message.innerText(), /unauthorized/);
  assert.equal(await page.evaluate('sessionStorage.getItem("tollgate.token")'), null);

  // "Forget token" drops it.
  await signIn(page, TOKENS.search);
  await page.locator('#teams table').waitFor();
  await page.getByRole('button', { name: 'Forget token' }).click();
  assert.equal(await page.getByLabel('API token', { exact: true }).isVisible(), true);
  assert.equal(await page.evaluate('sessionStorage.getItem("tollgate.token")'), null);
  await page.close();
});

test('an admin picks a team; a failing route shows its {code, message} in its section, empty data says so', { skip, timeout: 60_000 }, async () => {
  // The fixture's store without the history (no metrics or logs usage), with top metrics failing.
  const store: { reader?: BudgetReader } = {};
  const readerOf = (): BudgetReader => {
    if (!store.reader) throw new Error('reader used before the fixture started');
    return store.reader;
  };
  const broken: BudgetReader = {
    teamBudgetStatus: (...args) => readerOf().teamBudgetStatus(...args),
    topMetrics: () => {
      throw new Error('simulated failure');
    },
    topLabels: (...args) => readerOf().topLabels(...args),
    violations: (...args) => readerOf().violations(...args),
    usage: (...args) => readerOf().usage(...args),
  };
  const other = await startApiFixture({ reader: broken });
  store.reader = other.store.reader;
  try {
    const { page } = await openPage(other.base);
    await signIn(page, TOKENS.admin);
    await page.locator('#teams table').waitFor();
    assert.deepEqual(await cellTexts(page, '#teams'), [
      ['checkout', 'standard', 'warning', '85.0%'],
      ['search', 'standard', 'exceeded', '120.0%'],
      // The rules' implicit catch-all team, without limits.
      ['default', 'standard', 'ok', 'no limit'],
    ]);
    await page.getByRole('button', { name: 'search', exact: true }).click();
    await page.getByRole('heading', { name: 'Budget of search' }).waitFor();
    await page.locator('#violations table').waitFor();
    assert.match(page.url(), /#team=search$/);
    assert.equal(await page.getByRole('button', { name: 'search', exact: true }).getAttribute('aria-pressed'), 'true');
    // The API's 500 answer, as it gave it; the other sections are unaffected.
    assert.equal(await page.locator('#cardinality .error').innerText(), 'internal: an internal error occurred');
    assert.deepEqual((await cellTexts(page, '#violations')).map((row) => row.slice(1, 5)), [['queries', 'max_active_series', 'drop', '1']]);
    assert.equal((await cellTexts(page, '#budget'))[0][3], '120.0%');
    for (const [signal, items] of [['metrics', 'data points'], ['traces', 'spans'], ['logs', 'log records']]) {
      assert.equal(await page.locator(`figure.usage[data-signal="${signal}"] .empty`).innerText(), `No ${items} recorded in this range.`);
    }
    await page.close();
  } finally {
    await other.close();
  }
});
