import { encodeRequest } from '../collector/otlp/object-codec.js';
import type { OtlpObject } from '../collector/otlp/object-codec.js';

/**
 * Deterministic, realistic OTLP requests for benchmarks and load tests: the shapes an
 * instrumented HTTP service really sends (a few metrics per scope, 6–10 attributes a point,
 * ids and routes with realistic lengths).
 */

/** A small deterministic PRNG (mulberry32) so every run measures the same bytes. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const str = (key: string, value: string): OtlpObject => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): OtlpObject => ({ key, value: { intValue: String(value) } });

const ROUTES = ['/api/v1/orders', '/api/v1/orders/{id}', '/api/v1/cart', '/api/v1/users/{id}', '/healthz', '/api/v1/checkout', '/api/v1/search', '/static/{file}'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

function pointAttributes(random: () => number, i: number): OtlpObject[] {
  const attrs = [
    str('http.request.method', METHODS[Math.floor(random() * METHODS.length)]),
    str('http.route', ROUTES[Math.floor(random() * ROUTES.length)]),
    int('http.response.status_code', random() < 0.95 ? 200 : 503),
    str('server.address', 'checkout.shop.svc.cluster.local'),
    str('network.protocol.version', '1.1'),
    str('url.scheme', 'https'),
  ];
  const extra = Math.floor(random() * 5); // 6–10 attributes
  if (extra > 0) attrs.push(str('user_id', `user-${100000 + ((i * 7919) % 900000)}`));
  if (extra > 1) attrs.push(str('request_id', `req-${(i * 2654435761) >>> 0}`));
  if (extra > 2) attrs.push(str('deployment.environment.name', 'production'));
  if (extra > 3) attrs.push(str('cloud.region', 'eu-west-1'));
  return attrs;
}

const NS_BASE = 1_732_000_000_000_000_000n;

/** A metrics request with `points` data points (sums, gauges and histograms), 6–10 attributes each. */
export function metricsRequestObject(points = 1000, seed = 1): OtlpObject {
  const random = seededRandom(seed);
  const metrics: OtlpObject[] = [];
  const perMetric = 100;
  for (let m = 0; m * perMetric < points; m++) {
    const count = Math.min(perMetric, points - m * perMetric);
    const dataPoints = Array.from({ length: count }, (_, k): OtlpObject => {
      const i = m * perMetric + k;
      const base = {
        attributes: pointAttributes(random, i),
        startTimeUnixNano: String(NS_BASE),
        timeUnixNano: String(NS_BASE + BigInt(i) * 1000n),
      };
      if (m % 3 === 2) {
        const bucketCounts = [3, 7, 12, 20, 9, 4, 1].map((c) => String(c + (i % 5)));
        const total = bucketCounts.reduce((a, b) => a + Number(b), 0);
        return { ...base, count: String(total), sum: total * 12.5, bucketCounts, explicitBounds: [5, 10, 25, 50, 100, 250] };
      }
      return m % 3 === 1 ? { ...base, asDouble: random() * 100 } : { ...base, asInt: String(Math.floor(random() * 10000)) };
    });
    const name = `http.server.metric_${m}`;
    const data: OtlpObject =
      m % 3 === 2
        ? { histogram: { dataPoints, aggregationTemporality: 2 } }
        : m % 3 === 1
          ? { gauge: { dataPoints } }
          : { sum: { dataPoints, aggregationTemporality: 2, isMonotonic: true } };
    metrics.push({ name, unit: m % 3 === 2 ? 'ms' : '1', description: 'Synthetic benchmark metric', ...data });
  }
  return {
    resourceMetrics: [
      {
        resource: {
          attributes: [str('service.name', 'checkout'), str('service.namespace', 'shop'), str('k8s.namespace.name', 'shop-prod'), str('k8s.pod.name', 'checkout-7d9f8b6c5-x2x9q'), str('service.version', '1.4.2')],
        },
        scopeMetrics: [{ scope: { name: 'io.opentelemetry.http', version: '1.0.0' }, metrics }],
      },
    ],
  };
}

export function metricsRequest(points = 1000, seed = 1): Uint8Array {
  return encodeRequest('metrics', metricsRequestObject(points, seed));
}

function hex(random: () => number, bytes: number): string {
  let out = '';
  for (let i = 0; i < bytes; i++) out += Math.floor(random() * 256).toString(16).padStart(2, '0');
  return out;
}

/** A traces request with `spans` spans of 10 attributes each, in traces of 5 spans. */
export function tracesRequestObject(spans = 500, seed = 1): OtlpObject {
  const random = seededRandom(seed);
  const list: OtlpObject[] = [];
  let traceId = '';
  for (let i = 0; i < spans; i++) {
    if (i % 5 === 0) traceId = hex(random, 16);
    const start = NS_BASE + BigInt(i) * 1_000_000n;
    list.push({
      traceId,
      spanId: hex(random, 8),
      name: `GET ${ROUTES[i % ROUTES.length]}`,
      kind: 2,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + BigInt(Math.floor(random() * 50_000_000))),
      attributes: [...pointAttributes(random, i).slice(0, 6), str('user_agent.original', 'Mozilla/5.0'), str('client.address', '10.0.0.1'), int('http.request.body.size', 512), str('url.path', '/api/v1/orders/42')],
      status: random() < 0.02 ? { code: 2, message: 'upstream failed' } : {},
    });
  }
  return {
    resourceSpans: [{ resource: { attributes: [str('service.name', 'checkout'), str('service.namespace', 'shop')] }, scopeSpans: [{ scope: { name: 'io.opentelemetry.http' }, spans: list }] }],
  };
}

export function tracesRequest(spans = 500, seed = 1): Uint8Array {
  return encodeRequest('traces', tracesRequestObject(spans, seed));
}
