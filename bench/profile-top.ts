import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { printTable } from './report.js';
import { formatFixed } from './stats.js';

/**
 * `node dist/bench/bench/profile-top.js FILE|DIR [N]`: the top N frames by self time of a V8
 * `.cpuprofile` (from `--cpu-prof`, or `run.js --profile DIR`), so a missed target can be
 * explained without opening DevTools. Given a directory, reads the newest profile in it.
 */

const IDLE = '(idle)';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

function newestProfile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const profiles = readdirSync(path)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(path, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (profiles.length === 0) throw new Error(`no .cpuprofile in ${path}`);
  return profiles[0];
}

/** Self time per frame, from the sample stream (hitCount is absent in some V8 versions' output). */
function selfTimeByFrame(profile: CpuProfile): Map<string, number> {
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
  const micros = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = nodeById.get(samples[i]);
    if (!node) continue;
    const key = frameName(node);
    // A sample's time is the gap to the next sample.
    const delta = deltas[i + 1] ?? 0;
    micros.set(key, (micros.get(key) ?? 0) + Math.max(0, delta));
  }
  return micros;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url === '' ? '' : ` ${url.replace(/^file:\/\/.*?\/dist\/bench\//, '').replace(/^node:/, 'node:')}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${file}`;
}

function main(argv: readonly string[]): void {
  const [path, count = '25'] = argv;
  if (!path) throw new Error('usage: node dist/bench/bench/profile-top.js FILE|DIR [N]');
  const file = newestProfile(path);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const micros = selfTimeByFrame(profile);
  // Percentages of busy time: a server's profile is mostly idle between phases, which says nothing about the hot path.
  const idle = micros.get(IDLE) ?? 0;
  micros.delete(IDLE);
  const busy = [...micros.values()].reduce((a, b) => a + b, 0);
  const rows = [...micros]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(count))
    .map(([name, us]) => [name, formatFixed(us / 1000, 0), formatFixed((us / busy) * 100, 1)]);
  const title = `${file}: top frames by self time (${formatFixed(busy / 1e6, 1)} s busy, ${formatFixed(idle / 1e6, 1)} s idle)`;
  printTable(title, ['frame', 'self ms', '% of busy'], rows);
}

main(process.argv.slice(2));
