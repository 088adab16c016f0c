/**
 * The I/O of `tollgate check` and `tollgate budget`: scraping an app, asking a running
 * Tollgate's budget API, reading a source tree. Every failure is a CheckIoError that says what
 * was asked and what came back, which the commands turn into exit code 1.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { TeamUsage } from '../collector/check/evaluate.js';
import type { SourceFile } from '../collector/check/source-locations.js';

export class CheckIoError extends Error {
  override readonly name = 'CheckIoError';
}

export type Fetch = typeof fetch;

const TIMEOUT_MS = 15_000;

/** A 429 is waited out (Retry-After, capped) this many times before it counts as a failure. */
const MAX_RETRIES = 3;
const MAX_RETRY_WAIT_MS = 10_000;

/** Retry-After in seconds (the only form Tollgate sends); 1 s when absent or a date. */
function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get('retry-after'));
  return Math.min(MAX_RETRY_WAIT_MS, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000);
}

async function get(fetchImpl: Fetch, url: string, headers: Record<string, string>): Promise<Response> {
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetchImpl(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'follow' });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new CheckIoError(`GET ${url}: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
    }
    if (response.status !== 429 || attempt >= MAX_RETRIES) break;
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs(response)));
  }
  if (!response.ok) {
    const body = (await response.text().catch(() => '')).slice(0, 300);
    throw new CheckIoError(`GET ${url}: HTTP ${response.status}${body ? `: ${body}` : ''}`);
  }
  return response;
}

/** Scrapes Prometheus exposition text (`--scrape URL`). */
export async function scrape(fetchImpl: Fetch, url: string): Promise<Uint8Array> {
  const response = await get(fetchImpl, url, { accept: 'text/plain;version=0.0.4, application/openmetrics-text;q=0.5, */*;q=0.1' });
  return new Uint8Array(await response.arrayBuffer());
}

/** `GET /api/v1{path}` of a running Tollgate with a bearer token, as JSON. */
export async function apiGet(fetchImpl: Fetch, api: string, path: string, token: string): Promise<unknown> {
  const url = `${api.replace(/\/+$/, '')}/api/v1${path}`;
  const response = await get(fetchImpl, url, { authorization: `Bearer ${token}`, accept: 'application/json' });
  try {
    return await response.json();
  } catch {
    throw new CheckIoError(`GET ${url}: the answer is not JSON`);
  }
}

/** The metrics budget line of a team's `GET /teams/{team}/budget` answer. */
export interface MetricsBudgetLine {
  readonly team: string;
  readonly limit: number | null;
  readonly usage: number;
  readonly utilization: number | null;
  readonly status: string;
  readonly asOf: string | null;
}

export async function teamBudget(fetchImpl: Fetch, api: string, team: string, token: string): Promise<MetricsBudgetLine> {
  const body = (await apiGet(fetchImpl, api, `/teams/${encodeURIComponent(team)}/budget`, token)) as {
    signals?: { metrics?: { limit?: number | null; usage?: number; utilization?: number | null; status?: string; as_of?: string | null } };
  };
  const line = body.signals?.metrics;
  if (!line || typeof line.usage !== 'number') throw new CheckIoError(`the budget API's answer for team "${team}" has no metrics budget line`);
  return { team, limit: line.limit ?? null, usage: line.usage, utilization: line.utilization ?? null, status: line.status ?? 'unknown', asOf: line.as_of ?? null };
}

/** Budget requests in flight at once: far below the API's own rate limit (a burst of 60). */
const BUDGET_CONCURRENCY = 4;

/**
 * Current usage (`--api`) of the `wanted` teams (those in the sample) that the token can see:
 * teams from `GET /teams`, then each one's budget, a few at a time.
 */
export async function teamsUsage(fetchImpl: Fetch, api: string, token: string, wanted: ReadonlySet<string>): Promise<Map<string, TeamUsage>> {
  const list = (await apiGet(fetchImpl, api, '/teams', token)) as { teams?: { name?: unknown }[] };
  const names = (list.teams ?? []).map((t) => t.name).filter((n): n is string => typeof n === 'string' && wanted.has(n));
  const usage = new Map<string, TeamUsage>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const line = await teamBudget(fetchImpl, api, names[next++], token);
      usage.set(line.team, { usage: line.usage, limit: line.limit });
    }
  };
  await Promise.all(Array.from({ length: Math.min(BUDGET_CONCURRENCY, names.length) }, worker));
  return usage;
}

const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'build', 'target', 'vendor', '.venv', '__pycache__', 'coverage']);
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_FILES = 20_000;

/**
 * Text files under `dir` for `--source`, paths relative to `root` (the working directory, which
 * in CI is the repository root, so annotations name repository paths). Dependency and build
 * folders, files over 1 MiB and files with NUL bytes (binary) are skipped.
 */
export async function readSourceTree(dir: string, root: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  try {
    if (!(await stat(dir)).isDirectory()) throw new CheckIoError(`--source ${dir}: not a directory`);
  } catch (error) {
    if (error instanceof CheckIoError) throw error;
    throw new CheckIoError(`--source ${dir}: ${(error as Error).message}`);
  }
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    for (const entry of entries) {
      if (files.length >= MAX_FILES) return;
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) await walk(path);
      } else if (entry.isFile()) {
        if ((await stat(path)).size > MAX_FILE_BYTES) continue;
        const bytes = await readFile(path);
        if (bytes.includes(0)) continue;
        files.push({ path: relative(root, path).split(sep).join('/'), text: bytes.toString('utf8') });
      }
    }
  };
  await walk(dir);
  return files;
}
