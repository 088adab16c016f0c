import { LabelTrackers } from './hll.js';
import { SeriesTable } from './series-table.js';

/**
 * The state behind cardinality budgets, kept across requests and rules reloads: per team, the
 * table of its active series and the names of its metrics (a series table stores a small metric
 * number, the name lives here once); per (team, metric, label), a HyperLogLog of distinct
 * values. Teams are keyed by name, so reordering teams in the rules file keeps their state.
 */

export interface BudgetStateOptions {
  /** Hard cap on series tracked per team, whatever its budget: bounds memory. */
  readonly maxTrackedSeriesPerTeam: number;
  /** Distinct metric names remembered per team; later ones share one "other metrics" number. */
  readonly maxMetricsPerTeam: number;
  /** (team, metric, label) distinct-value trackers; beyond it labels go untracked (counted). */
  readonly maxLabelTrackers: number;
  /**
   * HyperLogLog precision of the label trackers. 12 (4 KiB a sketch at most, ±1.6 %) rather
   * than the sketch's default 14 (16 KiB, ±0.8 %): an exploding label is obvious at either
   * precision, and at 14 the sketches of 1 M series' labels cost ~3 bytes per series, pushing
   * the state past its 32-byte budget (measured with `npm run bench -- budget`).
   */
  readonly labelPrecision?: number;
}

const DEFAULT_LABEL_PRECISION = 12;

export const DEFAULT_BUDGET_STATE_OPTIONS: BudgetStateOptions = {
  maxTrackedSeriesPerTeam: 4_000_000,
  maxMetricsPerTeam: 20_000,
  maxLabelTrackers: 10_000,
  labelPrecision: DEFAULT_LABEL_PRECISION,
};

/** Metric number 0: every metric past maxMetricsPerTeam. */
export const OTHER_METRICS = 0;
export const OTHER_METRICS_NAME = '(other metrics)';

export class TeamSeries {
  readonly table: SeriesTable;
  /** metric number → name; index 0 is OTHER_METRICS. */
  readonly metricNames: string[] = [OTHER_METRICS_NAME];
  private readonly metricNumbers = new Map<string, number>();

  /** `metricNames` (restoring a snapshot): the numbers already in use, kept whatever maxMetrics is now, since the table refers to them. */
  constructor(
    readonly team: string,
    private readonly maxMetrics: number,
    table: SeriesTable,
    metricNames: readonly string[] = [],
  ) {
    this.table = table;
    for (const name of metricNames) {
      this.metricNumbers.set(name, this.metricNames.length);
      this.metricNames.push(name);
    }
  }

  /** The metric's number, assigned on first sight (OTHER_METRICS once the team has too many). */
  metricNumber(name: string): number {
    const known = this.metricNumbers.get(name);
    if (known !== undefined) return known;
    if (this.metricNames.length > this.maxMetrics) return OTHER_METRICS;
    const number = this.metricNames.length;
    this.metricNames.push(name);
    this.metricNumbers.set(name, number);
    return number;
  }

  activeSeriesOf(metric: number): number {
    return this.table.countFor(metric);
  }
}

export class BudgetState {
  private readonly teams = new Map<string, TeamSeries>();
  /** The current generation of label sketches: new values are added here. */
  labels: LabelTrackers;
  /** The generation before it, still read (see rotateLabelsIfDue). */
  private previousLabels: LabelTrackers | undefined;
  private labelsStartedMs: number | undefined;

  constructor(
    readonly options: BudgetStateOptions = DEFAULT_BUDGET_STATE_OPTIONS,
    labels?: LabelTrackers,
  ) {
    this.labels = labels ?? new LabelTrackers({ maxTrackers: options.maxLabelTrackers, precision: options.labelPrecision ?? DEFAULT_LABEL_PRECISION });
  }

  team(name: string): TeamSeries {
    let state = this.teams.get(name);
    if (!state) {
      state = new TeamSeries(name, this.options.maxMetricsPerTeam, new SeriesTable({ maxEntries: this.options.maxTrackedSeriesPerTeam }));
      this.teams.set(name, state);
    }
    return state;
  }

  allTeams(): readonly TeamSeries[] {
    return [...this.teams.values()];
  }

  /** Forgets series not seen within `windowMs` of `nowMs` (per team: the window its budget sets). Returns how many expired. */
  sweep(nowMs: number, windowOf: (team: string) => number): number {
    let expired = 0;
    for (const state of this.teams.values()) expired += state.table.sweep(nowMs, windowOf(state.team));
    return expired;
  }

  /**
   * Distinct values of `label` in `metric` of `team` within the last one to two label windows
   * (0 when untracked): the larger estimate of the current and the previous generation.
   */
  distinctValues(team: string, metric: string, label: string): number {
    const current = this.labels.get(team, metric, label)?.estimate() ?? 0;
    const previous = this.previousLabels?.get(team, metric, label)?.estimate() ?? 0;
    return Math.max(current, previous);
  }

  /** Whether the label value with hash (lo, hi) was (probably) seen in the current or previous label window. */
  labelValueSeen(team: string, metric: string, label: string, lo: number, hi: number): boolean {
    const current = this.labels.get(team, metric, label);
    if (current !== undefined && !current.wouldRaise(lo, hi)) return true;
    const previous = this.previousLabels?.get(team, metric, label);
    return previous !== undefined && !previous.wouldRaise(lo, hi);
  }

  /**
   * Label sketches only ever grow, so distinct values are counted per window: every
   * `windowMs` the current generation becomes the previous one and a fresh one starts. A label
   * whose values stopped exploding frees its cap after one to two windows.
   */
  rotateLabelsIfDue(nowMs: number, windowMs: number): boolean {
    if (this.labelsStartedMs === undefined) this.labelsStartedMs = nowMs;
    if (nowMs - this.labelsStartedMs < windowMs) return false;
    this.previousLabels = this.labels;
    this.labels = new LabelTrackers({ maxTrackers: this.options.maxLabelTrackers, precision: this.options.labelPrecision ?? DEFAULT_LABEL_PRECISION });
    this.labelsStartedMs = nowMs;
    return true;
  }


  // ─── Snapshots ─────────────────────────────────────────────────────────────────────────────

  /**
   * The whole state as bytes, to survive a restart: a JSON header (teams, their metric names
   * and the byte length of each part) followed by the series tables and the label trackers in
   * their own binary formats.
   */
  serialize(): Uint8Array {
    const parts: Uint8Array[] = [];
    const teams = this.allTeams().map((state) => {
      const table = state.table.serialize();
      parts.push(table);
      return { team: state.team, metrics: state.metricNames, tableBytes: table.length };
    });
    const labels = this.labels.serialize();
    parts.push(labels);
    const header = new TextEncoder().encode(JSON.stringify({ version: SNAPSHOT_VERSION, teams, labelBytes: labels.length }));
    const total = 4 + header.length + parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    new DataView(out.buffer).setUint32(0, header.length, true);
    out.set(header, 4);
    let at = 4 + header.length;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /** Rebuilds the state from `serialize()` bytes. Throws on a snapshot it cannot read. */
  static deserialize(bytes: Uint8Array, options: BudgetStateOptions = DEFAULT_BUDGET_STATE_OPTIONS): BudgetState {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))) as SnapshotHeader;
    if (header.version !== SNAPSHOT_VERSION) throw new Error(`budget snapshot version ${header.version} is not ${SNAPSHOT_VERSION}`);
    const labelsAt = bytes.length - header.labelBytes;
    const labels = LabelTrackers.deserialize(bytes.subarray(labelsAt), { maxTrackers: options.maxLabelTrackers, precision: options.labelPrecision ?? DEFAULT_LABEL_PRECISION });
    const state = new BudgetState(options, labels);
    let at = 4 + headerLength;
    for (const team of header.teams) {
      // The cap of the settings in force, not the one saved: it may have changed since.
      const table = SeriesTable.deserialize(bytes.subarray(at, at + team.tableBytes), { maxEntries: options.maxTrackedSeriesPerTeam });
      at += team.tableBytes;
      state.teams.set(team.team, new TeamSeries(team.team, options.maxMetricsPerTeam, table, team.metrics.slice(1)));
    }
    if (at !== labelsAt) throw new Error('budget snapshot: the parts do not add up to its length');
    return state;
  }
}

const SNAPSHOT_VERSION = 1;

interface SnapshotHeader {
  readonly version: number;
  readonly teams: readonly { readonly team: string; readonly metrics: readonly string[]; readonly tableBytes: number }[];
  readonly labelBytes: number;
}

