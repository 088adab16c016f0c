/**
 * The sidecar's side of a global budget: the latest state of each team from the budget-state
 * topic, and the answer to "may this sidecar admit one more new series of team T now?".
 *
 * The aggregator's estimate includes, for each sidecar, a known report round (the state's
 * basis). New series a sidecar admitted after taking that report are not in the estimate yet,
 * so the sidecar counts them against its share of what is left: share = ⌊allowed / N⌋ for N
 * live sidecars of the team. The N shares add up to at most `allowed`, so the sidecars
 * together stay within the limit however stale the state is (up to sketch error and series
 * that expire and return); the price is that up to N − 1 series of headroom may go unused, and
 * a sidecar with all the new traffic gets 1/N of the headroom per state round.
 *
 * Without a state, with a state older than maxStateAgeMs (aggregator down, Kafka down, or a
 * team it has no report for), the answer is "local": the budget processor enforces the rules'
 * limit on this sidecar's own series, as without Kafka.
 */
import type { GlobalTeamState } from './team-state.js';

export type GlobalVerdict = 'admit' | 'refuse' | 'local';

export interface GlobalEnforcementOptions {
  readonly instance: string;
  readonly startedAtMs: number;
  readonly maxStateAgeMs: number;
}

/** Report rounds whose admission counts are remembered per team (states refer to recent rounds). */
const ROUNDS_KEPT = 16;

interface HeldState {
  readonly state: GlobalTeamState;
  /**
   * What the state's age is measured from: its publication time, or when it arrived if that is
   * earlier — an aggregator whose clock runs ahead must not make a state look fresh for ever.
   */
  readonly stampMs: number;
  /** This sidecar's admissions when the state arrived (used when the basis has no round of ours). */
  readonly admittedAtReceipt: number;
}

export class GlobalEnforcement {
  private readonly states = new Map<string, HeldState>();
  /** New series admitted per team since start (cumulative). */
  private readonly admitted = new Map<string, number>();
  /** Per team: report seq → admissions when that round was taken. */
  private readonly rounds = new Map<string, Map<number, number>>();

  constructor(readonly options: GlobalEnforcementOptions) {}

  /** A team's state arrived at `receivedAtMs` (this sidecar's clock). */
  onState(state: GlobalTeamState, receivedAtMs = state.publishedAtMs): void {
    this.states.set(state.team, { state, stampMs: Math.min(state.publishedAtMs, receivedAtMs), admittedAtReceipt: this.admitted.get(state.team) ?? 0 });
  }

  /** A report round `seq` was taken for the team: admissions from now on are not in it. */
  noteRound(team: string, seq: number): void {
    let rounds = this.rounds.get(team);
    if (rounds === undefined) this.rounds.set(team, (rounds = new Map()));
    rounds.set(seq, this.admitted.get(team) ?? 0);
    if (rounds.size > ROUNDS_KEPT) rounds.delete(rounds.keys().next().value!);
  }

  noteAdmitted(team: string): void {
    this.admitted.set(team, (this.admitted.get(team) ?? 0) + 1);
  }

  /** The state in force for the team, if fresh enough at `nowMs`. */
  freshState(team: string, nowMs: number): GlobalTeamState | undefined {
    const held = this.states.get(team);
    if (held === undefined || nowMs - held.stampMs > this.options.maxStateAgeMs) return undefined;
    return held.state;
  }

  /** Age in ms of the team's latest state, fresh or not (undefined: none received). */
  stateAgeMs(team: string, nowMs: number): number | undefined {
    const held = this.states.get(team);
    return held === undefined ? undefined : nowMs - held.stampMs;
  }

  /** New series this sidecar may still admit for the team now (undefined: no fresh state, enforce locally). */
  allowance(team: string, nowMs: number): number | undefined {
    const state = this.freshState(team, nowMs);
    if (state === undefined) return undefined;
    const held = this.states.get(team)!;
    const admitted = this.admitted.get(team) ?? 0;
    const mine = state.basis.find((b) => b.instance === this.options.instance && b.startedAtMs === this.options.startedAtMs);
    const atBasis = mine === undefined ? undefined : this.rounds.get(team)?.get(mine.seq);
    const since = admitted - (atBasis ?? held.admittedAtReceipt);
    const sidecars = state.basis.length + (mine === undefined ? 1 : 0);
    return Math.max(0, Math.floor(state.allowedNewSeries / sidecars) - since);
  }

  verdict(team: string, nowMs: number): GlobalVerdict {
    const allowance = this.allowance(team, nowMs);
    if (allowance === undefined) return 'local';
    return allowance > 0 ? 'admit' : 'refuse';
  }
}
