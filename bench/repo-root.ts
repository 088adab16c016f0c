import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, found by walking up from a module to a file the repository holds
 * (`marker`, a path relative to the root): bench and test support modules run from their source
 * folder under tsx and from dist/bench/… compiled, so a fixed `../..` would be wrong in one of
 * the two.
 */
export function repoRootAbove(moduleUrl: string, marker: string): string {
  const from = fileURLToPath(moduleUrl);
  let dir = dirname(from);
  while (!existsSync(join(dir, marker))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${marker} above ${from}`);
    dir = parent;
  }
  return dir;
}
