import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeRequest } from '../collector/otlp/object-codec.js';
import type { OtlpObject } from '../collector/otlp/object-codec.js';
import { EditList, rewrite } from '../collector/otlp/rewriter.js';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import type { ProcessorContext } from '../collector/pipeline/processor.js';
import { createAttributePolicyProcessor } from '../collector/processors/attribute-policy/processor.js';
import { BudgetState, DEFAULT_BUDGET_STATE_OPTIONS } from '../collector/processors/cardinality/budget-state.js';
import { createCardinalityProcessor } from '../collector/processors/cardinality/budget-processor.js';
import { parseRules } from '../rules/load.js';
import { BENCH_RULES } from './policy-suite.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { formatFixed, formatInteger, median, toMebibytes } from './stats.js';
import type { Case } from './wire-suite.js';
import { measureCase } from './wire-suite.js';

/**
 * `budget`: cardinality budgets at scale, in this (pinned) process. 20 teams hold 1 M active
 * series between them (50,000 each, under a 60,000 budget); then realistic 1,000-point requests,
 * 1 % of whose points are series never seen before, go through the metrics chain of the
 * pipeline: scan → attribute policy (the policy suite's 10 key rules and 3 detectors) → budget →
 * rewrite. Reports data points/s and the memory the budget state costs per tracked series.
 */

const SUITE = 'budget';
const TEAMS = 20;
const SERIES_PER_TEAM = 50_000;
const TEAM_BUDGET = 60_000;
const POINTS = 1000;
const NEW_SERIES_PER_REQUEST = POINTS / 100;
const TARGET_POINTS_PER_SECOND = 700_000;
const TARGET_BYTES_PER_SERIES = 32;
/** Every point carries `instance=i-NNNNNNNNN`: rewriting those digits in place makes new series without re-encoding. */
const INSTANCE_PREFIX = 'i-';
const INSTANCE_DIGITS = 9;

const RULES = `${BENCH_RULES.replace(/teams:[\s\S]*?attribute_policies:/, `teams:\n${teamsYaml()}attribute_policies:`)}`;

function teamsYaml(): string {
  let yaml = '';
  for (let t = 0; t < TEAMS; t++) {
    yaml += `  - name: team-${t}\n    match:\n      service.namespace: ns-${t}\n    budgets:\n      metrics:\n        max_active_series: ${TEAM_BUDGET}\n        action: overflow\n`;
  }
  return `${yaml}  - name: others\n`;
}

const str = (key: string, value: string): OtlpObject => ({ key, value: { stringValue: value } });

/** One team's request: 10 cumulative sums of 100 points, each point a distinct `instance`. */
function teamRequest(team: number): Uint8Array {
  const metrics = Array.from({ length: 10 }, (_, m): OtlpObject => ({
    name: `http.server.metric_${m}`,
    unit: '1',
    sum: {
      aggregationTemporality: 2,
      isMonotonic: true,
      dataPoints: Array.from({ length: POINTS / 10 }, (_, k): OtlpObject => ({
        attributes: [
          str('http.request.method', ['GET', 'POST'][k % 2]),
          str('http.route', `/api/v1/route_${k % 8}`),
          { key: 'http.response.status_code', value: { intValue: '200' } },
          str('server.address', 'checkout.shop.svc.cluster.local'),
          str('url.scheme', 'https'),
          str('instance', `${INSTANCE_PREFIX}${'0'.repeat(INSTANCE_DIGITS)}`),
        ],
        startTimeUnixNano: '1732000000000000000',
        timeUnixNano: '1732000001000000000',
        asInt: String(k),
      })),
    },
  }));
  return encodeRequest('metrics', {
    resourceMetrics: [{ resource: { attributes: [str('service.name', `svc-${team}`), str('service.namespace', `ns-${team}`)] }, scopeMetrics: [{ scope: { name: 'bench' }, metrics }] }],
  });
}

/** Offsets of the instance digits in the request, in point order. */
function instanceOffsets(request: Uint8Array): number[] {
  const marker = new TextEncoder().encode(`${INSTANCE_PREFIX}${'0'.repeat(INSTANCE_DIGITS)}`);
  const offsets: number[] = [];
  for (let i = 0; i + marker.length <= request.length; i++) {
    let match = true;
    for (let k = 0; k < marker.length && match; k++) match = request[i + k] === marker[k];
    if (match) offsets.push(i + INSTANCE_PREFIX.length);
  }
  if (offsets.length !== POINTS) throw new Error(`budget: expected ${POINTS} instance values, found ${offsets.length}`);
  return offsets;
}

function writeInstance(request: Uint8Array, offset: number, value: number): void {
  for (let d = INSTANCE_DIGITS - 1; d >= 0; d--) {
    request[offset + d] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** Heap + array buffers now, after a full collection when one can be forced. */
export function usedBytes(gc: (() => void) | undefined): number {
  // Twice: the first collection can leave garbage that only the second one frees (weak and finalizable objects).
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

export function runBudgetSuite(): Figure[] {
  const gc = exposeGc();
  const rules = parseRules(RULES, 'budget bench rules');
  const context: ProcessorContext = { now: () => Date.now(), random: Math.random };
  const requests = Array.from({ length: TEAMS }, (_, t) => teamRequest(t));
  const offsets = requests.map(instanceOffsets);
  const index = new WireIndex();
  const edits = new EditList();

  const before = usedBytes(gc);
  const state = new BudgetState({ ...DEFAULT_BUDGET_STATE_OPTIONS, maxLabelTrackers: 2_000 });
  const budget = createCardinalityProcessor({ rules: () => rules, state });
  const policy = createAttributePolicyProcessor({ rules: () => rules, hashKey: 'bench-hash-key-0123456789' });

  // Fill: SERIES_PER_TEAM distinct instances per team, POINTS at a time.
  const fillStart = performance.now();
  for (let t = 0; t < TEAMS; t++) {
    for (let base = 0; base < SERIES_PER_TEAM; base += POINTS) {
      offsets[t].forEach((offset, p) => writeInstance(requests[t], offset, base + p));
      scanRequest(index, 'metrics', requests[t]);
      edits.clear();
      budget.process(index, edits, context);
    }
  }
  const fillMs = performance.now() - fillStart;
  const tracked = state.allTeams().reduce((n, team) => n + team.table.size, 0);
  if (tracked !== TEAMS * SERIES_PER_TEAM) throw new Error(`budget: filled ${tracked} series, expected ${TEAMS * SERIES_PER_TEAM}`);
  const stateBytes = usedBytes(gc) - before;
  const tableBytes = state.allTeams().reduce((n, team) => n + team.table.memoryBytes(), 0);
  const labelBytes = state.labels.memoryBytes();

  // Measure: each request is one team's, 99 % existing series (the first fill batch) and 1 % new.
  for (let t = 0; t < TEAMS; t++) offsets[t].forEach((offset, p) => writeInstance(requests[t], offset, p));
  let nextNew = 100_000_000;
  let team = 0;
  const governOnce = (): number => {
    const request = requests[team];
    for (let k = 0; k < NEW_SERIES_PER_REQUEST; k++) writeInstance(request, offsets[team][k * (POINTS / NEW_SERIES_PER_REQUEST)], nextNew++);
    team = (team + 1) % TEAMS;
    scanRequest(index, 'metrics', request);
    edits.clear();
    policy.process(index, edits, context);
    let body = request;
    if (!edits.isEmpty) {
      body = rewrite(index, edits).bytes;
      scanRequest(index, 'metrics', body);
    }
    edits.clear();
    budget.process(index, edits, context);
    return rewrite(index, edits).bytes.length;
  };
  const cases: Case[] = [{ name: 'scan + attribute policy + budget + rewrite (1 % new series)', run: governOnce }];
  console.log(`\n[budget] ${TEAMS} teams, ${formatInteger(tracked)} active series (filled in ${formatFixed(fillMs / 1000, 1)} s); requests of ${POINTS} points, ${NEW_SERIES_PER_REQUEST} new series each`);
  const [result] = cases.map((c) => measureCase(c));
  const pointsPerSecond = median(result.requestsPerSecond) * POINTS;
  const admitted = state.allTeams().reduce((n, t) => n + t.table.size, 0) - tracked;
  const bytesPerSeries = stateBytes / tracked;

  printTable(
    'budget (in process; medians)',
    ['figure', 'value'],
    [
      ['data points/s', formatInteger(pointsPerSecond)],
      ['new series admitted while measuring', formatInteger(admitted)],
      ['budget state, heap + array buffers (MiB)', gc ? formatFixed(toMebibytes(stateBytes), 1) : 'n/a (no gc)'],
      ['  of which series tables (MiB)', formatFixed(toMebibytes(tableBytes), 1)],
      ['  of which label sketches (MiB)', `${formatFixed(toMebibytes(labelBytes), 1)} (${state.labels.size} sketches)`],
      ['bytes per tracked series', formatFixed(bytesPerSeries, 1)],
    ],
  );
  return [
    {
      suite: SUITE,
      name: 'scan + policy + budget + rewrite, points/s',
      value: pointsPerSecond,
      display: formatInteger(pointsPerSecond),
      target: { op: '>=', value: TARGET_POINTS_PER_SECOND, text: `≥ ${formatInteger(TARGET_POINTS_PER_SECOND)}` },
    },
    {
      suite: SUITE,
      name: 'bytes per tracked series (heap + array buffers)',
      value: bytesPerSeries,
      display: formatFixed(bytesPerSeries, 1),
      target: { op: '<=', value: TARGET_BYTES_PER_SERIES, text: `≤ ${TARGET_BYTES_PER_SERIES}` },
    },
  ];
}
