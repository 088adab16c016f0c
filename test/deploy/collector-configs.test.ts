// The OpenTelemetry Collector configs under deploy/collector/ for the two topologies, checked
// offline: every pipeline references components that are defined, every signal has a pipeline,
// and the addresses line up with Tollgate's — the collector sends where Tollgate listens, and
// Tollgate sends where the collector listens. The Tollgate configs beside them are validated as
// `tollgate serve` reads them. (Running them with a real collector is the interop tests' job.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../collector/config/config.js';
import type { Environment, OtlpHttpExporterConfig, TollgateConfig } from '../../collector/config/config.js';
import { renderKustomization } from './kustomize.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIR = join(ROOT, 'deploy/collector');
const DEFAULTS = parseConfig('', '<defaults>', {});
const SIGNALS = ['metrics', 'traces', 'logs'] as const;

interface CollectorConfig {
  receivers: Record<string, { protocols?: Record<string, { endpoint?: string }> }>;
  processors?: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string; compression?: string; retry_on_failure?: { enabled?: boolean }; sending_queue?: { enabled?: boolean } }>;
  service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
}

/** The collector's `${env:NAME:-default}` expansion with no variables set: every default. */
function withDefaults(text: string): string {
  return text.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string, fallback: string | undefined) => {
    assert.ok(fallback !== undefined, `${match} has no default`);
    return fallback;
  });
}

const readCollector = (path: string): CollectorConfig => checkCollector(readFileSync(join(DIR, path), 'utf8'), path);

function checkCollector(text: string, path: string): CollectorConfig {
  const config = parse(withDefaults(text)) as CollectorConfig;
  const pipelines = config.service.pipelines;
  assert.deepEqual(Object.keys(pipelines).map((id) => id.split('/')[0]).sort(), [...SIGNALS].sort(), `${path}: one pipeline per signal`);
  for (const [id, pipeline] of Object.entries(pipelines)) {
    for (const receiver of pipeline.receivers) assert.ok(receiver in config.receivers, `${path}: pipeline ${id} uses undefined receiver ${receiver}`);
    for (const processor of pipeline.processors ?? []) assert.ok(processor in (config.processors ?? {}), `${path}: pipeline ${id} uses undefined processor ${processor}`);
    for (const exporter of pipeline.exporters) assert.ok(exporter in config.exporters, `${path}: pipeline ${id} uses undefined exporter ${exporter}`);
  }
  const used = new Set(Object.values(pipelines).flatMap((p) => [...p.receivers, ...(p.processors ?? []), ...p.exporters]));
  for (const id of [...Object.keys(config.receivers), ...Object.keys(config.processors ?? {}), ...Object.keys(config.exporters)]) assert.ok(used.has(id), `${path}: ${id} is defined but in no pipeline`);
  return config;
}

function readTollgate(path: string, env: Environment = {}): TollgateConfig {
  return parseConfig(readFileSync(join(DIR, path), 'utf8'), path, env);
}

function onlyOtlpHttpExporter(config: TollgateConfig): OtlpHttpExporterConfig {
  const exporters = Object.values(config.exporters);
  assert.equal(exporters.length, 1);
  assert.equal(exporters[0].type, 'otlphttp');
  return exporters[0];
}

const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

describe('deploy/collector: app → Tollgate → collector → backend', () => {
  const collector = readCollector('tollgate-then-collector/collector.yaml');
  const tollgate = readTollgate('tollgate-then-collector/tollgate.yaml');

  it('Tollgate listens where SDKs export by default, and sends OTLP/HTTP to the collector\'s HTTP receiver', () => {
    assert.deepEqual(tollgate.receivers.otlp.protocols.http.endpoint, DEFAULTS.receivers.otlp.protocols.http.endpoint);
    assert.deepEqual(tollgate.receivers.otlp.protocols.grpc.endpoint, DEFAULTS.receivers.otlp.protocols.grpc.endpoint);
    const exporter = onlyOtlpHttpExporter(tollgate);
    const target = new URL(exporter.endpoint);
    const receiver = collector.receivers.otlp.protocols?.http?.endpoint ?? '';
    assert.equal(Number(target.port), portOf(receiver));
    assert.equal(exporter.metrics_endpoint, `${target.origin}/v1/metrics`, 'the collector\'s HTTP receiver serves /v1/metrics');
    assert.equal(exporter.compression, 'gzip');
    for (const signal of SIGNALS) assert.deepEqual(collector.service.pipelines[signal].receivers, ['otlp']);
  });

  it('the Kubernetes sidecar example forwards to the same collector address', () => {
    const objects = renderKustomization(join(ROOT, 'deploy/kubernetes/overlays/sidecar'));
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('tollgate-config-'));
    const sidecar = parseConfig((configMap?.data as Record<string, string>)['tollgate.yaml'], 'sidecar', {});
    assert.equal(onlyOtlpHttpExporter(sidecar).endpoint, onlyOtlpHttpExporter(tollgate).endpoint);
  });

  it('every address follows the environment, so one file serves tests and hosts', () => {
    const moved = readTollgate('tollgate-then-collector/tollgate.yaml', {
      TOLLGATE_OTLP_HTTP_ENDPOINT: '127.0.0.1:0',
      TOLLGATE_OTLP_GRPC_ENDPOINT: '127.0.0.1:0',
      TOLLGATE_API_ENDPOINT: '127.0.0.1:0',
      COLLECTOR_OTLP_HTTP_URL: 'http://127.0.0.1:14318',
    });
    assert.equal(moved.receivers.otlp.protocols.http.endpoint.port, 0);
    assert.equal(onlyOtlpHttpExporter(moved).traces_endpoint, 'http://127.0.0.1:14318/v1/traces');
  });
});

describe('deploy/collector: app → collector → Tollgate → backend', () => {
  const collector = readCollector('collector-then-tollgate/collector.yaml');
  const tollgate = readTollgate('collector-then-tollgate/tollgate.yaml');

  it('the collector sends OTLP/HTTP with gzip, retries and a queue to Tollgate\'s HTTP receiver', () => {
    const exporterIds = new Set(Object.values(collector.service.pipelines).flatMap((p) => p.exporters));
    assert.deepEqual([...exporterIds], ['otlphttp/tollgate']);
    const exporter = collector.exporters['otlphttp/tollgate'];
    const target = new URL(exporter.endpoint ?? '');
    const http = tollgate.receivers.otlp.protocols.http.endpoint;
    assert.equal(Number(target.port), http.port);
    assert.equal(http.port, DEFAULTS.receivers.otlp.protocols.http.endpoint.port);
    // The collector is elsewhere: Tollgate must listen beyond loopback.
    assert.equal(http.host, '0.0.0.0');
    assert.equal(exporter.compression, 'gzip');
    assert.equal(exporter.retry_on_failure?.enabled, true, 'Tollgate answers 429/503 under load: the collector must retry');
    assert.equal(exporter.sending_queue?.enabled, true);
  });

  it('points at the Kubernetes gateway example\'s Service, and Tollgate forwards to the backend', () => {
    const objects = renderKustomization(join(ROOT, 'deploy/kubernetes/overlays/gateway'));
    const service = objects.find((o) => o.kind === 'Service');
    assert.ok(service);
    const target = new URL(collector.exporters['otlphttp/tollgate'].endpoint ?? '');
    assert.equal(target.hostname, `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
    const ports = (service.spec as { ports: { port: number }[] }).ports.map((p) => p.port);
    assert.ok(ports.includes(Number(target.port)));
    assert.match(onlyOtlpHttpExporter(tollgate).endpoint, /^http:\/\/backend\./);
  });

  it('the collector\'s own receivers keep the standard ports, which Tollgate does not share on that host', () => {
    assert.equal(portOf(collector.receivers.otlp.protocols?.grpc?.endpoint ?? ''), 4317);
    assert.equal(portOf(collector.receivers.otlp.protocols?.http?.endpoint ?? ''), 4318);
  });
});

describe('deploy/collector: the checker itself', () => {
  it('refuses a pipeline that names an undefined exporter, a missing signal and an address without a default', () => {
    const text = readFileSync(join(DIR, 'collector-then-tollgate/collector.yaml'), 'utf8');
    assert.throws(() => checkCollector(text.replace('exporters: [otlphttp/tollgate]', 'exporters: [otlphttp/tolgate]'), 'typo'), /undefined exporter otlphttp\/tolgate/);
    assert.throws(() => checkCollector(text.replace(/ {4}logs:\n(?: {6}.*\n)+/, ''), 'no logs'), /one pipeline per signal/);
    assert.throws(() => checkCollector(text.replace(':-0.0.0.0:4317}', '}'), 'no default'), /has no default/);
  });
});
