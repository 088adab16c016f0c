// Reads Prometheus text exposition (what /metrics serves) into samples tests can assert on.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[label[1]] = label[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels` (0 when there is none). */
export function sampleSum(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Fetches and parses the /metrics page of a running Tollgate's API address (host:port). */
export async function scrapeMetrics(api: string): Promise<Sample[]> {
  const response = await fetch(`http://${api}/metrics`);
  return parsePrometheus(await response.text());
}

/** Sum of the samples of `name` in exposition `text` whose labels include `labels`. */
export function sampleIn(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  return sampleSum(parsePrometheus(text), name, labels);
}
