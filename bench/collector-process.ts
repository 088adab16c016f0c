import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { trackChild } from './children.js';
import { pinnedCommand } from './machine.js';
import { repoRootAbove } from './repo-root.js';
import type { MemoryReading } from './tollgate-process.js';
import { freePort, readCpuSeconds, readMemory, stopChild } from './tollgate-process.js';

/**
 * The real OpenTelemetry Collector, built by test/interop/build-collector.sh (ocb, from the Go
 * module proxy, into a cache outside the repo) and run as a child process. Used by the interop
 * tests (through test/support/collector.ts) and by the `vs-collector` bench suite.
 */

const BUILD_SCRIPT = 'test/interop/build-collector.sh';
/** A cold build downloads a few hundred modules and compiles them: minutes on 2 cores. */
export const COLLECTOR_BUILD_TIMEOUT_MS = 30 * 60_000;
const READY_TIMEOUT_MS = 30_000;
const STDERR_KEPT_CHARS = 1_000_000;

/** True when the Go toolchain the build needs is on PATH. */
export function goAvailable(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

let builtBinary: string | undefined;

/**
 * Builds the collector unless the cache already holds one from the same manifest, and returns
 * the binary's path. Synchronous and slow the first time (minutes); instant afterwards.
 */
export function ensureCollectorBinary(): string {
  if (builtBinary !== undefined) return builtBinary;
  const result = spawnSync('bash', [join(repoRootAbove(import.meta.url, BUILD_SCRIPT), BUILD_SCRIPT)], { encoding: 'utf8', timeout: COLLECTOR_BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  const path = result.stdout?.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || path === '' || !existsSync(path)) {
    throw new Error(`building the OpenTelemetry Collector failed (exit ${result.status ?? result.signal}): ${result.error?.message ?? ''}\n${(result.stderr ?? '').slice(-6000)}`);
  }
  builtBinary = path;
  return path;
}

export interface CollectorOptions {
  /**
   * The collector config (YAML). `{{dir}}` is replaced by the run's temp dir, `{{port:NAME}}` by
   * a free loopback port (the same NAME gives the same port). A health_check extension is added;
   * unless the config sets them, logs are switched to JSON without sampling and the collector's
   * own metrics endpoint (fixed port 8888) is turned off, so that several collectors can run at once.
   */
  readonly config: string;
  /** Pins the collector to this core with taskset (when pinning is possible). */
  readonly core?: number;
  /** Extra environment, e.g. GOMAXPROCS. */
  readonly env?: NodeJS.ProcessEnv;
  readonly readyTimeoutMs?: number;
}

export interface CollectorProcess {
  readonly pid: number;
  /** The temp dir holding config.yaml and whatever the config writes under {{dir}}. */
  readonly dir: string;
  /** The port chosen for `{{port:NAME}}`. */
  port(name: string): number;
  /** Everything the collector logged on stderr (JSON lines). */
  stderr(): string;
  /** The JSON log entries, parsed (lines that are not JSON are skipped). */
  logEntries(): Record<string, unknown>[];
  memory(): MemoryReading;
  cpuSeconds(): number;
  /** SIGTERM (the collector drains its queues), SIGKILL if it overruns; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** stop(), then deletes the temp dir. */
  remove(): Promise<void>;
}

/** An OTLP receiver on HTTP only, at `{{port:otlp_http}}` (read it back with `port('otlp_http')`): the top of most configs. */
export const OTLP_HTTP_RECEIVER_YAML = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{{port:otlp_http}}
`;

const HEALTH_PORT = 'health';

/** Replaces the placeholders; allocates one free port per distinct `{{port:NAME}}`. */
async function renderConfig(template: string, dir: string, ports: Map<string, number>): Promise<string> {
  for (const match of template.matchAll(/\{\{port:([\w.-]+)\}\}/g)) {
    if (!ports.has(match[1])) ports.set(match[1], await freePort());
  }
  if (!ports.has(HEALTH_PORT)) ports.set(HEALTH_PORT, await freePort());
  return template.replaceAll('{{dir}}', dir).replace(/\{\{port:([\w.-]+)\}\}/g, (_, name: string) => String(ports.get(name)));
}

type Mapping = Record<string, unknown>;

function mapping(parent: Mapping, key: string): Mapping {
  const value = parent[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Mapping;
  const created: Mapping = {};
  parent[key] = created;
  return created;
}

/** Adds what the harness relies on: a readiness endpoint, parseable logs, no fixed :8888 metrics port. */
function withHarnessSettings(configYaml: string, healthPort: number): string {
  const config = (parse(configYaml) ?? {}) as Mapping;
  mapping(config, 'extensions').health_check = { endpoint: `127.0.0.1:${healthPort}` };
  const service = mapping(config, 'service');
  const extensions = Array.isArray(service.extensions) ? (service.extensions as unknown[]) : [];
  service.extensions = [...extensions.filter((name) => name !== 'health_check'), 'health_check'];
  const telemetry = mapping(service, 'telemetry');
  const logs = mapping(telemetry, 'logs');
  logs.encoding ??= 'json';
  // The collector samples its logs by default (after 10 equal messages in 10 s, 1 in 100): a
  // test that counts retry lines must see every one.
  logs.sampling ??= { enabled: false };
  const metrics = mapping(telemetry, 'metrics');
  metrics.level ??= 'none';
  return stringify(config);
}

export async function startCollector(options: CollectorOptions): Promise<CollectorProcess> {
  const binary = ensureCollectorBinary();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-otelcol-'));
  const ports = new Map<string, number>();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, withHarnessSettings(await renderConfig(options.config, dir, ports), ports.get(HEALTH_PORT)!));

  const { command, args } = options.core === undefined ? { command: binary, args: [`--config=${configPath}`] } : pinnedCommand(options.core, binary, [`--config=${configPath}`]);
  // taskset execs the collector in place, so the child's pid is the collector's.
  const child: ChildProcess = spawn(command, args, { cwd: dir, env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  let stderrText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrText = (stderrText + chunk).slice(-STDERR_KEPT_CHARS);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  try {
    await waitHealthy(child, ports.get(HEALTH_PORT)!, options.readyTimeoutMs ?? READY_TIMEOUT_MS, () => stderrText);
  } catch (error) {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pid = child.pid ?? -1;
  const stop = async (): Promise<number | null> => {
    await stopChild(child);
    return exited;
  };
  return {
    pid,
    dir,
    port(name) {
      const port = ports.get(name);
      if (port === undefined) throw new Error(`the collector config has no {{port:${name}}}`);
      return port;
    },
    stderr: () => stderrText,
    logEntries: () => parseLogLines(stderrText),
    memory: () => readMemory(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    stop,
    async remove() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function parseLogLines(text: string): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      entries.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by the stderr window; nothing to learn from it.
    }
  }
  return entries;
}

/** The health_check extension answers 200 once every pipeline has started. */
async function waitHealthy(child: ChildProcess, port: number, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the collector exited before it was healthy (${child.exitCode ?? child.signalCode}):\n${stderr().slice(-6000)}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error(`the collector was not healthy within ${timeoutMs} ms:\n${stderr().slice(-6000)}`);
}
