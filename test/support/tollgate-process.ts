import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface TollgateProcess {
  readonly child: ChildProcess;
  /** host:port of the listeners, from the "Tollgate started" log line. */
  readonly http: string;
  readonly grpc: string;
  readonly api: string;
  readonly dataDir: string;
  /** Everything the process wrote on stderr so far (JSON log lines). */
  stderr(): string;
  /** Sends SIGTERM and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `tollgate serve` as a real child process (TypeScript through tsx) with the given YAML
 * config appended to a loopback, ephemeral-port base, and waits until it reports its addresses.
 * `configYaml` may use {{dataDir}}, replaced by the data directory: a fresh temporary directory,
 * or `options.dataDir` to start on the state an earlier process left there (a restart).
 */
export async function startTollgate(configYaml = '', options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; dataDir?: string } = {}): Promise<TollgateProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  const base = [
    `data_dir: ${dataDir}`,
    'api:',
    '  endpoint: 127.0.0.1:0',
    'telemetry:',
    '  logs:',
    '    level: info',
  ];
  const hasReceivers = /^receivers:/m.test(configYaml);
  const receivers = hasReceivers
    ? []
    : ['receivers:', '  otlp:', '    protocols:', '      http:', '        endpoint: 127.0.0.1:0', '      grpc:', '        endpoint: 127.0.0.1:0'];
  const configPath = join(dataDir, 'tollgate.yaml');
  writeFileSync(configPath, [...base, ...receivers, configYaml.replaceAll('{{dataDir}}', dataDir)].join('\n') + '\n');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'serve', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, TOLLGATE_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a server behind when the test process dies before its cleanup hooks run.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate did not start in time; stderr:\n${stderr}`)), options.timeoutMs ?? 20_000);
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      for (const line of stderr.split('\n')) {
        if (!line.includes('"Tollgate started"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, string>);
        return;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tollgate exited with ${code} before starting; stderr:\n${stderr}`));
    });
  });
  return {
    child,
    http: started.http,
    grpc: started.grpc,
    api: started.api,
    dataDir,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
