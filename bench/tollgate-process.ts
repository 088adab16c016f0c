import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild } from './children.js';
import { pinnedCommand, SERVICE_CORE } from './machine.js';

/**
 * Runs the compiled `tollgate serve` as a separate process on its own core, the way it is
 * deployed, and reads its memory and CPU time from /proc.
 */

/** dist/bench/bench/tollgate-process.js → dist/bench/cli/main.js: the CLI compiled by the same tsc run. */
const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_KEPT_CHARS = 8_000;

export interface TollgateOptions {
  /** Base URL of the downstream the otlphttp exporter sends to (unless `exporters` replaces it). */
  readonly downstream?: string;
  /** The `exporters:` section's body (YAML lines indented by two spaces), instead of otlphttp to `downstream`. */
  readonly exporters?: string;
  /** Writes a V8 CPU profile of Tollgate into this directory when it stops. */
  readonly profileDir?: string;
  /** Governance rules to run with (written next to the config); undefined = the embedded default. */
  readonly rulesYaml?: string;
  /** More top-level config (YAML), appended to the bench config. */
  readonly extraConfig?: string;
  /** More keys under `api:` (YAML lines indented by two spaces), e.g. `tokens`. */
  readonly apiConfig?: string;
  /** Fills the data directory before Tollgate starts (e.g. with a prepared usage store). */
  readonly prepareDataDir?: (dataDir: string) => void;
  /** How long to wait for /readyz (default 15 s); a large usage store is integrity-checked at open. */
  readonly readyTimeoutMs?: number;
}

export interface MemoryReading {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the highest resident size since the process started. */
  readonly peakRssBytes: number;
}

export interface TollgateProcess {
  readonly pid: number;
  /** Base URL of the OTLP/HTTP receiver. */
  readonly otlpHttpUrl: string;
  readonly apiUrl: string;
  memory(): MemoryReading;
  /** User + system CPU time consumed so far, in seconds. */
  cpuSeconds(): number;
  /** What Tollgate wrote on stderr (the last few KB): warnings and errors during the run. */
  stderr(): string;
  /** SIGTERM (a graceful drain, which also writes the CPU profile), SIGKILL if it overruns. */
  stop(): Promise<void>;
}

export async function startTollgate(options: TollgateOptions): Promise<TollgateProcess> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const [httpPort, apiPort] = [await freePort(), await freePort()];
  const configFile = join(workDir, 'tollgate.yaml');
  let rulesFile: string | undefined;
  if (options.rulesYaml !== undefined) {
    rulesFile = join(workDir, 'rules.yaml');
    writeFileSync(rulesFile, options.rulesYaml);
  }
  writeFileSync(configFile, benchConfig(workDir, httpPort, apiPort, exportersOf(options), rulesFile, options.apiConfig ?? '') + (options.extraConfig ?? ''));
  if (options.prepareDataDir) {
    const dataDir = join(workDir, 'data');
    mkdirSync(dataDir, { recursive: true });
    options.prepareDataDir(dataDir);
  }

  const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const { command, args } = pinnedCommand(SERVICE_CORE, process.execPath, [...nodeArgs, CLI_MAIN, 'serve', '--config', configFile]);
  // taskset execs node in place, so the child's pid is Tollgate's pid and /proc/<pid> is Tollgate.
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  let stderrText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrText = (stderrText + chunk).slice(-STDERR_KEPT_CHARS);
  });

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  try {
    await waitUntilReady(child, apiUrl, () => stderrText, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
  } catch (error) {
    await stopChild(child);
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  const pid = child.pid ?? -1;
  return {
    pid,
    otlpHttpUrl: `http://127.0.0.1:${httpPort}`,
    apiUrl,
    memory: () => readMemory(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    stderr: () => stderrText,
    stop: async () => {
      await stopChild(child);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * The bench config: loopback only, gRPC off, no file exporter (disk speed is not what we
 * measure), no compression to the sink (gzip would measure zlib), warn-level logs so that the
 * log is quiet unless something goes wrong. Everything else is the shipped default.
 */
function benchConfig(workDir: string, httpPort: number, apiPort: number, exporters: string, rulesFile: string | undefined, apiConfig: string): string {
  return `data_dir: ${join(workDir, 'data')}
rules: ${rulesFile ?? 'null'}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${httpPort}
      grpc:
        enabled: false
exporters:
${exporters}api:
  endpoint: 127.0.0.1:${apiPort}
${apiConfig}shutdown:
  drain_timeout: 2s
telemetry:
  logs:
    level: warn
`;
}

function exportersOf(options: TollgateOptions): string {
  if (options.exporters !== undefined) return options.exporters;
  if (options.downstream === undefined) throw new Error('startTollgate: give a downstream or the exporters');
  return `  otlphttp:\n    endpoint: ${options.downstream}\n    compression: none\n`;
}

/** A port the kernel just handed out and released; loopback-only, so a collision is unlikely and would fail loudly. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls /readyz rather than waiting for the "Tollgate started" log line: at the warn level the
 * bench uses, that info line is not written.
 */
async function waitUntilReady(child: ChildProcess, apiUrl: string, stderr: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`tollgate exited before it was ready (${child.exitCode ?? child.signalCode}):\n${stderr()}`);
    }
    try {
      const response = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error(`tollgate was not ready within ${timeoutMs} ms:\n${stderr()}`);
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kilobytes = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kilobytes('VmRSS') * 1024, peakRssBytes: kilobytes('VmHWM') * 1024 };
}

let clockTicksPerSecond: number | undefined;

function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** utime + stime from /proc/<pid>/stat (fields 14 and 15, counted after the parenthesised command name). */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}
