/**
 * Sample label sets attached to a violation. The caller has already redacted values of denied
 * keys; this module only bounds what is kept, so one exploding metric cannot grow the
 * accumulator or a row without limit: at most MAX_VIOLATION_SAMPLES distinct samples per
 * violation row, each at most MAX_SAMPLE_LABELS labels of trimmed keys and values and at most
 * MAX_SAMPLE_BYTES of JSON. Samples are stored as a JSON array of objects.
 */

export type LabelSet = Readonly<Record<string, string>>;

export const MAX_VIOLATION_SAMPLES = 3;
export const MAX_SAMPLE_LABELS = 32;
export const MAX_SAMPLE_KEY_CHARS = 64;
export const MAX_SAMPLE_VALUE_CHARS = 128;
export const MAX_SAMPLE_BYTES = 1024;

function trim(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Canonical JSON of a bounded copy of `labels` (keys sorted, so equal sets compare equal), or
 * undefined when even the trimmed sample is larger than MAX_SAMPLE_BYTES.
 */
export function serializeSample(labels: LabelSet): string | undefined {
  const bounded: Record<string, string> = {};
  for (const key of Object.keys(labels).sort().slice(0, MAX_SAMPLE_LABELS)) {
    bounded[trim(key, MAX_SAMPLE_KEY_CHARS)] = trim(String(labels[key]), MAX_SAMPLE_VALUE_CHARS);
  }
  const json = JSON.stringify(bounded);
  return Buffer.byteLength(json, 'utf8') <= MAX_SAMPLE_BYTES ? json : undefined;
}

/** Appends the samples of `added` not already in `into`, keeping at most `max`; returns `into`. */
export function mergeSamples(into: string[], added: readonly string[], max = MAX_VIOLATION_SAMPLES): string[] {
  for (const sample of added) {
    if (into.length >= max) break;
    if (!into.includes(sample)) into.push(sample);
  }
  return into;
}

/** Sample strings of a stored JSON array; anything unreadable counts as no samples (never fails a flush). */
export function parseSampleArray(json: unknown): string[] {
  if (typeof json !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? parsed.filter((s) => typeof s === 'object' && s !== null).map((s) => JSON.stringify(s)) : [];
  } catch {
    return [];
  }
}

export function sampleArrayJson(samples: readonly string[]): string {
  return `[${samples.join(',')}]`;
}

/** Merges two stored JSON arrays of samples (the SQL function behind the violation upsert). */
export function mergeSampleArrays(existing: unknown, added: unknown): string {
  return sampleArrayJson(mergeSamples(parseSampleArray(existing), parseSampleArray(added)));
}
