import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Registry } from 'prom-client';
import { createBudgetApiRouter } from './budget-api.js';
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
  // security policy for the pages the dashboard will serve). HSTS is off: the API is plain
  // HTTP on loopback by default, and HSTS on a shared host name would break other services.
  app.use(helmet({ strictTransportSecurity: false }));

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

  if (deps.budgetApi) app.use(API_PREFIX, createBudgetApiRouter(deps.budgetApi, deps.version));

  app.use((_req, res) => {
    res.status(404).json({ code: 'not_found', message: 'no such route' });
  });

  // Errors never leak stack traces to clients.
  app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ code: 'internal', message: 'an internal error occurred' });
  });

  return app;
}
