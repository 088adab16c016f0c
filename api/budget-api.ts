/**
 * The Express router of the budget API under /api/v1: authentication first (every route but the
 * OpenAPI document), then the route table, then `{code, message}` errors without stack traces.
 */
import express, { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import { ERROR_CODES, TollgateError } from '../collector/errors/codes.js';
import type { ErrorCode } from '../collector/errors/codes.js';
import { UsageStoreError } from '../collector/usage/errors.js';
import type { Principal } from './auth.js';
import { createAuthenticator } from './auth.js';
import { openApiDocument } from './openapi.js';
import { DEFAULT_RATE_LIMIT, createRateLimiter } from './rate-limit.js';
import { InputError } from './query.js';
import { API_ROUTES, resolveTeam } from './routes.js';
import type { ApiRoute, BudgetApiDeps } from './routes.js';

/** Largest JSON request body read (rules documents are the largest expected). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The 4xx status of an error raised by express.json (malformed JSON, too large, bad charset), if it is one. */
function bodyParserStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('type' in error) || !('status' in error)) return undefined;
  const { type, status } = error;
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/** An error as the API answers it: a known client error keeps its code, anything else is `internal`. */
export function errorBody(error: unknown): { readonly status: number; readonly code: ErrorCode; readonly message: string } {
  const as = (code: ErrorCode, message: string) => ({ status: ERROR_CODES[code].httpStatus, code, message });
  if (error instanceof TollgateError) return as(error.code, error.message);
  if (error instanceof InputError) return as(error.code, `${ERROR_CODES[error.code].message}: ${error.message}`);
  const bodyStatus = bodyParserStatus(error);
  if (bodyStatus === 413) return as('request_too_large', `the budget API accepts request bodies up to ${MAX_BODY_BYTES} bytes`);
  if (bodyStatus !== undefined) return as('invalid_body', `${ERROR_CODES.invalid_body.message}: not readable as UTF-8 JSON`);
  if (error instanceof UsageStoreError && error.code === 'invalid_query') return as('invalid_query', `${ERROR_CODES.invalid_query.message}: ${error.message}`);
  if (error instanceof UsageStoreError && error.code === 'invalid_cursor') return as('invalid_cursor', ERROR_CODES.invalid_cursor.message);
  return as('internal', ERROR_CODES.internal.message);
}

function sendError(res: Response, error: unknown, retryAfterMs = 0): void {
  const { status, code, message } = errorBody(error);
  if (status === 401) res.set('WWW-Authenticate', 'Bearer realm="tollgate"');
  if (retryAfterMs > 0) res.set('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
  res.status(status).json({ code, message });
}

/** Express path of an OpenAPI one: `/teams/{team}` → `/teams/:team`. */
export function expressPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

function handler(route: ApiRoute, deps: BudgetApiDeps) {
  const now = deps.now ?? Date.now;
  return (req: Request, res: Response): void => {
    const principal = principalOf(res);
    if (route.access === 'admin' && !principal.admin) throw new TollgateError('forbidden');
    const rules = deps.rules();
    const teamParam = req.params.team;
    const team = typeof teamParam === 'string' ? resolveTeam(rules, principal, teamParam) : undefined;
    res.json(route.run({ principal, rules, team, deps, now: now() }, req.query, req.body, req.params as Record<string, string>));
  };
}

export function createBudgetApiRouter(deps: BudgetApiDeps, version: string): Router {
  const router = Router();
  const authenticate = createAuthenticator(deps.tokens);
  const limit = createRateLimiter(deps.rateLimit ?? DEFAULT_RATE_LIMIT, deps.now ?? Date.now);
  // Built once: the route table does not change while the process runs.
  const openApi = openApiDocument(API_ROUTES, version);

  // Answers carry a team's data behind a token: no shared cache may keep them (helmet, in
  // createApp, sets the other security headers).
  router.use((_req, res, next) => {
    res.set({ 'Cache-Control': 'no-store' });
    next();
  });

  router.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  router.use((req, res, next) => {
    const principal = authenticate(req.get('authorization'));
    if (!principal) return sendError(res, new TollgateError('unauthorized'));
    const waitMs = limit(principal.name);
    if (waitMs > 0) return sendError(res, new TollgateError('rate_limited'), waitMs);
    res.locals.principal = principal;
    next();
  });

  // After authentication: an unknown caller never gets a body read.
  router.use(express.json({ limit: MAX_BODY_BYTES }));

  for (const route of API_ROUTES) router[route.method](expressPath(route.path), handler(route, deps));

  router.use((req, res) => {
    sendError(res, new TollgateError('resource_not_found', `no route ${req.method} ${req.baseUrl}${req.path}`));
  });

  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, error);
  });

  return router;
}
