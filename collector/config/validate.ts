/**
 * A small declarative schema toolkit for configuration files (process config now, governance
 * rules later). A schema both validates and documents: `validate` turns untrusted input into a
 * typed, defaults-applied, deeply frozen value or lists every problem at once with its key path,
 * and `describeSchema` renders the same schema as a markdown reference table.
 *
 * We write our own instead of pulling in a validation library because the error contract is the
 * product here: a path for every issue, all issues in one pass, and a "did you mean" for typos.
 */
import { isIPv4, isIPv6 } from 'node:net';

// ─── Issues and paths ──────────────────────────────────────────────────────────────────────────

/** One key (object/map) or index (list) on the way from the root to a value. */
export type PathSegment = string | number;

export interface ConfigIssue {
  /** Display path, e.g. `exporters.otlphttp.retry_on_failure.max_elapsed_time` or `a.b[2].c`. */
  readonly path: string;
  readonly message: string;
  /** The same path as segments, for tools that map issues back to source positions. */
  readonly segments: readonly PathSegment[];
}

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly ConfigIssue[] };

const PLAIN_KEY = /^[A-Za-z0-9_/-]+$/;

/** Renders segments as `a.b[2].c`; keys that would read ambiguously are quoted: `headers["x.y"]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Where a value sits while it is checked, and the shared list its problems go to. */
export interface Cursor {
  readonly segments: readonly PathSegment[];
  readonly issues: ConfigIssue[];
}

function childCursor(at: Cursor, segment: PathSegment): Cursor {
  return { segments: [...at.segments, segment], issues: at.issues };
}

function report(at: Cursor, message: string): void {
  at.issues.push({ path: formatPath(at.segments), message, segments: at.segments });
}

/** Returned by a schema's `parse` when the value was rejected (the reasons are in the cursor). */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

// ─── Untyped scalars (environment substitution) ────────────────────────────────────────────────

/**
 * A scalar whose type is decided by the schema that reads it. Environment substitution produces
 * these for values that are entirely one reference (`max_files: ${env:MAX_FILES}`): a numeric or
 * boolean field takes `typed` (5, true), a string-like field takes `text` ("5", "true"), the way
 * the OpenTelemetry Collector keeps the original text for string fields.
 */
export class UntypedScalar {
  constructor(
    readonly text: string,
    readonly typed: unknown,
  ) {}
}

// ─── Schema ────────────────────────────────────────────────────────────────────────────────────

/** How a schema is built, for documentation walkers. Wrappers point at what they wrap. */
export type SchemaStructure =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, AnySchema>> }
  | { readonly kind: 'list'; readonly element: AnySchema }
  | { readonly kind: 'map'; readonly values: AnySchema }
  | { readonly kind: 'components'; readonly types: Readonly<Record<string, AnySchema>> }
  | { readonly kind: 'optional'; readonly inner: AnySchema; readonly hasDefault: boolean; readonly defaultValue: unknown }
  | { readonly kind: 'nullable'; readonly inner: AnySchema }
  | { readonly kind: 'refined'; readonly inner: AnySchema };

/**
 * Validates unknown input into `Out`. `In` is what a config file may contain for it; it types the
 * defaults passed to `optional`, which are written the way a user would write them ("64MiB").
 */
export interface Schema<Out, In = Out> {
  /** Short human type name for docs, e.g. `duration`, `integer (1–65535)`, `list of string`. */
  readonly typeName: string;
  readonly description: string;
  readonly structure: SchemaStructure;
  /** Checks `input`, reports problems under `at`, and returns the output or INVALID. */
  parse(input: unknown, at: Cursor): Out | Invalid;
  /** Type-level only: never set. */
  readonly __input?: In;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the input side is irrelevant to holders of "any schema"
export type AnySchema = Schema<unknown, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Infer<S> = S extends Schema<infer Out, any> ? Out : never;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type InputOf<S> = S extends Schema<any, infer In> ? In : never;

/** Flattens intersections so editor hovers show plain object types. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

export interface DescribeOptions {
  readonly description?: string;
}

// ─── Scalars ───────────────────────────────────────────────────────────────────────────────────

export type ScalarCheck<Out> = (input: unknown) => { readonly ok: true; readonly value: Out } | { readonly ok: false; readonly message: string };

export interface ScalarOptions<Out> extends DescribeOptions {
  readonly typeName: string;
  /** Take the text of an environment-substituted value rather than its YAML-typed reading. */
  readonly takesText: boolean;
  readonly check: ScalarCheck<Out>;
}

/** Builds a leaf schema from a check function; every scalar builder below is one of these. */
export function scalar<Out, In = Out>(options: ScalarOptions<Out>): Schema<Out, In> {
  return {
    typeName: options.typeName,
    description: options.description ?? '',
    structure: { kind: 'scalar' },
    parse(input, at) {
      const value = input instanceof UntypedScalar ? (options.takesText ? input.text : input.typed) : input;
      const result = options.check(value);
      if (result.ok) return result.value;
      report(at, result.message);
      return INVALID;
    },
  };
}

const accept = <T>(value: T) => ({ ok: true as const, value });
const reject = (message: string) => ({ ok: false as const, message });

export interface StringOptions extends DescribeOptions {
  readonly minLength?: number;
  /** A pattern the whole value must match, with the message to show when it does not. */
  readonly pattern?: { readonly regex: RegExp; readonly message: string };
}

export function string(options: StringOptions = {}): Schema<string> {
  const minLength = options.minLength ?? 0;
  return scalar({
    typeName: 'string',
    description: options.description,
    takesText: true,
    check(input) {
      if (typeof input !== 'string') return reject('must be a string');
      if (input.length < minLength) return reject(minLength === 1 ? 'must not be empty' : `must be at least ${minLength} characters long`);
      if (options.pattern && !options.pattern.regex.test(input)) return reject(options.pattern.message);
      return accept(input);
    },
  });
}

export interface RangeOptions extends DescribeOptions {
  readonly min?: number;
  readonly max?: number;
}

function integerRangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (min === 1) return 'a positive integer';
  if (min === 0) return 'a non-negative integer';
  if (min !== undefined) return `an integer >= ${min}`;
  if (max !== undefined) return `an integer <= ${max}`;
  return 'an integer';
}

function rangeSuffix(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` (${min}–${max})`;
  if (min !== undefined) return ` (>= ${min})`;
  if (max !== undefined) return ` (<= ${max})`;
  return '';
}

export function integer(options: RangeOptions = {}): Schema<number> {
  const { min, max } = options;
  const expected = `must be ${integerRangeText(min, max)}`;
  return scalar({
    typeName: `integer${rangeSuffix(min, max)}`,
    description: options.description,
    takesText: false,
    check(input) {
      if (typeof input !== 'number' || !Number.isSafeInteger(input)) return reject(expected);
      if ((min !== undefined && input < min) || (max !== undefined && input > max)) return reject(expected);
      return accept(input);
    },
  });
}

export function number(options: RangeOptions = {}): Schema<number> {
  const { min, max } = options;
  return scalar({
    typeName: `number${rangeSuffix(min, max)}`,
    description: options.description,
    takesText: false,
    check(input) {
      if (typeof input !== 'number' || !Number.isFinite(input)) return reject('must be a number');
      if (min !== undefined && max !== undefined && (input < min || input > max)) return reject(`must be a number from ${min} to ${max}`);
      if (min !== undefined && input < min) return reject(`must be a number >= ${min}`);
      if (max !== undefined && input > max) return reject(`must be a number <= ${max}`);
      return accept(input);
    },
  });
}

export function boolean(options: DescribeOptions = {}): Schema<boolean> {
  return scalar({
    typeName: 'boolean',
    description: options.description,
    takesText: false,
    check: (input) => (typeof input === 'boolean' ? accept(input) : reject('must be true or false')),
  });
}

export function enumOf<const V extends readonly string[]>(values: V, options: DescribeOptions = {}): Schema<V[number]> {
  const allowed = values.map((v) => JSON.stringify(v)).join(', ');
  return scalar({
    typeName: `one of ${values.map((v) => `\`${v}\``).join(', ')}`,
    description: options.description,
    takesText: true,
    check(input) {
      if (typeof input === 'string' && values.includes(input)) return accept(input as V[number]);
      const near = typeof input === 'string' ? suggestClosest(input, values) : undefined;
      return reject(`must be one of ${allowed}${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
    },
  });
}

// ─── Durations and byte sizes ──────────────────────────────────────────────────────────────────

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_TEXT = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** "250ms", "5s", "2m", "1h", "1m30s" → milliseconds; undefined if the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_TEXT.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) total += Number(amount) * DURATION_UNITS_MS[unit];
  return total;
}

/** Milliseconds → the largest unit that divides evenly: 300000 → "5m", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const size = DURATION_UNITS_MS[unit];
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Accepts "250ms", "5s", "2m", "1h" (or combinations such as "1m30s") or a number of milliseconds; yields ms. */
export function duration(options: RangeOptions = {}): Schema<number, string | number> {
  const { min, max } = options;
  return scalar({
    typeName: 'duration',
    description: options.description,
    takesText: false,
    check(input) {
      const ms = typeof input === 'number' ? input : typeof input === 'string' ? parseDuration(input) : undefined;
      if (ms === undefined || !Number.isFinite(ms) || ms < 0) return reject('must be a duration like "30s"');
      if (min !== undefined && ms < min) return reject(`must be at least ${formatDuration(min)}`);
      if (max !== undefined && ms > max) return reject(`must be at most ${formatDuration(max)}`);
      return accept(ms);
    },
  });
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};
const BYTE_SIZE_TEXT = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/;

/** "64MiB", "512KiB", "1GiB", "10MB", "100B" → bytes; undefined if the text is not a size. */
export function parseByteSize(text: string): number | undefined {
  const match = BYTE_SIZE_TEXT.exec(text);
  if (!match) return undefined;
  const unit = BYTE_UNITS[match[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(match[1]) * unit);
}

/** Bytes → the largest binary unit that divides evenly: 67108864 → "64MiB". */
export function formatByteSize(bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const size = BYTE_UNITS[unit.toLowerCase()];
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** Accepts a number of bytes or "64MiB", "512KiB", "1GiB", "10MB" (binary and decimal units); yields bytes. */
export function byteSize(options: RangeOptions = {}): Schema<number, string | number> {
  const { min, max } = options;
  return scalar({
    typeName: 'byte size',
    description: options.description,
    takesText: false,
    check(input) {
      const bytes = typeof input === 'number' ? input : typeof input === 'string' ? parseByteSize(input) : undefined;
      if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 0) return reject('must be a byte size like "64MiB"');
      if (min !== undefined && bytes < min) return reject(`must be at least ${formatByteSize(min)}`);
      if (max !== undefined && bytes > max) return reject(`must be at most ${formatByteSize(max)}`);
      return accept(bytes);
    },
  });
}

// ─── Network addresses ─────────────────────────────────────────────────────────────────────────

/** A listen address. `:4318` (no host) is read as `0.0.0.0:4318`, every IPv4 interface. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

const ENDPOINT_TEXT = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/;
// Underscores are not valid in DNS names but common in container service names.
const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/**
 * "127.0.0.1:4318", "[::1]:4317", "localhost:8717", ":4318" → { host, port }; undefined otherwise.
 * An empty host becomes "0.0.0.0" rather than "": listeners such as grpc-js cannot bind "".
 */
export function parseEndpoint(text: string): Endpoint | { readonly error: string } | undefined {
  const match = ENDPOINT_TEXT.exec(text);
  if (!match) return undefined;
  const [, bracketed, plain, portText] = match;
  const port = Number(portText);
  if (port > 65535) return { error: 'port must be from 0 to 65535' };
  if (bracketed !== undefined) return isIPv6(bracketed) ? { host: bracketed, port } : undefined;
  if (plain === '') return { host: '0.0.0.0', port };
  if (isIPv4(plain) || HOSTNAME.test(plain)) return { host: plain, port };
  return undefined;
}

/** { host: "::1", port: 4317 } → "[::1]:4317", the form grpc-js binds and logs show. */
export function formatEndpoint(endpoint: Endpoint): string {
  return isIPv6(endpoint.host) ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export function endpoint(options: DescribeOptions = {}): Schema<Endpoint, string> {
  const expected = 'must be an endpoint like "127.0.0.1:4318" or "[::1]:4317"';
  return scalar({
    typeName: 'endpoint (host:port)',
    description: options.description,
    takesText: true,
    check(input) {
      const parsed = typeof input === 'string' ? parseEndpoint(input) : undefined;
      if (parsed === undefined) return reject(expected);
      if ('error' in parsed) return reject(parsed.error);
      return accept({ host: parsed.host, port: parsed.port });
    },
  });
}

export interface UrlOptions extends DescribeOptions {
  /** Allowed schemes with their colon, as `URL.protocol` spells them. Default http: and https:. */
  readonly protocols?: readonly string[];
}

export function url(options: UrlOptions = {}): Schema<string> {
  const protocols = options.protocols ?? ['http:', 'https:'];
  const expected = `must be a URL like "${protocols[0]}//127.0.0.1:4318"`;
  return scalar({
    typeName: 'url',
    description: options.description,
    takesText: true,
    check(input) {
      if (typeof input !== 'string' || !URL.canParse(input)) return reject(expected);
      const parsed = new URL(input);
      if (!protocols.includes(parsed.protocol)) return reject(`must use ${protocols.map((p) => p.slice(0, -1)).join(' or ')}, not ${parsed.protocol.slice(0, -1)}`);
      return accept(input);
    },
  });
}

// ─── Containers ────────────────────────────────────────────────────────────────────────────────

function isMapping(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof UntypedScalar);
}

function describeActual(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof UntypedScalar) return `"${value.text}"`;
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

type Fields = Readonly<Record<string, AnySchema>>;
/** Keys whose schema accepts undefined, i.e. may be left out. */
type OptionalKeys<F extends Fields, Side extends 'in' | 'out'> = {
  [K in keyof F]: undefined extends (Side extends 'in' ? InputOf<F[K]> : Infer<F[K]>) ? K : never;
}[keyof F];
type RequiredKeys<F extends Fields, Side extends 'in' | 'out'> = Exclude<keyof F, OptionalKeys<F, Side>>;

export type ObjectOut<F extends Fields> = Simplify<
  { readonly [K in RequiredKeys<F, 'out'>]: Infer<F[K]> } & { readonly [K in OptionalKeys<F, 'out'>]?: Infer<F[K]> }
>;
export type ObjectIn<F extends Fields> = Simplify<
  { readonly [K in RequiredKeys<F, 'in'>]: InputOf<F[K]> } & { readonly [K in OptionalKeys<F, 'in'>]?: InputOf<F[K]> }
>;

function reportUnknownKey(at: Cursor, key: string, allowed: readonly string[]): void {
  const near = suggestClosest(key, allowed);
  let hint = '';
  if (near !== undefined) hint = ` (did you mean "${near}"?)`;
  else if (allowed.length > 0) hint = ` (expected one of: ${allowed.join(', ')})`;
  report(childCursor(at, key), `unknown key "${key}"${hint}`);
}

/** A mapping with a fixed set of keys. Strict: a key the schema does not name is an error. */
export function object<const F extends Fields>(fields: F, options: DescribeOptions = {}): Schema<ObjectOut<F>, ObjectIn<F>> {
  const allowed = Object.keys(fields);
  return {
    typeName: 'object',
    description: options.description ?? '',
    structure: { kind: 'object', fields },
    parse(input, at) {
      if (!isMapping(input)) {
        report(at, `must be a mapping of keys to values, not ${describeActual(input)}`);
        return INVALID;
      }
      let valid = true;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(fields, key)) {
          reportUnknownKey(at, key, allowed);
          valid = false;
        }
      }
      const entries: [string, unknown][] = [];
      for (const key of allowed) {
        const raw = Object.hasOwn(input, key) ? input[key] : undefined;
        // An empty value (`key:` in YAML) counts as missing, unless null is a meaningful value there.
        if ((raw === undefined || (raw === null && !acceptsNull(fields[key]))) && !isOptional(fields[key])) {
          report(childCursor(at, key), 'is required');
          valid = false;
          continue;
        }
        const value = fields[key].parse(raw, childCursor(at, key));
        if (value === INVALID) valid = false;
        else if (value !== undefined) entries.push([key, value]);
      }
      return valid ? (Object.fromEntries(entries) as ObjectOut<F>) : INVALID;
    },
  };
}

export interface ArrayOptions extends DescribeOptions {
  readonly minItems?: number;
}

export function arrayOf<Out, In>(element: Schema<Out, In>, options: ArrayOptions = {}): Schema<readonly Out[], readonly In[]> {
  const minItems = options.minItems ?? 0;
  return {
    typeName: `list of ${element.typeName}`,
    description: options.description ?? '',
    structure: { kind: 'list', element },
    parse(input, at) {
      if (!Array.isArray(input)) {
        report(at, `must be a list, not ${describeActual(input)}`);
        return INVALID;
      }
      if (input.length < minItems) {
        report(at, `must have at least ${minItems} item${minItems === 1 ? '' : 's'}`);
        return INVALID;
      }
      const items = input.map((item, index) => element.parse(item, childCursor(at, index)));
      return items.includes(INVALID) ? INVALID : (items as Out[]);
    },
  };
}

export interface RecordOptions extends DescribeOptions {
  /** A pattern every key must match, with the message to show when one does not. */
  readonly keyPattern?: { readonly regex: RegExp; readonly message: string };
}

/** A mapping with arbitrary keys whose values all follow one schema. */
export function record<Out, In>(values: Schema<Out, In>, options: RecordOptions = {}): Schema<Readonly<Record<string, Out>>, Readonly<Record<string, In>>> {
  return {
    typeName: `map of ${values.typeName}`,
    description: options.description ?? '',
    structure: { kind: 'map', values },
    parse(input, at) {
      if (!isMapping(input)) {
        report(at, `must be a mapping of keys to values, not ${describeActual(input)}`);
        return INVALID;
      }
      let valid = true;
      const entries: [string, Out][] = [];
      for (const [key, raw] of Object.entries(input)) {
        const here = childCursor(at, key);
        if (options.keyPattern && !options.keyPattern.regex.test(key)) {
          report(here, options.keyPattern.message);
          valid = false;
        }
        const value = values.parse(raw, here);
        if (value === INVALID) valid = false;
        else entries.push([key, value]);
      }
      // fromEntries defines own properties, so a "__proto__" key stays a plain key.
      return valid ? Object.fromEntries(entries) : INVALID;
    },
  };
}

export interface ComponentsOptions extends DescribeOptions {
  /** What one entry is called in messages, e.g. "exporter". */
  readonly noun: string;
  readonly minEntries?: number;
}

/** One entry of a `components` map: its own config plus the type its key selected. */
export type ComponentOf<T extends Fields> = { [K in keyof T & string]: Simplify<Infer<T[K]> & { readonly type: K }> }[keyof T & string];

/**
 * A collector-style component map: each key is `type` or `type/name` and the type picks the
 * schema for the value (`otlphttp/backend: {...}`). An entry with no value (`file:`) gets that
 * type's defaults, as in the collector. Each output entry carries its `type`.
 */
export function components<const T extends Fields>(
  types: T,
  options: ComponentsOptions,
): Schema<Readonly<Record<string, ComponentOf<T>>>, Readonly<Record<string, { [K in keyof T]: InputOf<T[K]> }[keyof T] | null>>> {
  const known = Object.keys(types);
  const minEntries = options.minEntries ?? 0;
  return {
    typeName: `map of ${options.noun} by \`type[/name]\``,
    description: options.description ?? '',
    structure: { kind: 'components', types },
    parse(input, at) {
      if (!isMapping(input)) {
        report(at, `must be a mapping of ${options.noun}s by type, not ${describeActual(input)}`);
        return INVALID;
      }
      let valid = true;
      if (Object.keys(input).length < minEntries) {
        report(at, `must configure at least ${minEntries} ${options.noun}${minEntries === 1 ? '' : 's'}`);
        valid = false;
      }
      const entries: [string, unknown][] = [];
      for (const [key, raw] of Object.entries(input)) {
        const here = childCursor(at, key);
        const slash = key.indexOf('/');
        const type = slash === -1 ? key : key.slice(0, slash);
        if (!Object.hasOwn(types, type)) {
          const near = suggestClosest(type, known);
          const hint = near === undefined ? `known types: ${known.join(', ')}` : `did you mean "${near}"?`;
          report(here, `unknown ${options.noun} type "${type}" (${hint})`);
          valid = false;
          continue;
        }
        if (slash !== -1 && slash === key.length - 1) {
          report(here, `the name after "${type}/" must not be empty`);
          valid = false;
          continue;
        }
        const value = types[type].parse(raw === null ? {} : raw, here);
        if (value === INVALID) valid = false;
        else entries.push([key, { type, ...(value as object) }]);
      }
      return valid ? (Object.fromEntries(entries) as Record<string, ComponentOf<T>>) : INVALID;
    },
  };
}

// ─── Wrappers ──────────────────────────────────────────────────────────────────────────────────

/** Accepts null as a value of its own (`rules: null`); everything else goes to `inner`. */
export function nullable<Out, In>(inner: Schema<Out, In>, options: DescribeOptions = {}): Schema<Out | null, In | null> {
  return {
    typeName: `${inner.typeName} or null`,
    description: options.description ?? inner.description,
    structure: { kind: 'nullable', inner },
    parse: (input, at) => (input === null ? null : inner.parse(input, at)),
  };
}

function isOptional(schema: AnySchema): boolean {
  const { structure } = schema;
  if (structure.kind === 'optional') return true;
  return structure.kind === 'refined' ? isOptional(structure.inner) : false;
}

function acceptsNull(schema: AnySchema): boolean {
  const { structure } = schema;
  if (structure.kind === 'nullable') return true;
  return structure.kind === 'refined' || structure.kind === 'optional' ? acceptsNull(structure.inner) : false;
}

/**
 * A key that may be left out. With a default, a missing value (or an empty one, `key:` in YAML,
 * unless the inner schema accepts null itself) is replaced by the default, which is written the
 * way a user would write it and goes through the inner schema like any other value, so
 * `optional(byteSize(), '64MiB')` yields bytes and `optional(object({...}), {})` yields every
 * default of that object.
 */
export function optional<Out, In>(inner: Schema<Out, In>, defaultValue: NoInfer<In>, options?: DescribeOptions): Schema<Out, In | undefined>;
export function optional<Out, In>(inner: Schema<Out, In>): Schema<Out | undefined, In | undefined>;
export function optional<Out, In>(inner: Schema<Out, In>, ...rest: [defaultValue?: In, options?: DescribeOptions]): Schema<Out | undefined, In | undefined> {
  const hasDefault = rest.length > 0;
  const defaultValue = rest[0];
  const emptyMeansMissing = !acceptsNull(inner);
  if (hasDefault) assertValidDefault(inner, defaultValue);
  return {
    typeName: inner.typeName,
    description: rest[1]?.description ?? inner.description,
    structure: { kind: 'optional', inner, hasDefault, defaultValue },
    parse(input, at) {
      const missing = input === undefined || (input === null && emptyMeansMissing);
      if (!missing) return inner.parse(input, at);
      return hasDefault ? inner.parse(defaultValue, at) : undefined;
    },
  };
}

/** A default that does not pass its own schema is a programming error: fail at module load. */
function assertValidDefault(schema: AnySchema, value: unknown): void {
  const issues: ConfigIssue[] = [];
  schema.parse(value, { segments: [], issues });
  if (issues.length > 0) {
    throw new Error(`invalid default ${JSON.stringify(value)}: ${issues.map((i) => `${i.path || '(value)'}: ${i.message}`).join('; ')}`);
  }
}

/** Reports a cross-field problem at a path relative to the refined value. */
export type ReportIssue = (relativePath: readonly PathSegment[], message: string) => void;

/**
 * Adds checks and derived values that span several fields (a default that follows another
 * key, "initial_interval must not exceed max_interval"). Runs only when `inner` accepted the
 * value; `derive` returns the final value (without mutating its argument) and may report issues.
 */
export function refine<Out, In, R>(inner: Schema<Out, In>, derive: (value: Out, report: ReportIssue) => R): Schema<Readonly<R>, In> {
  return {
    typeName: inner.typeName,
    description: inner.description,
    structure: { kind: 'refined', inner },
    parse(input, at) {
      const value = inner.parse(input, at);
      if (value === INVALID) return INVALID;
      let valid = true;
      const derived = derive(value, (relativePath, message) => {
        valid = false;
        report({ segments: [...at.segments, ...relativePath], issues: at.issues }, message);
      });
      return valid ? derived : INVALID;
    },
  };
}

// ─── Validation entry point ────────────────────────────────────────────────────────────────────

/** Freezes a freshly built output tree (never the caller's input: outputs are new objects). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates `input` against `schema`: the typed, defaults-applied, deeply frozen value, or every issue. */
export function validate<Out>(schema: Schema<Out, unknown>, input: unknown): ValidationResult<Out> {
  const issues: ConfigIssue[] = [];
  const value = schema.parse(input, { segments: [], issues });
  if (value === INVALID || issues.length > 0) return { ok: false, errors: issues };
  return { ok: true, value: deepFreeze(value) };
}

// ─── Typo suggestions ──────────────────────────────────────────────────────────────────────────

/**
 * Optimal-string-alignment (restricted Damerau-Levenshtein) distance: insertions, deletions,
 * substitutions and transpositions of neighbours each cost 1, so "endpiont" is 1 from "endpoint".
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** Case, `_` and `-` do not count as typos: `maxFiles` and `Max-Files` both mean `max_files`. */
function normalizeForComparison(word: string): string {
  return word.toLowerCase().replace(/[_-]/g, '');
}

/**
 * The candidate nearest to `word`, if it is close enough to be a likely typo: at most 2 edits,
 * and at most one edit per three characters so short words do not match everything (a one- or
 * two-letter key only matches up to case and `_`/`-`).
 */
export function suggestClosest(word: string, candidates: readonly string[]): string | undefined {
  const target = normalizeForComparison(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const normalized = normalizeForComparison(candidate);
    const distance = editDistance(target, normalized);
    const threshold = Math.min(2, Math.floor(Math.max(target.length, normalized.length) / 3));
    if (distance <= threshold && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// ─── Documentation ─────────────────────────────────────────────────────────────────────────────

export interface SchemaRow {
  readonly path: string;
  readonly type: string;
  /** The default as a user would write it, `required`, or '' when a missing value means "not set". */
  readonly defaultText: string;
  readonly description: string;
}

function formatDefault(value: unknown): string {
  if (isMapping(value) && Object.keys(value).length === 0) return '';
  if (typeof value === 'string') return `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

/** Walks a schema into one row per key, depth first in declaration order. */
export function schemaRows(schema: AnySchema): SchemaRow[] {
  const rows: SchemaRow[] = [];
  walk(schema, '', 'required', '');
  return rows;

  function walk(node: AnySchema, path: string, defaultText: string, description: string): void {
    const { structure } = node;
    if (structure.kind === 'optional') {
      const text = structure.hasDefault ? formatDefault(structure.defaultValue) : '';
      walk(structure.inner, path, text, description || node.description);
      return;
    }
    if (structure.kind === 'refined') {
      walk(structure.inner, path, defaultText, description || node.description);
      return;
    }
    if (path !== '') rows.push({ path, type: node.typeName, defaultText, description: description || node.description });
    walkChildren(innermost(node), path);
  }

  function walkChildren(node: AnySchema, path: string): void {
    const { structure } = node;
    const join = (key: string) => (path === '' ? key : `${path}.${key}`);
    if (structure.kind === 'object') {
      for (const [key, field] of Object.entries(structure.fields)) walk(field, join(key), 'required', '');
    } else if (structure.kind === 'list' && hasChildren(structure.element)) {
      walkChildren(innermost(structure.element), `${path}[]`);
    } else if (structure.kind === 'map' && hasChildren(structure.values)) {
      walkChildren(innermost(structure.values), join('<key>'));
    } else if (structure.kind === 'components') {
      for (const [type, component] of Object.entries(structure.types)) walk(component, join(`${type}[/<name>]`), '', '');
    }
  }
}

function innermost(schema: AnySchema): AnySchema {
  const { structure } = schema;
  return 'inner' in structure ? innermost(structure.inner) : schema;
}

function hasChildren(schema: AnySchema): boolean {
  return innermost(schema).structure.kind !== 'scalar';
}

function tableCell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** Renders the schema as a markdown table: key path, type, default and description. */
export function describeSchema(schema: AnySchema): string {
  const lines = ['| Key | Type | Default | Description |', '|---|---|---|---|'];
  for (const row of schemaRows(schema)) {
    lines.push(`| \`${row.path}\` | ${tableCell(row.type)} | ${tableCell(row.defaultText)} | ${tableCell(row.description)} |`);
  }
  return `${lines.join('\n')}\n`;
}
