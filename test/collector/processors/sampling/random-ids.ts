import { fmix32 } from '../../../../collector/otlp/hash.js';

/**
 * Deterministic test randomness: word i of stream `seed` is MurmurHash3's finalizer over a
 * Weyl sequence (seed + i · golden ratio), a counter-based generator whose output passes as
 * uniform for sampling statistics, and the same on every run.
 */
export function randomWords(seed: number): () => number {
  let state = fmix32(seed ^ 0x5bd1e995);
  return () => {
    state = (state + 0x9e3779b9) | 0;
    return fmix32(state ^ (state >>> 15));
  };
}

/** `count` random 16-byte trace ids, back to back in one buffer (id i at offset 16·i). */
export function randomTraceIds(count: number, seed: number): Uint8Array {
  const next = randomWords(seed);
  const bytes = new Uint8Array(count * 16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count * 4; i++) view.setUint32(i * 4, next());
  return bytes;
}

/** The binomial standard deviation of a kept count: √(n · p · (1 − p)). */
export function binomialSd(n: number, p: number): number {
  return Math.sqrt(n * p * (1 - p));
}
