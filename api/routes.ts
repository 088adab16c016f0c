/**
 * The budget API's routes as data: method, path, who may call it, the schema of its query and
 * what it answers. The Express router and the OpenAPI document are both built from this one
 * table, so the documentation cannot drift from what is served and validated.
 */
import type { Schema } from '../collector/config/validate.js';
import { TollgateError } from '../collector/errors/codes.js';
import { EXCEPTION_ID, MAX_EXCEPTION_ID_LENGTH } from '../collector/usage/exceptions.js';
import type { BudgetExceptions } from '../collector/usage/exceptions.js';
import type { BudgetReader } from '../collector/usage/reader.js';
import type { CompiledRules, CompiledTeam, TeamBudgets } from '../rules/compiled.js';
import type { ReloadReport } from '../rules/watcher.js';
import type { Principal, TokenEntry } from './auth.js';
import type { RateLimit } from './rate-limit.js';
import { canSee } from './auth.js';
import { checkBody, runApiCheck } from './check.js';
import { InputError, cardinalityQuery, exceptionBody, noQuery, parseBody, parseQuery, rulesValidateBody, usageQuery, violationsQuery } from './query.js';
import { lintRulesText } from './rules-lint.js';
import { budgetView, exceptionView, rulesForTeam, teamSummaryView, topLabelsView, topMetricsView, usageView, violationsView } from './views.js';

/** What the budget API reads and does; `serve` passes the usage store's reader and the governance. */
export interface BudgetApiDeps {
  readonly reader: BudgetReader;
  readonly rules: () => CompiledRules;
  /** Re-reads the rules file now; never throws. */
  readonly reload: () => ReloadReport;
  readonly tokens: readonly TokenEntry[];
  /** Epoch milliseconds; default Date.now. */
  readonly now?: () => number;
  /** Per-token request rate; default DEFAULT_RATE_LIMIT. */
  readonly rateLimit?: RateLimit;
  /** Budget exceptions (the usage store's); without them the exception routes answer `internal`. */
  readonly exceptions?: BudgetExceptions;
}

/** `team`: any valid token (team routes additionally check the `{team}` path parameter); `admin`: admin tokens only. */
export type Access = 'team' | 'admin';

export interface RouteContext {
  readonly principal: Principal;
  readonly rules: CompiledRules;
  /** The `{team}` path parameter, resolved and checked against the principal. */
  readonly team: CompiledTeam | undefined;
  readonly deps: BudgetApiDeps;
  readonly now: number;
}

export interface ApiRoute {
  readonly method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI style, relative to /api/v1: `/teams/{team}/budget`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly access: Access;
  readonly query: Schema<unknown, unknown>;
  /** The JSON request body, when the route takes one. */
  readonly body?: Schema<unknown, unknown>;
  /** Validates the raw query (and body) and answers; throws TollgateError or InputError for client errors. */
  readonly run: (context: RouteContext, rawQuery: Readonly<Record<string, unknown>>, rawBody: unknown, params: Readonly<Record<string, string>>) => unknown;
}

interface RouteSpec<Q, B> extends Omit<ApiRoute, 'run' | 'query' | 'body'> {
  readonly query: Schema<Q, unknown>;
  readonly body?: Schema<B, unknown>;
  readonly handle: (context: RouteContext, query: Q, body: B, params: Readonly<Record<string, string>>) => unknown;
}

function route<Q, B = undefined>(spec: RouteSpec<Q, B>): ApiRoute {
  const { handle, ...meta } = spec;
  return {
    ...meta,
    run(context, rawQuery, rawBody, params) {
      const query = parseQuery(spec.query, rawQuery);
      // A route without a body schema ignores whatever was sent, as GET routes do.
      const body = spec.body === undefined ? (undefined as B) : parseBody(spec.body, rawBody);
      return handle(context, query, body, params);
    },
  };
}

/** The `{team}` of a route, which the routes' wrapper has resolved; its absence is a wiring bug. */
function teamOf(context: RouteContext): CompiledTeam {
  if (context.team === undefined) throw new Error('route declares no {team} parameter');
  return context.team;
}

/** Teams the principal may see, in rules order. */
export function visibleTeams(rules: CompiledRules, principal: Principal): CompiledTeam[] {
  return rules.teams.filter((team) => canSee(principal, team.name));
}

/** The `{team}` path parameter as the principal may see it; any other team is "not found", whether it exists or not. */
export function resolveTeam(rules: CompiledRules, principal: Principal, name: string): CompiledTeam {
  const team = canSee(principal, name) ? rules.teams.find((t) => t.name === name) : undefined;
  if (!team) throw new TollgateError('resource_not_found', `team "${name}"`);
  return team;
}

const DAY_MS = 86_400_000;

function exceptionsOf(deps: BudgetApiDeps): BudgetExceptions {
  if (deps.exceptions === undefined) throw new Error('the budget API was started without a budget exception store');
  return deps.exceptions;
}

/** The `{id}` path parameter of an exception route. */
function exceptionId(params: Readonly<Record<string, string>>): string {
  const id = params.id ?? '';
  if (id.length > MAX_EXCEPTION_ID_LENGTH || !EXCEPTION_ID.test(id)) {
    throw new InputError('invalid_query', `id: must be 1 to ${MAX_EXCEPTION_ID_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return id;
}

/** The team's budgets as they apply now: a budget exception in force replaces the rules' series limit. */
export function effectiveBudgets(team: CompiledTeam, deps: BudgetApiDeps, now: number): TeamBudgets {
  const override = deps.exceptions?.activeLimitOverride(team.name, now);
  const metrics = team.budgets.metrics;
  if (override === undefined || metrics === undefined) return team.budgets;
  return { ...team.budgets, metrics: { ...metrics, maxActiveSeries: override } };
}

export const API_ROUTES: readonly ApiRoute[] = [
  route({
    method: 'get',
    path: '/teams',
    operationId: 'listTeams',
    summary: 'Teams visible to the caller, with their worst budget status and highest utilization.',
    access: 'team',
    query: noQuery,
    handle: ({ rules, principal, deps, now }) => ({
      teams: visibleTeams(rules, principal).map((team) => teamSummaryView(team, deps.reader.teamBudgetStatus(team.name, effectiveBudgets(team, deps, now)))),
    }),
  }),
  route({
    method: 'get',
    path: '/teams/{team}/budget',
    operationId: 'getTeamBudget',
    summary:
      'Per signal: limit (a budget exception in force replaces the series limit), usage, utilization, headroom, status, and how the usage was counted (as_of, window, count_method); ' +
      'for metrics, `forecast_exhausted_at`: when the limit is reached at the current growth (null when not growing), computed as `forecast_method` says.',
    access: 'team',
    query: noQuery,
    handle: (context) => {
      const team = teamOf(context);
      return budgetView(context.deps.reader.teamBudgetStatus(team.name, effectiveBudgets(team, context.deps, context.now)));
    },
  }),
  route({
    method: 'get',
    path: '/teams/{team}/usage',
    operationId: 'getTeamUsage',
    summary: 'Items and bytes in, passed, dropped and overflowed over time for one signal (minute or hourly resolution depending on the range).',
    access: 'team',
    query: usageQuery,
    handle: (context, query) => {
      const to = query.to ?? context.now;
      const from = query.from ?? Math.max(0, to - DAY_MS);
      return usageView(context.deps.reader.usage(teamOf(context).name, query.signal, from, to, query.step));
    },
  }),
  route({
    method: 'get',
    path: '/teams/{team}/cardinality',
    operationId: 'getTeamCardinality',
    summary: 'Top metrics by active series; with `metric`, that metric\'s labels by estimated distinct values (which label explodes).',
    access: 'team',
    query: cardinalityQuery,
    handle: (context, query) => {
      const team = teamOf(context).name;
      const { reader } = context.deps;
      return query.metric === undefined ? topMetricsView(team, reader.topMetrics(team, query.limit)) : topLabelsView(team, query.metric, reader.topLabels(team, query.metric, query.limit));
    },
  }),
  route({
    method: 'get',
    path: '/teams/{team}/violations',
    operationId: 'listTeamViolations',
    summary: 'Budget violations, newest first, one row per minute × metric × rule × action; paginated with `cursor`.',
    access: 'team',
    query: violationsQuery,
    handle: (context, query) => violationsView(context.deps.reader.violations(teamOf(context).name, query)),
  }),
  route({
    method: 'get',
    path: '/teams/{team}/exceptions',
    operationId: 'listTeamExceptions',
    summary: 'The team\'s budget exceptions in force now (expired ones no longer apply and are not listed), soonest expiry first.',
    access: 'team',
    query: noQuery,
    handle: (context) => {
      const team = teamOf(context).name;
      return { team, exceptions: exceptionsOf(context.deps).active(team, context.now).map(exceptionView) };
    },
  }),
  route({
    method: 'put',
    path: '/teams/{team}/exceptions/{id}',
    operationId: 'putTeamException',
    summary:
      'Creates or replaces a budget exception: the team\'s series budget is `max_active_series` until `expires_at`, then the rules\' again. ' +
      'The change and its audit row (time, token name, old and new values, reason) are written in one transaction.',
    access: 'admin',
    query: noQuery,
    body: exceptionBody,
    handle: (context, _query, body, params) => {
      const team = teamOf(context);
      const id = exceptionId(params);
      if (team.budgets.metrics === undefined) throw new InputError('invalid_body', `team "${team.name}" has no metrics budget to raise`);
      if (body.expires_at <= context.now) throw new InputError('invalid_body', 'expires_at: must be in the future');
      const input = { signal: body.signal, maxActiveSeries: body.max_active_series, reason: body.reason, expiresAt: body.expires_at };
      const { created, exception } = exceptionsOf(context.deps).put(team.name, id, input, context.principal.name);
      return { created, exception: exceptionView(exception) };
    },
  }),
  route({
    method: 'delete',
    path: '/teams/{team}/exceptions/{id}',
    operationId: 'deleteTeamException',
    summary: 'Ends a budget exception now (expired or not); the deletion is audited in the same transaction. 404 when there is none.',
    access: 'admin',
    query: noQuery,
    handle: (context, _query, _body, params) => {
      const team = teamOf(context).name;
      const id = exceptionId(params);
      const ended = exceptionsOf(context.deps).delete(team, id, context.principal.name);
      if (ended === undefined) throw new TollgateError('resource_not_found', `exception "${id}" of team "${team}"`);
      return { ended: exceptionView(ended) };
    },
  }),
  route({
    method: 'get',
    path: '/rules',
    operationId: 'getRules',
    summary: 'The rules in force and their hash; a team token sees its own team and the policies that apply to it.',
    access: 'team',
    query: noQuery,
    handle: ({ rules, principal }) => ({
      hash: rules.hash,
      mode: rules.mode,
      document: principal.admin ? rules.document : rulesForTeam(rules.document, principal.team),
    }),
  }),
  route({
    method: 'post',
    path: '/rules/validate',
    operationId: 'validateRules',
    summary: 'Lints a rules document as `tollgate lint` does (every finding with line, column and key path); the rules in force do not change.',
    access: 'team',
    query: noQuery,
    body: rulesValidateBody,
    handle: (_context, _query, body) => lintRulesText(body.rules),
  }),
  route({
    method: 'post',
    path: '/check',
    operationId: 'checkSample',
    summary:
      'Checks a sample (OTLP/JSON requests and/or Prometheus text) against the rules in force as `tollgate check` does: attribute policies, series and label caps, ' +
      'each team\'s projected active series (current usage from the usage store plus the sample), and an optional baseline. Answers the JSON report; `passed` is the verdict. ' +
      'A team token sees its own team\'s findings only.',
    access: 'team',
    query: noQuery,
    body: checkBody,
    handle: ({ rules, principal, deps, now }, _query, body) =>
      runApiCheck(
        {
          rules,
          canSee: (team) => canSee(principal, team),
          usageOf: (name) => {
            const team = rules.teams.find((t) => t.name === name);
            const line = team ? deps.reader.teamBudgetStatus(name, effectiveBudgets(team, deps, now)).metrics : undefined;
            return { usage: line?.usage ?? 0, limit: line?.limit ?? null };
          },
          now,
        },
        body,
      ),
  }),
  route({
    method: 'post',
    path: '/admin/reload',
    operationId: 'reloadRules',
    summary: 'Re-reads the rules file now; an invalid file leaves the previous rules in force and is reported.',
    access: 'admin',
    query: noQuery,
    handle: ({ deps }) => {
      const report = deps.reload();
      return { outcome: report.outcome, hash: report.hash, ...(report.error === undefined ? {} : { error: report.error }) };
    },
  }),
];
