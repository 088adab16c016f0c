import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { decodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { parseOtlpJson, parseOtlpJsonObject } from '../../../collector/otlp/otlp-json.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import { decodeExportResponse, encodeExportResponse } from '../../../collector/otlp/status.js';
import { governanceChain, rulesFrom, runProcessors } from './run-processors.js';

/**
 * Golden cases of the attribute policy, one directory each under
 * collector/processors/attribute-policy/testdata (see the README there):
 *
 *   rules.yaml      the rules in force
 *   input.json      an OTLP/JSON export request
 *   expected.json   the OTLP/JSON request the exporters must get
 *   response.json   (optional) the Export*ServiceResponse the sender must get, OTLP/JSON;
 *                   without it the response must carry no partial success
 *   options.json    (optional) processor options other than the rules, e.g. {"hashLength": 8}
 *
 * The request runs through the attribute policy and re-aggregation, wired as in production.
 * Output and expectation are compared as decoded objects, so only what OTLP means counts, not
 * how the JSON was spelled. A case whose expectation equals its input must come out byte for
 * byte as it went in: an untouched request is forwarded as received.
 */

const TESTDATA = new URL('../../../collector/processors/attribute-policy/testdata/', import.meta.url).pathname;

/** The key behind every expected hash in the testdata (computed with openssl, see the README). */
const HASH_KEY = 'tollgate-golden-key';

const SIGNAL_OF_ROOT: Readonly<Record<string, Signal>> = {
  resourceMetrics: 'metrics',
  resourceSpans: 'traces',
  resourceLogs: 'logs',
};

function signalOf(inputText: string): Signal {
  const roots = Object.keys(JSON.parse(inputText) as object).filter((key) => key in SIGNAL_OF_ROOT);
  if (roots.length !== 1) throw new Error(`input.json must have exactly one of ${Object.keys(SIGNAL_OF_ROOT).join(', ')}`);
  return SIGNAL_OF_ROOT[roots[0]];
}

const read = (dir: string, file: string): string => readFileSync(join(dir, file), 'utf8');
const readOptional = (dir: string, file: string): string | undefined => (existsSync(join(dir, file)) ? read(dir, file) : undefined);

interface CaseOptions {
  readonly hashLength?: number;
}

const cases = readdirSync(TESTDATA, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

test('the golden testdata is there', () => {
  // A wrong path would otherwise pass by running no case at all.
  assert.ok(cases.length >= 20, `found only ${cases.length} cases in ${TESTDATA}`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const dir = join(TESTDATA, name);
    const inputText = read(dir, 'input.json');
    const signal = signalOf(inputText);
    const options = JSON.parse(readOptional(dir, 'options.json') ?? '{}') as CaseOptions;
    const processors = governanceChain(rulesFrom(read(dir, 'rules.yaml'), join(dir, 'rules.yaml')), { hashKey: HASH_KEY, ...options });

    const input = parseOtlpJson(signal, inputText);
    const result = runProcessors(processors, signal, input);

    const expected: OtlpObject = parseOtlpJsonObject(signal, read(dir, 'expected.json'));
    assert.deepEqual(decodeRequest(signal, result.bytes), expected);
    if (isDeepStrictEqual(expected, decodeRequest(signal, input))) {
      assert.ok(Buffer.from(result.bytes).equals(Buffer.from(input)), 'an unchanged request must be forwarded byte for byte');
    }

    // What the sender hears: the partial success the receivers build from the rejection.
    const partial = result.rejected > 0 || result.message ? { rejected: result.rejected, message: result.message ?? '' } : undefined;
    const response = decodeExportResponse(signal, encodeExportResponse(signal, partial, 'json'), 'json');
    const responseText = readOptional(dir, 'response.json');
    const expectedResponse = responseText === undefined ? undefined : decodeExportResponse(signal, Buffer.from(responseText), 'json');
    assert.deepEqual(response, expectedResponse);
    if (expectedResponse) assert.equal(result.items, countItems(signal, expected), 'items left after the rejection');
  });
}

const ITEM_PATH: Readonly<Record<Signal, readonly string[]>> = {
  metrics: ['resourceMetrics', 'scopeMetrics', 'metrics'],
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
};

/** Data points, spans or log records in a request object. */
function countItems(signal: Signal, request: OtlpObject): number {
  const children = (objects: OtlpObject[], key: string): OtlpObject[] => objects.flatMap((o) => (o[key] as OtlpObject[] | undefined) ?? []);
  const [resources, scopes, items] = ITEM_PATH[signal];
  const found = children(children(children([request], resources), scopes), items);
  if (signal !== 'metrics') return found.length;
  return found.reduce((sum, metric) => {
    const data = Object.values(metric).find((v): v is OtlpObject => typeof v === 'object' && !Array.isArray(v) && 'dataPoints' in v);
    return sum + ((data?.dataPoints as OtlpObject[] | undefined) ?? []).length;
  }, 0);
}
