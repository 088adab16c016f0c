// The real OpenTelemetry Collector for the interop tests: built once by
// test/interop/build-collector.sh (ocb from the Go module proxy, cached outside the repo), then
// started per test with a YAML config in a temp dir on free loopback ports (bench/collector-process.ts
// does the work; the `vs-collector` bench suite runs the same binary).
import { readFileSync } from 'node:fs';
import { COLLECTOR_BUILD_TIMEOUT_MS, ensureCollectorBinary, goAvailable, OTLP_HTTP_RECEIVER_YAML, startCollector } from '../../bench/collector-process.js';
import type { CollectorOptions, CollectorProcess } from '../../bench/collector-process.js';
import { parseOtlpJsonObject } from '../../collector/otlp/otlp-json.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';

export type { CollectorOptions, CollectorProcess };
export { COLLECTOR_BUILD_TIMEOUT_MS, ensureCollectorBinary, OTLP_HTTP_RECEIVER_YAML, startCollector };

/**
 * Why the interop tests cannot run here, or undefined when they can; use as `{ skip: collectorSkipReason() }`.
 * Under CI it is always undefined: a missing Go toolchain must fail the tests there (the build
 * fails loudly), not skip them.
 */
export function collectorSkipReason(): string | undefined {
  if (process.env.CI) return undefined;
  if (!goAvailable()) return 'the interop tests build the OpenTelemetry Collector with Go (go not found on PATH); skipped outside CI';
  return undefined;
}

/**
 * The requests a collector's file exporter wrote (format: json — one OTLP/JSON Export*ServiceRequest
 * per line), normalized to the canonical object form. A missing file reads as no requests.
 */
export function readFileExport(signal: Signal, path: string): OtlpObject[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  // The exporter writes whole lines; a line still being written has no newline yet.
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => parseOtlpJsonObject(signal, line));
}

/** Polls `check` until it holds; throws with `what` (and the detail `check` last gave) on timeout. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
