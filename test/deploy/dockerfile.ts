/**
 * Reads deploy/Dockerfile and .dockerignore the way Docker does, for the parts the tests need
 * (there is no Docker engine here): instructions with line continuations and `ARG` defaults
 * substituted, stages, and the build context that .dockerignore leaves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ... */
  readonly name: string;
  /** The text after the instruction name, ARG defaults substituted. */
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  readonly base: string;
  readonly instructions: readonly Instruction[];
}

function substituteArgs(text: string, args: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced: string | undefined, bare: string | undefined) => args.get(braced ?? bare ?? '') ?? match);
}

/** Instructions in order; `\` continues a line, `#` lines are comments (also inside a continued instruction). */
export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const args = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i].trim();
      line = line.slice(0, -1).trimEnd() + (next.startsWith('#') ? '' : ` ${next}`);
    }
    const match = /^(\S+)\s*(.*)$/s.exec(line);
    if (!match) continue;
    const name = match[1].toUpperCase();
    // Global ARGs (before the first FROM) substitute into FROM lines; stage ARGs are not used here.
    if (name === 'ARG') {
      const [key, value] = match[2].split('=', 2);
      if (value !== undefined) args.set(key.trim(), value.trim());
    }
    instructions.push({ name, args: name === 'RUN' ? match[2] : substituteArgs(match[2], args), line: start + 1 });
  }
  return instructions;
}

export function parseStages(text: string): Stage[] {
  const stages: { name: string; base: string; instructions: Instruction[] }[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.name === 'FROM') {
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ base: match[1], name: match[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return stages;
}

/** Exec form (`["a", "b"]`) as a list; shell form as `sh -c`. */
export function commandOf(args: string): string[] {
  const trimmed = args.trim();
  return trimmed.startsWith('[') ? (JSON.parse(trimmed) as string[]) : ['/bin/sh', '-c', trimmed];
}

export interface CopySpec {
  readonly from?: string;
  readonly sources: readonly string[];
  readonly destination: string;
}

export function parseCopy(args: string): CopySpec {
  const words = args.trim().split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() ?? '';
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else throw new Error(`COPY flag ${flag} is not understood by this reader`);
  }
  const destination = words.pop() ?? '';
  return { from, sources: words, destination };
}

// ─── .dockerignore ─────────────────────────────────────────────────────────────────────────────

interface IgnorePattern {
  readonly negated: boolean;
  readonly regex: RegExp;
  readonly text: string;
}

function patternRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, including none.
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const text_ = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      return { negated, regex: patternRegex(text_), text: text_ };
    });
}

/** Docker's rule: a pattern matches a path or any of its parent directories; the last matching pattern wins. */
export function isIgnored(patterns: readonly IgnorePattern[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const pattern of patterns) if (prefixes.some((prefix) => pattern.regex.test(prefix))) ignored = !pattern.negated;
  return ignored;
}

/** Relative paths of the files that the build context holds (what `docker build` would send). */
export function contextFiles(root: string, patterns: readonly IgnorePattern[]): string[] {
  const exceptions = patterns.filter((p) => p.negated);
  const walk = (relative: string): string[] =>
    readdirSync(join(root, relative), { withFileTypes: true }).flatMap((entry) => {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        // Descend into an ignored directory only when an exception could re-include something in it.
        if (isIgnored(patterns, path) && !exceptions.some((p) => p.text.startsWith(`${path}/`) || p.text.startsWith('**'))) return [];
        return walk(path);
      }
      return entry.isFile() && !isIgnored(patterns, path) ? [path] : [];
    });
  return walk('');
}

export function readDockerfile(root: string): { stages: Stage[]; ignore: IgnorePattern[] } {
  return {
    stages: parseStages(readFileSync(join(root, 'deploy/Dockerfile'), 'utf8')),
    ignore: parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8')),
  };
}
