import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import { USAGE_DB_FILE } from '../collector/usage/database.js';
import { DAY_MS, MINUTE_MS } from '../collector/usage/time.js';
import type { ClientBatch, ClientResult } from './api-client.js';
import { TEAMS, copyApiStore, ensureApiStore, teamName } from './api-store.js';
import type { GeneratedStore } from './api-store.js';
import { createCoreMeter } from './cpu-usage.js';
import type { LoadResult } from './load.js';
import { createTarget, runClosedLoop } from './load.js';
import { SERVICE_CORE, canPin } from './machine.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { startSink } from './sink.js';
import { formatFixed, formatInteger, median, percentile, toMebibytes } from './stats.js';
import type { TollgateProcess } from './tollgate-process.js';
import { startTollgate } from './tollgate-process.js';
import { metricsRequest } from './workloads.js';

/**
 * `api`: the budget API's latency on a store holding 90 days of data for 200 teams (see
 * api-store.ts), served by the real `tollgate serve` process while the e2e-http load generator
 * keeps its OTLP/HTTP receiver at full speed (closed loop, 8 connections). One API client (on a
 * worker thread, see api-client.ts) sends one request at a time, round-robin over the teams with
 * each team's own token, and times each from send to the last byte of the answer:
 *
 *   - `GET /api/v1/teams/{team}/budget`: BUDGET_REQUESTS requests;
 *   - `GET /api/v1/teams/{team}/usage?signal=metrics&from=now-7d&to=now&step=5m`: USAGE_REQUESTS.
 *
 * The client's thread shares core 1 with the load generator and the sink, so some of its own
 * waiting for the CPU is in the figures too: they are an upper bound of what Tollgate adds.
 */

const SUITE = 'api';
const BUDGET_REQUESTS = 2_400;
const USAGE_REQUESTS = 240;
/** The same routes before ingest starts, for comparison (no target). */
const IDLE_BUDGET_REQUESTS = 1_000;
const IDLE_USAGE_REQUESTS = 100;
const USAGE_STEP = '5m';
const INGEST_CONCURRENCY = 8;
/** Ingest runs in slices of this length until the API phases are done (load.ts runs fixed windows). */
const INGEST_SLICE_MS = 1_000;
const WARMUP_INGEST_MS = 2_000;
const TARGET_BUDGET_P99_MS = 20;
const TARGET_USAGE_P99_MS = 100;
/** Opening the store runs SQLite's full integrity check, which reads the whole file. */
const READY_TIMEOUT_MS = 180_000;

/** A deterministic token per team; only its hash goes into the config. */
function tokenOf(team: string): string {
  return `bench-${team}-${createHash('sha256').update(team).digest('hex').slice(0, 24)}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const TEAM_NAMES = Array.from({ length: TEAMS }, (_, i) => teamName(i));

/**
 * The teams' rules. The load generator's requests come from `service.name: checkout`, which the
 * first team matches, so ingest runs through attribution, the cardinality budget and the meter
 * of a team with budgets, as the API's figures do.
 */
function rulesYaml(): string {
  const teams = TEAM_NAMES.map(
    (team, i) => `  - name: ${team}
    match: { service.name: ${i === 0 ? 'checkout' : team} }
    budgets:
      metrics: { max_active_series: 100000 }
      max_spans_per_second: 2000
      max_log_records_per_second: 5000
      max_bytes_per_day: 50GB
`,
  );
  return `version: 1\nmode: enforce\nteams:\n${teams.join('')}`;
}

function tokensYaml(): string {
  return `  tokens:\n${TEAM_NAMES.map((team) => `    - { name: ${team}, team: ${team}, sha256: ${sha256(tokenOf(team))} }\n`).join('')}`;
}

interface Timed {
  readonly latenciesMs: number[];
  readonly failures: Map<number, number>;
  readonly bytes: number[];
  /** CPU time the Tollgate process used per request over the phase, ms (without ingest: the route's own cost, whatever else the machine runs). */
  cpuMsPerRequest: number;
}

/** The API client on its worker thread (api-client.ts): one batch at a time. */
interface Client {
  run(batch: ClientBatch): Promise<ClientResult>;
  close(): Promise<void>;
}

function startClient(): Client {
  const worker = new Worker(new URL('./api-client.js', import.meta.url));
  return {
    run: (batch) =>
      new Promise<ClientResult>((resolve, reject) => {
        const onError = (error: Error): void => reject(error);
        worker.once('error', onError);
        worker.once('message', (result: ClientResult) => {
          worker.off('error', onError);
          resolve(result);
        });
        worker.postMessage(batch);
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}

/** Sends `count` GETs one after another, team by team, and times each to its last byte. */
async function timeRequests(tollgate: TollgateProcess, client: Client, count: number, url: (team: string) => string): Promise<Timed> {
  const requests = Array.from({ length: count }, (_, i) => {
    const team = TEAM_NAMES[i % TEAMS];
    return { url: url(team), token: tokenOf(team) };
  });
  const cpuBefore = tollgate.cpuSeconds();
  const result = await client.run({ requests });
  const timed: Timed = { latenciesMs: [], failures: new Map(), bytes: [], cpuMsPerRequest: ((tollgate.cpuSeconds() - cpuBefore) * 1000) / count };
  result.statuses.forEach((status, i) => {
    if (status === 200) {
      timed.latenciesMs.push(result.latenciesMs[i]);
      timed.bytes.push(result.bytes[i]);
    } else {
      timed.failures.set(status, (timed.failures.get(status) ?? 0) + 1);
    }
  });
  return timed;
}

interface Ingest {
  /** How many slices have finished so far. */
  finishedSlices(): number;
  /** Stops after the current slice and resolves with every slice's result. */
  stop(): Promise<LoadResult[]>;
}

/** The e2e-http load generator, closed loop at full speed, in back-to-back slices until stopped. */
function startIngest(url: string, body: Uint8Array): Ingest {
  const target = createTarget(url, body, INGEST_CONCURRENCY);
  let running = true;
  const results: LoadResult[] = [];
  const loop = (async () => {
    while (running) results.push(await runClosedLoop(target, INGEST_CONCURRENCY, 0, INGEST_SLICE_MS));
    target.agent.destroy();
    return results;
  })();
  return {
    finishedSlices: () => results.length,
    stop: () => {
      running = false;
      return loop;
    },
  };
}

interface Measured {
  readonly store: GeneratedStore;
  readonly copySeconds: number;
  readonly startSeconds: number;
  readonly budget: Timed;
  readonly usage: Timed;
  readonly idleBudget: Timed;
  readonly idleUsage: Timed;
  /** Other processes' share of core 0 while the routes were timed without ingest. */
  readonly idleOtherPercent: number;
  readonly usagePoints: number;
  readonly ingest: LoadResult[];
  readonly ingestSeconds: number;
  readonly pointsPerRequest: number;
  readonly tollgateCpuPercent: number;
  readonly otherPercent: number;
}

export async function runApiSuite(): Promise<Figure[]> {
  console.log(`\n[${SUITE}] usage store: ${TEAMS} teams, 90 days (minute rows for the last 7, hourly before)`);
  const store = ensureApiStore();
  console.log(
    store.generated
      ? `[${SUITE}] generated ${formatInteger(store.rows)} rows, ${formatFixed(toMebibytes(store.bytes), 0)} MiB in ${formatFixed(store.seconds, 1)} s: ${store.path}`
      : `[${SUITE}] cached: ${store.path} (${formatFixed(toMebibytes(store.bytes), 0)} MiB)`,
  );
  const request = metricsRequest();
  const sink = await startSink(request.length);
  let tollgate: TollgateProcess | undefined;
  try {
    let copySeconds = 0;
    const started = performance.now();
    tollgate = await startTollgate({
      downstream: sink.url,
      rulesYaml: rulesYaml(),
      apiConfig: tokensYaml(),
      readyTimeoutMs: READY_TIMEOUT_MS,
      prepareDataDir: (dir) => {
        const copyStarted = performance.now();
        copyApiStore(store, join(dir, USAGE_DB_FILE));
        copySeconds = (performance.now() - copyStarted) / 1000;
      },
    });
    const startSeconds = (performance.now() - started) / 1000 - copySeconds;
    console.log(`[${SUITE}] store copied in ${formatFixed(copySeconds, 1)} s; Tollgate ready ${formatFixed(startSeconds, 1)} s after start`);
    const client = startClient();
    let measured: Measured;
    try {
      measured = await measure(tollgate, client, request, store, copySeconds, startSeconds);
    } finally {
      await client.close();
    }
    printTables(measured);
    return figures(measured);
  } finally {
    await tollgate?.stop();
    await sink.close();
  }
}

async function measure(tollgate: TollgateProcess, client: Client, request: Uint8Array, store: GeneratedStore, copySeconds: number, startSeconds: number): Promise<Measured> {
  const api = `${tollgate.apiUrl}/api/v1/teams`;
  const budgetUrl = (team: string): string => `${api}/${team}/budget`;
  const usageUrl = (team: string): string => {
    // "now − 7 d to now", as the dashboard asks: whole minutes, the current one still filling.
    const to = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    return `${api}/${team}/usage?signal=metrics&from=${to - 7 * DAY_MS}&to=${to}&step=${USAGE_STEP}`;
  };

  // Without ingest first: what the routes cost by themselves (a pass over every team warms the caches).
  await timeRequests(tollgate, client, TEAMS, budgetUrl);
  const idleCore = createCoreMeter(SERVICE_CORE);
  const idleCpuBefore = tollgate.cpuSeconds();
  const idleBudget = await timeRequests(tollgate, client, IDLE_BUDGET_REQUESTS, budgetUrl);
  const idleUsage = await timeRequests(tollgate, client, IDLE_USAGE_REQUESTS, usageUrl);
  const idleOtherPercent = idleCore.end(tollgate.cpuSeconds() - idleCpuBefore).otherPercent;

  const ingest = startIngest(`${tollgate.otlpHttpUrl}/v1/metrics`, request);
  // Warm-up under load: connections, JIT, statement caches, and one pass over every team's pages.
  await new Promise((resolve) => setTimeout(resolve, WARMUP_INGEST_MS));
  const warm = await timeRequests(tollgate, client, TEAMS, budgetUrl);
  await timeRequests(tollgate, client, 20, usageUrl);
  if (warm.failures.size > 0) throw new Error(`${SUITE}: warm-up requests failed: ${describe(warm.failures)}\n${tollgate.stderr()}`);

  const core = createCoreMeter(SERVICE_CORE);
  const cpuBefore = tollgate.cpuSeconds();
  const windowStart = performance.now();
  // Slices that finish after this point ran (at least partly) while the API was measured.
  const slicesBefore = ingest.finishedSlices();
  const budget = await timeRequests(tollgate, client, BUDGET_REQUESTS, budgetUrl);
  const usage = await timeRequests(tollgate, client, USAGE_REQUESTS, usageUrl);
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const tollgateCpuSeconds = tollgate.cpuSeconds() - cpuBefore;
  const share = core.end(tollgateCpuSeconds);
  const slices = await ingest.stop();
  const inWindow = slices.slice(slicesBefore);

  const sample = await fetch(usageUrl(TEAM_NAMES[0]), { headers: { authorization: `Bearer ${tokenOf(TEAM_NAMES[0])}` } });
  const usagePoints = ((await sample.json()) as { points: unknown[] }).points.length;
  for (const [name, timed] of [
    ['budget', budget],
    ['usage', usage],
    ['budget (idle)', idleBudget],
    ['usage (idle)', idleUsage],
  ] as const) {
    if (timed.failures.size > 0) throw new Error(`${SUITE}: ${name} requests failed: ${describe(timed.failures)}\n${tollgate.stderr()}`);
  }
  const ingestOk = inWindow.reduce((sum, r) => sum + r.completed, 0);
  if (ingestOk === 0) throw new Error(`${SUITE}: no ingest request succeeded while the API was measured\n${tollgate.stderr()}`);
  return {
    store,
    copySeconds,
    startSeconds,
    budget,
    usage,
    idleBudget,
    idleUsage,
    idleOtherPercent,
    usagePoints,
    ingest: inWindow,
    ingestSeconds: inWindow.reduce((sum, r) => sum + r.windowSeconds, 0) || windowSeconds,
    pointsPerRequest: scanRequest(new WireIndex(), 'metrics', request).itemCount,
    tollgateCpuPercent: (tollgateCpuSeconds / windowSeconds) * 100,
    otherPercent: share.otherPercent,
  };
}

function describe(failures: ReadonlyMap<number, number>): string {
  return [...failures].map(([status, n]) => `${n}× ${status === 0 ? 'network error' : `HTTP ${status}`}`).join(', ');
}

const ms = (values: readonly number[], p: number): string => formatFixed(percentile(values, p), 2);

function ingestPointsPerSecond(m: Measured): number {
  return (m.ingest.reduce((sum, r) => sum + r.completed, 0) * m.pointsPerRequest) / m.ingestSeconds;
}

function printTables(m: Measured): void {
  const row = (name: string, t: Timed): string[] => [
    name,
    formatInteger(t.latenciesMs.length),
    ms(t.latenciesMs, 50),
    ms(t.latenciesMs, 90),
    ms(t.latenciesMs, 99),
    ms(t.latenciesMs, 100),
    // Under ingest the process's CPU time is mostly ingest: only the idle phases tell a route's cost.
    t === m.idleBudget || t === m.idleUsage ? formatFixed(t.cpuMsPerRequest, 2) : '–',
    formatInteger(median(t.bytes)),
  ];
  const header = ['route', 'requests', 'p50', 'p90', 'p99', 'max', 'Tollgate CPU ms/request', 'answer bytes'];
  printTable(
    `api latency while ingest runs at full speed (one client, one request at a time, round-robin over ${TEAMS} teams; ms to the last byte)`,
    header,
    [row('GET /teams/{team}/budget', m.budget), row(`GET /teams/{team}/usage (metrics, 7 d, step ${USAGE_STEP}: ${m.usagePoints} points)`, m.usage)],
  );
  printTable(
    'api latency without ingest (for comparison)',
    header,
    [row('GET /teams/{team}/budget', m.idleBudget), row('GET /teams/{team}/usage (metrics, 7 d)', m.idleUsage)],
  );
  printTable(
    'api: the process and its load',
    ['figure', 'value'],
    [
      ['usage store', `${formatInteger(m.store.rows)} rows generated, ${formatFixed(toMebibytes(m.store.bytes), 0)} MiB`],
      ['store copy / Tollgate start to ready (s)', `${formatFixed(m.copySeconds, 1)} / ${formatFixed(m.startSeconds, 1)}`],
      ['ingest during the API window (data points/s)', formatInteger(ingestPointsPerSecond(m))],
      ['ingest client latency p50 / p99 (ms)', `${ms(m.ingest.flatMap((r) => r.latenciesMs), 50)} / ${ms(m.ingest.flatMap((r) => r.latenciesMs), 99)}`],
      [`Tollgate CPU (% of core ${SERVICE_CORE})`, formatFixed(m.tollgateCpuPercent, 0)],
      [`other processes on core ${SERVICE_CORE}, under ingest / without (%)`, canPin() ? `${formatFixed(m.otherPercent, 0)} / ${formatFixed(m.idleOtherPercent, 0)}` : 'n/a (unpinned)'],
    ],
  );
}

/** A figure in milliseconds, judged against `targetMs` (strictly below) when given. */
function msFigure(name: string, value: number, targetMs?: number): Figure {
  const target = targetMs === undefined ? undefined : { op: '<' as const, value: targetMs, text: `< ${targetMs} ms` };
  return { suite: SUITE, name, value, display: `${formatFixed(value, 2)} ms`, target };
}

function figures(m: Measured): Figure[] {
  const p = (t: Timed, q: number): number => percentile(t.latenciesMs, q);
  return [
    msFigure('budget p50 under ingest', p(m.budget, 50)),
    msFigure('budget p99 under ingest', p(m.budget, 99), TARGET_BUDGET_P99_MS),
    msFigure('usage 7 d / 5 m p50 under ingest', p(m.usage, 50)),
    msFigure('usage 7 d / 5 m p99 under ingest', p(m.usage, 99), TARGET_USAGE_P99_MS),
    { suite: SUITE, name: 'ingest data points/s during the API window', value: ingestPointsPerSecond(m), display: formatInteger(ingestPointsPerSecond(m)) },
    msFigure('budget: Tollgate CPU per request (no ingest)', m.idleBudget.cpuMsPerRequest),
    msFigure('usage 7 d / 5 m: Tollgate CPU per request (no ingest)', m.idleUsage.cpuMsPerRequest),
  ];
}
