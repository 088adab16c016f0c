import { readFileSync } from 'node:fs';

/**
 * Per-core busy time from /proc/stat. The bench shares its machine with whatever else runs
 * (test suites, builds); a core that was busy while "our" process was not using it means the
 * figure was measured under interference and is low. The suites report it so a bad run can be
 * recognised instead of believed.
 */

interface CoreTimes {
  readonly busySeconds: number;
  /** Busy time in task context: what processes used (ours or others'), interrupts excluded. */
  readonly taskSeconds: number;
  readonly totalSeconds: number;
}

/** /proc/stat counts in USER_HZ, which is 100 on every Linux architecture Node runs on. */
const USER_HZ = 100;

function readCoreTimes(core: number): CoreTimes {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) return { busySeconds: Number.NaN, taskSeconds: Number.NaN, totalSeconds: Number.NaN };
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const task = user + nice + system + steal;
  const busy = task + irq + softirq;
  return { busySeconds: busy / USER_HZ, taskSeconds: task / USER_HZ, totalSeconds: (busy + idle + iowait) / USER_HZ };
}

export interface CoreShare {
  /** How busy the core was over the interval, % of the core. */
  readonly busyPercent: number;
  /**
   * Task time not spent by the process we measure, % of the core: other load. Interrupt time is
   * left out: in a loopback benchmark it is our own packets being delivered.
   */
  readonly otherPercent: number;
}

/**
 * Measures one core over an interval: `begin()`, run, `end(ownCpuSeconds)` where
 * `ownCpuSeconds` is the CPU time our process on that core used meanwhile.
 */
export function createCoreMeter(core: number): { begin(): void; end(ownCpuSeconds: number): CoreShare } {
  let start = readCoreTimes(core);
  return {
    begin: () => {
      start = readCoreTimes(core);
    },
    end: (ownCpuSeconds) => {
      const stop = readCoreTimes(core);
      const total = stop.totalSeconds - start.totalSeconds;
      const busy = stop.busySeconds - start.busySeconds;
      const task = stop.taskSeconds - start.taskSeconds;
      // Clock ticks are coarse (10 ms), so tiny negatives are rounding, not negative load.
      return { busyPercent: (busy / total) * 100, otherPercent: Math.max(0, ((task - ownCpuSeconds) / total) * 100) };
    },
  };
}

/** This process's user + system CPU time so far, in seconds. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** What a window meter measured between `begin()` and `end()`. */
export interface MeteredWindow<K extends string> {
  readonly seconds: number;
  /** How much each counter grew over the window. */
  readonly growth: Readonly<Record<K, number>>;
  /** Each metered core's busy and other-processes share. */
  readonly cores: ReadonlyMap<number, CoreShare>;
}

/**
 * Reads counters (CPU seconds of our processes, requests seen) when a load window opens and
 * closes, and meters cores meanwhile; `ownOn` names, per core, the CPU counters of the
 * processes running there, so the rest of that core's busy time counts as other load.
 */
export function createWindowMeter<K extends string>(
  read: () => Readonly<Record<K, number>>,
  ownOn: ReadonlyMap<number, readonly NoInfer<K>[]>,
): { readonly begin: () => void; readonly end: () => void; readonly window: () => MeteredWindow<K> } {
  const meters = [...ownOn.keys()].map((core) => [core, createCoreMeter(core)] as const);
  const sample = (): { at: number; values: Readonly<Record<K, number>> } => ({ at: performance.now(), values: read() });
  let begin = sample();
  let result: MeteredWindow<K> | undefined;
  return {
    begin: () => {
      begin = sample();
      for (const [, meter] of meters) meter.begin();
    },
    end: () => {
      const end = sample();
      const growth = {} as Record<K, number>;
      for (const key of Object.keys(end.values) as K[]) growth[key] = end.values[key] - begin.values[key];
      const own = (core: number): number => (ownOn.get(core) ?? []).reduce((sum, key) => sum + growth[key], 0);
      result = { seconds: (end.at - begin.at) / 1000, growth, cores: new Map(meters.map(([core, meter]) => [core, meter.end(own(core))])) };
    },
    window: () => {
      if (!result) throw new Error('bench: the measured window never closed');
      return result;
    },
  };
}
