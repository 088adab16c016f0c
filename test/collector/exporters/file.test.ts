// Integration tests on real files in a temporary directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileExporter, rotatedFileName, rotatedFilesOf, rotatedFileTime } from '../../../collector/exporters/file.js';
import { toOtlpJson } from '../../../collector/otlp/otlp-json.js';
import type { ExportRequest } from '../../../collector/pipeline/contracts.js';
import { ByteWriter } from '../../../collector/otlp/wire.js';

/** ExportMetricsServiceRequest { resource_metrics { resource { service.name }, scope_metrics { metrics { name } } } } */
function metricsRequest(metricName: string): ExportRequest {
  const body = new ByteWriter()
    .fork() // resource_metrics = 1
    .fork() // resource = 1
    .fork() // attributes = 1
    .tag(1, 2)
    .string('service.name')
    .fork() // value = 2
    .tag(1, 2)
    .string('checkout')
    .join(2)
    .join(1)
    .join(1)
    .fork() // scope_metrics = 2
    .fork() // metrics = 2
    .tag(1, 2)
    .string(metricName)
    .join(2)
    .join(2)
    .join(1)
    .finish();
  return { signal: 'metrics', body, items: 1 };
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tollgate-file-exporter-'));
}

async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'files end with a newline');
  return text.split('\n').filter((line) => line !== '');
}

function metricNameOf(line: string): string {
  const parsed = JSON.parse(line) as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }> };
  return parsed.resourceMetrics[0].scopeMetrics[0].metrics[0].name;
}

void test('one OTLP/JSON line per request in <signal>.jsonl, written before the export resolves', async () => {
  const root = await tempDir();
  const directory = join(root, 'nested', 'out');
  const exporter = createFileExporter({ directory });
  try {
    await exporter.start();
    const first = metricsRequest('http.server.duration');
    assert.deepEqual(await exporter.export(first), { kind: 'accepted' });
    assert.deepEqual(await readLines(join(directory, 'metrics.jsonl')), [toOtlpJson('metrics', first.body)]);

    assert.deepEqual(await exporter.export({ signal: 'traces', body: new Uint8Array(0), items: 0 }), { kind: 'accepted' });
    assert.deepEqual(await readLines(join(directory, 'traces.jsonl')), [toOtlpJson('traces', new Uint8Array(0))]);
    assert.equal(metricNameOf((await readLines(join(directory, 'metrics.jsonl')))[0]), 'http.server.duration');
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await rm(root, { recursive: true, force: true });
  }
});

void test('concurrent exports never interleave and keep their order', async () => {
  const directory = await tempDir();
  const exporter = createFileExporter({ directory });
  try {
    const names = Array.from({ length: 50 }, (_, i) => `metric_${i}_${'x'.repeat(i * 40)}`);
    const outcomes = await Promise.all(names.map((name) => exporter.export(metricsRequest(name))));
    assert.ok(outcomes.every((o) => o.kind === 'accepted'));
    assert.deepEqual((await readLines(join(directory, 'metrics.jsonl'))).map(metricNameOf), names);
    assert.equal(exporter.queuedItems(), 0);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await rm(directory, { recursive: true, force: true });
  }
});

void test('rotates by size and keeps at most maxFiles rotated files, newest data intact', async () => {
  const directory = await tempDir();
  const lineBytes = Buffer.byteLength(toOtlpJson('metrics', metricsRequest('m00').body)) + 1;
  const maxFileBytes = lineBytes * 3;
  // A frozen clock: rotations in the same millisecond must still get distinct names.
  const exporter = createFileExporter({ directory, maxFileBytes, maxFiles: 2 }, { now: () => Date.UTC(2024, 4, 1, 12, 30) });
  try {
    const names = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const name of names) assert.deepEqual(await exporter.export(metricsRequest(name)), { kind: 'accepted' });

    const entries = await readdir(directory);
    const rotated = rotatedFilesOf('metrics', entries);
    assert.equal(rotated.length, 2);
    assert.deepEqual(entries.sort(), [...rotated, 'metrics.jsonl'].sort());
    assert.equal(rotated[0], rotatedFileName('metrics', Date.UTC(2024, 4, 1, 12, 30) + 4));

    const kept: string[] = [];
    for (const file of [...rotated, 'metrics.jsonl']) {
      assert.ok((await stat(join(directory, file))).size <= maxFileBytes, `${file} is within maxFileBytes`);
      kept.push(...(await readLines(join(directory, file))).map(metricNameOf));
    }
    // 20 lines, 3 per file: 6 full files rotated, 4 oldest deleted; the newest 8 lines remain in order.
    assert.deepEqual(kept, names.slice(-8));
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await rm(directory, { recursive: true, force: true });
  }
});

void test('rotated names round-trip their time and only match their own signal', () => {
  const at = Date.UTC(2024, 4, 1, 12, 30, 5, 678);
  assert.equal(rotatedFileName('logs', at), 'logs-2024-05-01T12-30-05.678Z.jsonl');
  assert.equal(rotatedFileTime('logs', rotatedFileName('logs', at)), at);
  assert.equal(rotatedFileTime('metrics', rotatedFileName('logs', at)), undefined);
  assert.deepEqual(rotatedFilesOf('logs', ['logs.jsonl', 'logs-x.jsonl', rotatedFileName('logs', at + 1), rotatedFileName('logs', at), rotatedFileName('traces', at)]), [
    rotatedFileName('logs', at),
    rotatedFileName('logs', at + 1),
  ]);
});

void test('after a restart, new rotated names still sort after existing ones even if the clock is behind', async () => {
  const directory = await tempDir();
  const later = Date.UTC(2030, 0, 1);
  await writeFile(join(directory, rotatedFileName('metrics', later)), 'old\n');
  const exporter = createFileExporter({ directory, maxFileBytes: 1, maxFiles: 1 }, { now: () => Date.UTC(2024, 0, 1) });
  try {
    for (const name of ['a', 'b']) assert.deepEqual(await exporter.export(metricsRequest(name)), { kind: 'accepted' });
    const rotated = rotatedFilesOf('metrics', await readdir(directory));
    assert.deepEqual(rotated, [rotatedFileName('metrics', later + 1)]);
    assert.deepEqual((await readLines(join(directory, rotated[0]))).map(metricNameOf), ['a']);
    assert.deepEqual((await readLines(join(directory, 'metrics.jsonl'))).map(metricNameOf), ['b']);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await rm(directory, { recursive: true, force: true });
  }
});

void test('busy when more bytes are pending than maxPendingBytes', async () => {
  const directory = await tempDir();
  const exporter = createFileExporter({ directory, maxPendingBytes: 100 });
  try {
    const request = metricsRequest('x'.repeat(40));
    assert.ok(request.body.length > 50);
    const first = exporter.export(request);
    const second = await exporter.export(request);
    assert.equal(second.kind, 'busy');
    assert.deepEqual(await first, { kind: 'accepted' });
    assert.deepEqual(await exporter.export(request), { kind: 'accepted' }, 'room again once written');
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await rm(directory, { recursive: true, force: true });
  }
});

void test('a write error is failed retryable; undecodable bytes are failed not retryable', async () => {
  const root = await tempDir();
  const notADirectory = join(root, 'file');
  await writeFile(notADirectory, 'occupied');
  const broken = createFileExporter({ directory: notADirectory });
  const working = createFileExporter({ directory: root });
  try {
    const outcome = await broken.export(metricsRequest('m'));
    assert.equal(outcome.kind, 'failed');
    assert.equal(outcome.kind === 'failed' && outcome.retryable, true);

    const garbage = await working.export({ signal: 'metrics', body: Uint8Array.of(0x0a, 0xff), items: 1 });
    assert.equal(garbage.kind === 'failed' && garbage.retryable, false);
  } finally {
    await broken.shutdown(Date.now() + 1000);
    await working.shutdown(Date.now() + 1000);
    await rm(root, { recursive: true, force: true });
  }
});

void test('a torn last line (crash mid-write) is closed before appending', async () => {
  const directory = await tempDir();
  await writeFile(join(directory, 'metrics.jsonl'), '{"resourceMetrics":[{"resou');
  const exporter = createFileExporter({ directory });
  try {
    const request = metricsRequest('after_crash');
    assert.deepEqual(await exporter.export(request), { kind: 'accepted' });
    const text = await readFile(join(directory, 'metrics.jsonl'), 'utf8');
    assert.equal(text, `{"resourceMetrics":[{"resou\n${toOtlpJson('metrics', request.body)}\n`);
  } finally {
    await exporter.shutdown(Date.now() + 1000);
    await rm(directory, { recursive: true, force: true });
  }
});

void test('shutdown waits for pending writes, then refuses new work', async () => {
  const directory = await tempDir();
  const exporter = createFileExporter({ directory });
  try {
    const pending = Array.from({ length: 10 }, (_, i) => exporter.export(metricsRequest(`m${i}`)));
    await exporter.shutdown(Date.now() + 2000);
    assert.ok((await Promise.all(pending)).every((o) => o.kind === 'accepted'));
    assert.equal((await readLines(join(directory, 'metrics.jsonl'))).length, 10);
    assert.deepEqual(await exporter.export(metricsRequest('late')), { kind: 'failed', retryable: true, reason: 'exporter is shutting down' });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
