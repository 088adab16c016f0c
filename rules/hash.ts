/**
 * The identity of a rules document: sha256 over a canonical JSON form, so the same policy
 * always has the same hash (whatever the key order or spelling in the file, since the
 * document is already normalized) and any change of meaning changes it. The hash names the
 * rules in force in logs, self-metrics and the API.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and undefined members left out; list order is kept (it means something). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Readonly<Record<string, unknown>>;
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Lower-case hex sha256 of the canonical JSON of `document`. */
export function rulesHash(document: unknown): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}
