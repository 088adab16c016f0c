/**
 * The dashboard: static HTML, CSS and browser ES modules under api/dashboard/, served as they are
 * (no build step). The page holds no data itself; it calls the budget API with the token the
 * user pastes, so it is served without authentication, like any login page.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** Where the page's assets are served from; the page refers to them relative to `/`. */
export const DASHBOARD_ASSET_PATH = '/dashboard';

const PAGE = 'index.html';

/**
 * The dashboard's folder: `api/dashboard` under the package root, found by walking up from
 * `fromFile` (this module). tsc does not copy non-TypeScript files into dist/, so the compiled
 * module (dist/api/, or dist/bench/api/ for benchmarks) serves the same source folder as tsx
 * does: it is part of the package and exists after `npm install`. Undefined when not found.
 */
export function findDashboardDir(fromFile: string = fileURLToPath(import.meta.url)): string | undefined {
  let dir = dirname(fromFile);
  for (;;) {
    const candidate = join(dir, 'api', 'dashboard');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, PAGE))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Serves the page at `/` and its assets under `/dashboard/`; everything else falls through. */
export function createDashboardRouter(dir: string): Router {
  const router = Router();
  // The page is tiny and changes with the installed version: revalidate (ETag) on every load
  // rather than let a browser keep an old script next to a newer API.
  const headers = { 'Cache-Control': 'no-cache' };
  router.get('/', (_req, res, next) => {
    res.sendFile(join(dir, PAGE), { headers }, (error) => {
      if (error) next(error);
    });
  });
  router.use(DASHBOARD_ASSET_PATH, express.static(dir, { index: false, dotfiles: 'ignore', cacheControl: false, setHeaders: (res) => res.set(headers) }));
  return router;
}
