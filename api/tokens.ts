/**
 * Where the API's tokens come from, at start: the `api.tokens` config (hashes, env-substituted
 * tokens already hashed by the config reader, or token files read here), else a bootstrap admin
 * token created on first start. Only digests leave this module; no token is ever logged.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiTokenConfig } from '../collector/config/config.js';
import { sha256Hex } from '../collector/config/config.js';
import type { TokenEntry } from './auth.js';

export const ADMIN_TOKEN_FILE = 'admin.token';
export const ADMIN_TOKEN_HASH_FILE = 'admin.token.sha256';

/** Reads the token of a `token_file` entry; the error names the file and entry, never the content. */
function readTokenFile(name: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`api token "${name}": cannot read token_file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const token = text.trim();
  if (token.length < 16) throw new Error(`api token "${name}": token_file ${path} must hold a token of at least 16 characters`);
  return token;
}

/** The configured tokens as entries; token files are read now. */
export function configuredTokens(configured: readonly ApiTokenConfig[]): TokenEntry[] {
  return configured.map((token) => {
    const sha256 = token.sha256 ?? (token.token_file === undefined ? undefined : sha256Hex(readTokenFile(token.name, token.token_file)));
    if (sha256 === undefined) throw new Error(`api token "${token.name}" has no sha256, token or token_file`);
    return { name: token.name, admin: token.admin, team: token.team, sha256 };
  });
}

export interface BootstrapToken {
  readonly entry: TokenEntry;
  /** Where the token itself was written (it may have been removed since: the hash still holds). */
  readonly tokenPath: string;
  readonly created: boolean;
}

/**
 * The admin token of a Tollgate with no `api.tokens`: created on first start (the token goes to
 * `<dataDir>/admin.token`, mode 0600, its hash to `admin.token.sha256`), reused from the hash
 * file afterwards, so deleting the token file after reading it keeps the token valid.
 */
export function ensureAdminToken(dataDir: string): BootstrapToken {
  const tokenPath = join(dataDir, ADMIN_TOKEN_FILE);
  const hashPath = join(dataDir, ADMIN_TOKEN_HASH_FILE);
  if (existsSync(hashPath)) {
    const sha256 = readFileSync(hashPath, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`${hashPath} does not hold a SHA-256 hex digest; delete it (and ${tokenPath}) to create a new admin token`);
    return { entry: { name: 'bootstrap-admin', admin: true, sha256 }, tokenPath, created: false };
  }
  const token = `tg_${randomBytes(32).toString('base64url')}`;
  // The token first: a crash in between leaves no hash, and the next start makes a new pair.
  writeFileSync(tokenPath, `${token}\n`, { mode: 0o600 });
  chmodSync(tokenPath, 0o600);
  const sha256 = sha256Hex(token);
  writeFileSync(hashPath, `${sha256}\n`, { mode: 0o600 });
  return { entry: { name: 'bootstrap-admin', admin: true, sha256 }, tokenPath, created: true };
}

/** Every token the API accepts, and the bootstrap token when none was configured. */
export function loadApiTokens(configured: readonly ApiTokenConfig[], dataDir: string): { readonly entries: readonly TokenEntry[]; readonly bootstrap?: BootstrapToken } {
  if (configured.length > 0) return { entries: configuredTokens(configured) };
  const bootstrap = ensureAdminToken(dataDir);
  return { entries: [bootstrap.entry], bootstrap };
}
