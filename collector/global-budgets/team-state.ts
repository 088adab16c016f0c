/**
 * A team's global budget state: what the aggregator publishes to the compacted budget-state
 * topic (keyed by team, so the topic keeps the latest state of every team and a sidecar that
 * starts reads them all from the beginning). Layout: docs/scale-out.md ("Budget state format").
 */
import { ByteReader, ByteWriter, writeHeader } from './bytes.js';

export const TEAM_STATE_MAGIC = 'TGBS';
export const TEAM_STATE_VERSION = 1;

/** Which report of a sidecar the estimate includes: the sidecar subtracts what it admitted since. */
export interface ReportBasis {
  readonly instance: string;
  readonly startedAtMs: number;
  readonly seq: number;
}

export interface GlobalTeamState {
  readonly team: string;
  /** The aggregator that computed it (its instance id). */
  readonly aggregator: string;
  readonly publishedAtMs: number;
  /** Distinct active series of the team across every live sidecar (HLL union estimate, rounded). */
  readonly activeSeries: number;
  /** The team's limit in force on the aggregator (rules or budget exception). */
  readonly limit: number;
  /** limit − activeSeries, at least 0: new series the team may still add across all sidecars. */
  readonly allowedNewSeries: number;
  /** The latest report of each live sidecar that went into activeSeries. */
  readonly basis: readonly ReportBasis[];
}

export function encodeTeamState(state: GlobalTeamState): Uint8Array {
  const writer = new ByteWriter();
  writeHeader(writer, TEAM_STATE_MAGIC, TEAM_STATE_VERSION);
  writer.string(state.team);
  writer.string(state.aggregator);
  writer.varint(state.publishedAtMs);
  writer.varint(state.activeSeries);
  writer.varint(state.limit);
  writer.varint(state.allowedNewSeries);
  writer.varint(state.basis.length);
  for (const basis of state.basis) {
    writer.string(basis.instance);
    writer.varint(basis.startedAtMs);
    writer.varint(basis.seq);
  }
  return writer.finish();
}

export function decodeTeamState(bytes: Uint8Array): GlobalTeamState {
  const reader = new ByteReader(bytes, 'budget state');
  reader.header(TEAM_STATE_MAGIC, TEAM_STATE_VERSION);
  const team = reader.string();
  const aggregator = reader.string();
  const publishedAtMs = reader.varint();
  const activeSeries = reader.varint();
  const limit = reader.varint();
  const allowedNewSeries = reader.varint();
  const count = reader.varint();
  const basis: ReportBasis[] = [];
  for (let i = 0; i < count; i++) basis.push({ instance: reader.string(), startedAtMs: reader.varint(), seq: reader.varint() });
  reader.end();
  return { team, aggregator, publishedAtMs, activeSeries, limit, allowedNewSeries, basis };
}
