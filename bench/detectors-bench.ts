/**
 * Microbenchmark of the value detectors: nanoseconds per `test()` call on realistic attribute
 * values packed into one buffer (as they sit in an OTLP request), for each built-in detector and,
 * for comparison, a regex detector.
 *
 * Run compiled for meaningful numbers (under tsx imported constants become getters and the
 * figures are upper bounds):
 *   npx tsc --outDir /tmp/detectors-bench --module nodenext --target es2022 --skipLibCheck bench/detectors-bench.ts
 *   node /tmp/detectors-bench/bench/detectors-bench.js
 * or, quicker: node --import tsx bench/detectors-bench.ts
 */
import type { DetectorName, ValueDetector } from '../rules/compiled.js';
import { createRegexDetector, DETECTORS } from '../rules/detectors.js';

/** Values most data points carry: every detector should reject them after a byte or two. */
const TYPICAL_VALUES = [
  'GET',
  '200',
  '/api/v1/orders/{id}',
  'checkout.shop.svc.cluster.local',
  'production',
  'eu-west-1',
  'checkout',
  'HTTP/1.1',
  'true',
  'io.opentelemetry.contrib.runtime',
  '2024-05-01T12:30:45Z',
  'SELECT id, total FROM orders WHERE customer_id = ?',
];

/** Log-body-like values: the "contains" detectors (email, credit_card) scan all of them. */
const LOG_BODIES = [
  'GET /api/v1/orders/8812 completed in 12.5 ms with status 200 for tenant eu-west-1 (cache hit ratio 0.93)',
  'connection pool exhausted: 64 of 64 connections in use, waiting 250 ms before retrying the request',
  'user signed in from 10.2.3.4 using session 4bf92f3577b34da6a3ce929d0e0e4736 after 2 attempts',
];

/** One value each detector matches (the slow path: a full parse). */
const MATCHING_VALUES = [
  '123e4567-e89b-12d3-a456-426614174000',
  'payment receipt sent to alice@example.com',
  '192.168.10.24:8080',
  '2001:db8:85a3::8a2e:370:7334',
  '4bf92f3577b34da6a3ce929d0e0e4736',
  'charged card 4111 1111 1111 1111 for order 8812',
  'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
];

interface PackedValues {
  readonly buf: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

/** The values back to back in one buffer, separated by bytes a detector might trip over. */
function pack(values: readonly string[]): PackedValues {
  const encoder = new TextEncoder();
  const encoded = values.map((v) => encoder.encode(v));
  const gap = encoder.encode('9@.:');
  const buf = new Uint8Array(encoded.reduce((n, e) => n + e.length + gap.length, gap.length));
  const starts = new Int32Array(values.length);
  const ends = new Int32Array(values.length);
  let at = 0;
  buf.set(gap, at);
  at += gap.length;
  encoded.forEach((bytes, i) => {
    buf.set(bytes, at);
    starts[i] = at;
    ends[i] = at + bytes.length;
    at += bytes.length;
    buf.set(gap, at);
    at += gap.length;
  });
  return { buf, starts, ends };
}

/** Calls per value per round, so a timing covers millions of calls. */
function runRounds(detector: ValueDetector, values: PackedValues, rounds: number): number {
  const { buf, starts, ends } = values;
  let matches = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < starts.length; i++) if (detector.test(buf, starts[i], ends[i])) matches++;
  }
  return matches;
}

/** Median ns per call over a few timed runs of about `budgetMs` each. */
function nsPerCall(detector: ValueDetector, values: PackedValues, budgetMs = 150): number {
  let rounds = 1000;
  runRounds(detector, values, rounds); // warm-up, and JIT
  for (;;) {
    const t0 = process.hrtime.bigint();
    runRounds(detector, values, rounds);
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (elapsedMs >= budgetMs / 4) {
      rounds = Math.ceil((rounds * budgetMs) / elapsedMs);
      break;
    }
    rounds *= 4;
  }
  const samples: number[] = [];
  let sink = 0;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    sink += runRounds(detector, values, rounds);
    samples.push(Number(process.hrtime.bigint() - t0) / (rounds * values.starts.length));
  }
  if (sink < 0) console.log(sink); // keeps the calls observable
  return samples.sort((a, b) => a - b)[2];
}

function format(ns: number): string {
  return `${ns.toFixed(1).padStart(7)} ns  (${(1000 / ns).toFixed(0).padStart(4)} M/s)`;
}

const mixes: readonly (readonly [string, PackedValues])[] = [
  ['typical values', pack(TYPICAL_VALUES)],
  ['log bodies', pack(LOG_BODIES)],
  ['matching values', pack(MATCHING_VALUES)],
];

const detectors: ValueDetector[] = [
  ...(Object.keys(DETECTORS) as DetectorName[]).map((name) => DETECTORS[name]),
  createRegexDetector('regex uuid (baseline)', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i),
  createRegexDetector('regex email (baseline)', /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/),
];

console.log(`node ${process.version}; ns per test() call (median of 5)\n`);
console.log(['detector'.padEnd(24), ...mixes.map(([label]) => label.padEnd(26))].join(''));
for (const detector of detectors) {
  const cells = mixes.map(([, values]) => format(nsPerCall(detector, values)).padEnd(26));
  console.log([detector.name.padEnd(24), ...cells].join(''));
}
