/**
 * `--source DIR`: where an offending metric (and label) is defined in code, so a CI annotation
 * lands on the line to change. A metric name is looked for as a string literal (quoted with
 * ', " or `) in the source files; names as exported to Prometheus are also looked for the way
 * the code likely spells them (`http_requests_total` → `http_requests`, `http.requests`). A
 * label is looked for as a literal in the metric's file after the metric's line first (where
 * the instrument is recorded), then anywhere.
 */
import type { Finding } from './findings.js';
import type { Origin } from './sample.js';

export interface SourceFile {
  /** As it should be reported: relative to the repository root, with `/`. */
  readonly path: string;
  readonly text: string;
}

const PROM_SUFFIXES = ['_total', '_bucket', '_count', '_sum', '_created'];

/** The spellings a metric name may have in code, most specific first. */
export function metricSpellings(name: string): string[] {
  const out = [name];
  for (const suffix of PROM_SUFFIXES) if (name.endsWith(suffix) && name.length > suffix.length) out.push(name.slice(0, -suffix.length));
  for (const spelling of [...out]) if (spelling.includes('_')) out.push(spelling.replaceAll('_', '.'));
  return [...new Set(out)];
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Offset of the first string literal equal to `needle` at or after `from`, or -1. */
function literalOffset(text: string, needle: string, from = 0): number {
  let best = -1;
  for (const quote of ["'", '"', '`']) {
    const at = text.indexOf(`${quote}${needle}${quote}`, from);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  return best;
}

const escapeRegex = (text: string) => text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** Offset of `key` written as an unquoted object key (`{ key: …`, `, key = …`, `{ key }`) at or after `from`, or -1. */
function objectKeyOffset(text: string, key: string, from: number): number {
  const pattern = new RegExp(`(?<=[{,]\\s*)${escapeRegex(key)}(?=\\s*[:=,}])`, 'g');
  pattern.lastIndex = from;
  return pattern.exec(text)?.index ?? -1;
}

export interface SourceIndex {
  metric(name: string): Origin | undefined;
  label(key: string, near: Origin | undefined): Origin | undefined;
}

export function createSourceIndex(files: readonly SourceFile[]): SourceIndex {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const metricCache = new Map<string, Origin | undefined>();

  function find(needle: string): Origin | undefined {
    for (const file of sorted) {
      const at = literalOffset(file.text, needle);
      if (at >= 0) return { path: file.path, line: lineAt(file.text, at) };
    }
    return undefined;
  }

  return {
    metric(name) {
      if (!metricCache.has(name)) metricCache.set(name, metricSpellings(name).map(find).find((o) => o !== undefined));
      return metricCache.get(name);
    },
    label(key, near) {
      const file = near && sorted.find((f) => f.path === near.path);
      if (file && near) {
        const lineStart = file.text.split('\n', near.line - 1).join('\n').length;
        let at = literalOffset(file.text, key, lineStart);
        // Near the metric, an unquoted object key counts too: `counter.add(1, { route })`.
        if (at < 0) at = objectKeyOffset(file.text, key, lineStart);
        if (at >= 0) return { path: file.path, line: lineAt(file.text, at) };
      }
      return find(key);
    },
  };
}

/** Sets `location` of every finding whose metric (or label) is found in the source. */
export function locateFindings(findings: readonly Finding[], index: SourceIndex): void {
  for (const finding of findings) {
    if (finding.location) continue;
    const metric = finding.metric === undefined ? undefined : index.metric(finding.metric);
    const label = finding.label === undefined ? undefined : index.label(finding.label, metric);
    const location = label ?? metric;
    if (location) finding.location = location;
  }
}
