import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { printTable } from './report.js';
import { toMebibytes } from './stats.js';

/**
 * Machine facts printed above every run, and CPU pinning. Figures from different machines are
 * not comparable, so the run says where it ran.
 */

/** The load generator, sink and in-process suites run here; Tollgate gets the other core. */
export const BENCH_CORE = 1;
export const SERVICE_CORE = 0;

export function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The CPUs this process may run on, as the kernel lists them (`0-1`, `1`). */
export function allowedCpus(pid: number | 'self' = 'self'): string {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Cpus_allowed_list:'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function isPinnedTo(core: number): boolean {
  return allowedCpus() === String(core);
}

/** Every CPU of the machine; `availableParallelism()` would count only those this (already pinned) process may use. */
function onlineCpus(): number {
  return cpus().length;
}

let tasksetAvailable: boolean | undefined;

/** Pinning needs `taskset` and a second core; without them the suites still run, unpinned. */
export function canPin(): boolean {
  if (tasksetAvailable === undefined) {
    try {
      execFileSync('taskset', ['-c', String(BENCH_CORE), 'true'], { stdio: 'ignore' });
      tasksetAvailable = true;
    } catch {
      tasksetAvailable = false;
    }
  }
  return tasksetAvailable && onlineCpus() >= 2;
}

/** The command line that runs `args` on one core, or unchanged when pinning is impossible. */
export function pinnedCommand(core: number, command: string, args: readonly string[]): { command: string; args: string[] } {
  return canPin() ? { command: 'taskset', args: ['-c', String(core), command, ...args] } : { command, args: [...args] };
}

export function printMachine(): void {
  printTable(
    'Machine',
    ['fact', 'value'],
    [
      ['CPU model', cpuModel()],
      ['CPUs', String(onlineCpus())],
      ['memory', `${toMebibytes(totalmem()).toFixed(0)} MiB`],
      ['node', process.version],
      ['V8', process.versions.v8],
      ['bench process CPUs', allowedCpus()],
      ['pinning', canPin() ? `bench on core ${BENCH_CORE}, Tollgate on core ${SERVICE_CORE}` : 'unavailable (no taskset or one core): figures are unpinned'],
    ],
    2,
  );
}
