/**
 * The aggregator's pure core: the latest report round of every (team, sidecar), merged on
 * demand. A team's global active series is the HyperLogLog union of every metric sketch of
 * every live sidecar, so a series two sidecars both saw counts once. A sidecar that stops
 * reporting drops out once its last report is older than the report TTL, taking its series
 * with it. Counters arrive as per-round deltas and are summed once per round (a redelivered
 * message of a round already applied changes nothing).
 */
import { estimateRegisters, mergeInto, sketchMemoryBytes } from './sketch.js';
import type { GlobalTeamState, ReportBasis } from './team-state.js';
import type { MetricUsage, UsageReport } from './usage-report.js';

/** applied: a new round or a new chunk of the current one; stale: older than what is held; duplicate: that chunk again; precision: a sketch precision this aggregator cannot merge. */
export type IngestOutcome = 'applied' | 'stale' | 'duplicate' | 'precision';

interface SidecarRound {
  readonly startedAtMs: number;
  readonly seq: number;
  receivedAtMs: number;
  activeSeries: number;
  readonly chunksSeen: Set<number>;
  readonly metrics: Map<string, MetricUsage>;
}

export interface TeamCounters {
  itemsIn: number;
  itemsKept: number;
  itemsDropped: number;
}

export interface MetricEstimate {
  readonly name: string;
  readonly activeSeries: number;
}

export interface TeamUsage {
  readonly team: string;
  /** Distinct series across live sidecars (HLL union estimate). */
  readonly activeSeries: number;
  /** Sum of the sidecars' exact local counts: what the team would count without dedup (≥ activeSeries up to sketch error). */
  readonly summedLocalSeries: number;
  readonly metrics: readonly MetricEstimate[];
  readonly basis: readonly ReportBasis[];
}

export interface GlobalUsageOptions {
  readonly precision: number;
  /** A sidecar's reports count until they are this old (a few report intervals). */
  readonly reportTtlMs: number;
}

/** (startedAt, seq) order: a restarted sidecar's rounds come after its previous life's. */
function compareRound(a: { startedAtMs: number; seq: number }, b: { startedAtMs: number; seq: number }): number {
  return a.startedAtMs - b.startedAtMs || a.seq - b.seq;
}

export class GlobalUsage {
  private readonly teams = new Map<string, Map<string, SidecarRound>>();
  private counters = new Map<string, TeamCounters>();
  /** Scratch registers of one metric's union, and of the team's. */
  private readonly metricUnion: Uint8Array;
  private readonly teamUnion: Uint8Array;

  constructor(readonly options: GlobalUsageOptions) {
    this.metricUnion = new Uint8Array(1 << options.precision);
    this.teamUnion = new Uint8Array(1 << options.precision);
  }

  ingest(report: UsageReport, receivedAtMs: number): IngestOutcome {
    if (report.metrics.some((m) => m.sketch.precision !== this.options.precision)) return 'precision';
    let sidecars = this.teams.get(report.team);
    if (sidecars === undefined) this.teams.set(report.team, (sidecars = new Map()));
    const held = sidecars.get(report.instance);
    const order = held === undefined ? 1 : compareRound(report, held);
    if (order < 0) return 'stale';
    if (order === 0 && held!.chunksSeen.has(report.chunk)) return 'duplicate';
    let round = held!;
    if (order > 0) {
      round = { startedAtMs: report.startedAtMs, seq: report.seq, receivedAtMs, activeSeries: 0, chunksSeen: new Set(), metrics: new Map() };
      sidecars.set(report.instance, round);
    }
    round.chunksSeen.add(report.chunk);
    round.receivedAtMs = receivedAtMs;
    if (report.chunk === 0) round.activeSeries = report.activeSeries;
    for (const metric of report.metrics) round.metrics.set(metric.name, metric);
    if (report.itemsIn + report.itemsKept + report.itemsDropped > 0) {
      let counters = this.counters.get(report.team);
      if (counters === undefined) this.counters.set(report.team, (counters = { itemsIn: 0, itemsKept: 0, itemsDropped: 0 }));
      counters.itemsIn += report.itemsIn;
      counters.itemsKept += report.itemsKept;
      counters.itemsDropped += report.itemsDropped;
    }
    return 'applied';
  }

  /** Forgets sidecars whose latest report is older than the TTL; returns how many (team, sidecar) pairs expired. */
  expire(nowMs: number): number {
    let expired = 0;
    for (const [team, sidecars] of this.teams) {
      for (const [instance, round] of sidecars) {
        if (nowMs - round.receivedAtMs <= this.options.reportTtlMs) continue;
        sidecars.delete(instance);
        expired++;
      }
      if (sidecars.size === 0) this.teams.delete(team);
    }
    return expired;
  }

  teamNames(): string[] {
    return [...this.teams.keys()];
  }

  /** Live sidecars (distinct instances) across all teams. */
  sidecarCount(): number {
    const instances = new Set<string>();
    for (const sidecars of this.teams.values()) for (const instance of sidecars.keys()) instances.add(instance);
    return instances.size;
  }

  /** The team's merged usage now (undefined: no live sidecar reports it). */
  teamUsage(team: string): TeamUsage | undefined {
    const sidecars = this.teams.get(team);
    if (sidecars === undefined) return undefined;
    const basis: ReportBasis[] = [];
    const byMetric = new Map<string, MetricUsage[]>();
    let summedLocalSeries = 0;
    for (const [instance, round] of sidecars) {
      basis.push({ instance, startedAtMs: round.startedAtMs, seq: round.seq });
      summedLocalSeries += round.activeSeries;
      for (const metric of round.metrics.values()) {
        const list = byMetric.get(metric.name);
        if (list === undefined) byMetric.set(metric.name, [metric]);
        else list.push(metric);
      }
    }
    const { precision } = this.options;
    const { metricUnion, teamUnion } = this;
    teamUnion.fill(0);
    const metrics: MetricEstimate[] = [];
    for (const [name, sketches] of byMetric) {
      metricUnion.fill(0);
      for (const metric of sketches) mergeInto(metricUnion, metric.sketch);
      for (let i = 0; i < metricUnion.length; i++) if (metricUnion[i] > teamUnion[i]) teamUnion[i] = metricUnion[i];
      metrics.push({ name, activeSeries: Math.round(estimateRegisters(metricUnion, precision)) });
    }
    metrics.sort((a, b) => b.activeSeries - a.activeSeries || (a.name < b.name ? -1 : 1));
    return { team, activeSeries: Math.round(estimateRegisters(teamUnion, precision)), summedLocalSeries, metrics, basis };
  }

  /** Bytes held in the sketches of every live (team, sidecar) round (maps and names not counted). */
  sketchBytes(): number {
    let bytes = 0;
    for (const sidecars of this.teams.values()) for (const round of sidecars.values()) for (const metric of round.metrics.values()) bytes += sketchMemoryBytes(metric.sketch);
    return bytes;
  }

  /** Counter deltas summed since the last drain, per team. */
  drainCounters(): Map<string, TeamCounters> {
    const out = this.counters;
    this.counters = new Map();
    return out;
  }
}

/** The state the aggregator publishes for a team: its limit, and what is left of it. */
export function teamStateOf(usage: Pick<TeamUsage, 'team' | 'activeSeries' | 'basis'>, limit: number, aggregator: string, nowMs: number): GlobalTeamState {
  return {
    team: usage.team,
    aggregator,
    publishedAtMs: nowMs,
    activeSeries: usage.activeSeries,
    limit,
    allowedNewSeries: Math.max(0, limit - usage.activeSeries),
    basis: usage.basis,
  };
}
