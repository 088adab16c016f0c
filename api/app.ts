import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Registry } from 'prom-client';
import { createBudgetApiRouter } from './budget-api.js';
import { createDashboardRouter, findDashboardDir } from './dashboard.js';
import { API_PREFIX } from './openapi.js';
import type { BudgetApiDeps } from './routes.js';

/** What the API needs from the running process; injected so tests can build an app without I/O. */
export interface ApiDeps {
  readonly registry: Registry;
  /** True once receivers listen and exporters started; false again while draining. */
  readonly isReady: () => boolean;
  readonly version: string;
  /** The budget API under /api/v1; without it only health and metrics are served. */
  readonly budgetApi?: BudgetApiDeps;
  /** The dashboard's folder (served at `/` with the budget API); default: found from the package root; null: no dashboard. */
  readonly dashboardDir?: string | null;
}

/**
 * The HTTP API on the API port (default 127.0.0.1:8717). It never listens by itself: the
 * caller decides where and when. Health and self-metrics are open; the budget API under /api/v1
 * needs a bearer token on every route but its OpenAPI document.
 */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // The usual security headers on every answer (no sniffing, no framing, a strict content
  // security policy for the dashboard: scripts and styles from this origin only, no inline
  // ones). HSTS is off: the API is plain HTTP on loopback by default, and HSTS on a shared host
  // name would break other services. For the same reason the policy does not ask browsers to
  // upgrade the page's requests to https, which would fail against a plain-HTTP listener.
  app.use(
    helmet({
      strictTransportSecurity: false,
      contentSecurityPolicy: { directives: { styleSrc: ["'self'"], upgradeInsecureRequests: null } },
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: deps.version });
  });

  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready' });
  });

  app.get('/metrics', async (_req, res, next) => {
    try {
      const text = await deps.registry.metrics();
      res.type(deps.registry.contentType).send(text);
    } catch (error) {
      next(error);
    }
  });

  if (deps.budgetApi) {
    app.use(API_PREFIX, createBudgetApiRouter(deps.budgetApi, deps.version));
    // The page only calls the budget API, so it is served only where that API is.
    const dashboardDir = deps.dashboardDir === undefined ? findDashboardDir() : deps.dashboardDir;
    if (dashboardDir !== null && dashboardDir !== undefined) app.use(createDashboardRouter(dashboardDir));
  }

  app.use((_req, res) => {
    res.status(404).json({ code: 'not_found', message: 'no such route' });
  });

  // Errors never leak stack traces to clients.
  app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ code: 'internal', message: 'an internal error occurred' });
  });

  return app;
}
