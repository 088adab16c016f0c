/**
 * Bearer-token authentication of the budget API. Only SHA-256 digests of tokens are held; a
 * presented token is hashed and compared with every configured digest in constant time, so
 * neither the comparison nor the number of entries checked depends on how much of a token
 * matched. The principal (its team, or admin) comes from the token alone.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Who is calling: an admin sees every team; a team token sees its own team only. */
export type Principal = { readonly name: string; readonly admin: true } | { readonly name: string; readonly admin: false; readonly team: string };

/** A configured token as the API keeps it: a name, a scope and the hex SHA-256 of the token. */
export interface TokenEntry {
  readonly name: string;
  readonly admin: boolean;
  /** Required unless `admin`. */
  readonly team?: string;
  readonly sha256: string;
}

export type Authenticate = (authorization: string | undefined) => Principal | undefined;

const BEARER = /^Bearer +([^\s]+) *$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function principalOf(entry: TokenEntry): Principal {
  if (entry.admin) return { name: entry.name, admin: true };
  if (entry.team === undefined) throw new Error(`token "${entry.name}" has neither a team nor admin scope`);
  return { name: entry.name, admin: false, team: entry.team };
}

/** The principal of an `Authorization` header value, or undefined when it carries no known token. */
export function createAuthenticator(entries: readonly TokenEntry[]): Authenticate {
  const known = entries.map((entry) => ({ digest: Buffer.from(entry.sha256, 'hex'), principal: principalOf(entry) }));
  for (const [index, entry] of known.entries()) {
    if (entry.digest.length !== 32) throw new Error(`token "${entries[index].name}": sha256 must be 64 hex digits`);
  }
  return (authorization) => {
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    if (!match) return undefined;
    const presented = digest(match[1]);
    let found: Principal | undefined;
    // No early exit: every entry is compared whichever one matches.
    for (const entry of known) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry.principal;
    }
    return found;
  };
}

/** Whether the principal may see `team`. */
export function canSee(principal: Principal, team: string): boolean {
  return principal.admin || principal.team === team;
}
