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

// ─── Traces from several services ────────────────────────────────────────────────────────────

/**
 * One span kind of the shop workload: the service that emits it, its name and kind, and its
 * ten attributes (`attributes(random)` returns exactly ten). `ms` is the median duration.
 */
interface SpanTemplate {
  readonly service: string;
  readonly name: string;
  readonly kind: number;
  readonly ms: number;
  readonly attributes: (random: () => number) => OtlpObject[];
}

/** The services of the shop workload and the `service.namespace` (team) each runs in. */
export const SHOP_SERVICES: Readonly<Record<string, string>> = {
  frontend: 'storefront',
  checkout: 'storefront',
  cart: 'storefront',
  payment: 'payments',
  'product-catalog': 'catalog',
  search: 'catalog',
  recommendation: 'recommendations',
};

const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
const PRODUCT_IDS = ['OLJCESPC7Z', '66VCHSJNUP', '1YMWWN1N4O', 'L9ECAV7KIM', '2ZYFJ3GM2N', '0PUK6V6EV0', 'LS4PSXUNUM', '9SIQT8TOJO', '6E92ZMYYFZ'];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'kube-probe/1.29',
];
const FIRST_NAMES = ['jane', 'omar', 'li', 'sofia', 'kwame', 'anna', 'raj', 'mei'];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)];
const uuid = (random: () => number): string => `${hex(random, 4)}-${hex(random, 2)}-4${hex(random, 2).slice(1)}-a${hex(random, 2).slice(1)}-${hex(random, 6)}`;
/** A customer id; one in 500 is an e-mail address (what the redact policy exists for). */
const customer = (random: () => number): string => (random() < 0.002 ? `${pick(random, FIRST_NAMES)}.doe${Math.floor(random() * 100)}@example.com` : `cus_${hex(random, 7)}`);

function httpServer(service: string, method: string, route: string, ms: number, path: (random: () => number) => string): SpanTemplate {
  return {
    service,
    name: `${method} ${route}`,
    kind: SPAN_KIND.server,
    ms,
    attributes: (random) => [
      str('http.request.method', method),
      str('http.route', route),
      int('http.response.status_code', 200),
      str('url.path', path(random)),
      str('url.scheme', 'https'),
      str('server.address', `${service}.shop.svc.cluster.local`),
      int('server.port', 8080),
      str('user_agent.original', route === '/healthz' ? USER_AGENTS[3] : pick(random, USER_AGENTS.slice(0, 3))),
      str('client.address', `10.${Math.floor(random() * 4)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`),
      str('network.protocol.version', '1.1'),
    ],
  };
}

function rpc(service: string, rpcService: string, method: string, kind: number, ms: number, peer: string): SpanTemplate {
  return {
    service,
    name: `oteldemo.${rpcService}/${method}`,
    kind,
    ms,
    attributes: (random) => [
      str('rpc.system', 'grpc'),
      str('rpc.service', `oteldemo.${rpcService}`),
      str('rpc.method', method),
      int('rpc.grpc.status_code', 0),
      str('server.address', `${peer}.shop.svc.cluster.local`),
      int('server.port', 50051),
      str('network.peer.address', `10.1.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`),
      str('network.transport', 'tcp'),
      str('app.customer.id', customer(random)),
      str('app.request.id', uuid(random)),
    ],
  };
}

function db(service: string, operation: string, table: string, ms: number): SpanTemplate {
  return {
    service,
    name: `${operation} ${table}`,
    kind: SPAN_KIND.client,
    ms,
    attributes: (random) => [
      str('db.system.name', 'postgresql'),
      str('db.namespace', 'shop'),
      str('db.operation.name', operation),
      str('db.collection.name', table),
      // Now and then a generated IN list longer than the truncate policy's 4 KiB.
      str(
        'db.query.text',
        random() < 0.002
          ? `SELECT id, name, price_units FROM ${table} WHERE id IN (${Array.from({ length: 400 }, () => `'${pick(random, PRODUCT_IDS)}'`).join(', ')})`
          : `SELECT id, name, description, picture, price_currency_code, price_units, price_nanos, categories FROM ${table} WHERE id = $1 AND deleted_at IS NULL LIMIT 1`,
      ),
      str('server.address', 'shop-db.shop.svc.cluster.local'),
      int('server.port', 5432),
      str('network.peer.address', '10.2.0.17'),
      int('db.response.returned_rows', Math.floor(random() * 20)),
      str('db.client.connection.pool.name', `${service}-pool`),
    ],
  };
}

function redis(service: string, command: string, ms: number): SpanTemplate {
  return {
    service,
    name: command,
    kind: SPAN_KIND.client,
    ms,
    attributes: (random) => [
      str('db.system.name', 'redis'),
      str('db.operation.name', command),
      str('db.query.text', `${command} cart:${uuid(random)}`),
      str('db.namespace', '0'),
      str('server.address', 'cart-redis.shop.svc.cluster.local'),
      int('server.port', 6379),
      str('network.peer.address', '10.2.0.31'),
      int('network.peer.port', 6379),
      str('network.transport', 'tcp'),
      str('db.client.connection.pool.name', 'cart-redis'),
    ],
  };
}

const T = {
  health: httpServer('frontend', 'GET', '/healthz', 0.3, () => '/healthz'),
  home: httpServer('frontend', 'GET', '/', 40, () => '/'),
  product: httpServer('frontend', 'GET', '/api/products/{id}', 25, (r) => `/api/products/${pick(r, PRODUCT_IDS)}`),
  addToCart: httpServer('frontend', 'POST', '/api/cart', 20, () => '/api/cart'),
  checkoutPage: httpServer('frontend', 'POST', '/api/checkout', 180, () => '/api/checkout'),
  searchPage: httpServer('frontend', 'GET', '/api/search', 60, (r) => `/api/search?q=${pick(r, ['telescope', 'lens', 'tripod', 'binoculars'])}`),
  getProductClient: rpc('frontend', 'ProductCatalogService', 'GetProduct', SPAN_KIND.client, 8, 'product-catalog'),
  getProduct: rpc('product-catalog', 'ProductCatalogService', 'GetProduct', SPAN_KIND.server, 6, 'product-catalog'),
  listProducts: rpc('product-catalog', 'ProductCatalogService', 'ListProducts', SPAN_KIND.server, 12, 'product-catalog'),
  selectProducts: db('product-catalog', 'SELECT', 'products', 3),
  recommend: rpc('recommendation', 'RecommendationService', 'ListRecommendations', SPAN_KIND.server, 15, 'recommendation'),
  recommendInternal: {
    service: 'recommendation',
    name: 'get_product_list',
    kind: SPAN_KIND.internal,
    ms: 2,
    attributes: (random: () => number) => [
      int('app.products.count', 10),
      int('app.filtered_products.count', 5),
      str('app.product.ids', Array.from({ length: 5 }, () => pick(random, PRODUCT_IDS)).join(',')),
      str('app.recommendation.model', 'popularity-v3'),
      str('app.cache.hit', random() < 0.8 ? 'true' : 'false'),
      int('app.latency_budget_ms', 50),
      str('app.customer.id', customer(random)),
      str('app.session.id', uuid(random)),
      str('code.function.name', 'get_product_list'),
      str('code.file.path', '/app/recommendation_server.py'),
    ],
  },
  cartAdd: rpc('cart', 'CartService', 'AddItem', SPAN_KIND.server, 5, 'cart'),
  cartGet: rpc('cart', 'CartService', 'GetCart', SPAN_KIND.server, 4, 'cart'),
  hset: redis('cart', 'HSET', 0.8),
  hget: redis('cart', 'HGET', 0.6),
  placeOrder: rpc('checkout', 'CheckoutService', 'PlaceOrder', SPAN_KIND.server, 150, 'checkout'),
  charge: rpc('payment', 'PaymentService', 'Charge', SPAN_KIND.server, 90, 'payment'),
  chargeUpstream: {
    service: 'payment',
    name: 'POST',
    kind: SPAN_KIND.client,
    ms: 80,
    attributes: (random: () => number) => [
      str('http.request.method', 'POST'),
      int('http.response.status_code', 200),
      str('url.full', `https://api.payments.example/v1/charges/${hex(random, 12)}`),
      str('server.address', 'api.payments.example'),
      int('server.port', 443),
      str('network.protocol.version', '2'),
      str('app.payment.card_type', pick(random, ['visa', 'mastercard', 'amex'])),
      str('app.payment.currency', pick(random, ['USD', 'EUR', 'GBP'])),
      str('app.payment.transaction.id', uuid(random)),
      str('app.customer.id', customer(random)),
    ],
  },
  searchServer: httpServer('search', 'GET', '/search', 40, (r) => `/search?q=${pick(r, ['telescope', 'lens', 'tripod', 'binoculars'])}`),
  searchQuery: db('search', 'SELECT', 'product_index', 25),
} satisfies Record<string, SpanTemplate>;

type TemplateName = keyof typeof T;

/** Trace shapes: spans as [template, index of the parent in the shape, or -1 for the root], with a weight. */
const TRACE_SHAPES: readonly { readonly weight: number; readonly spans: readonly (readonly [TemplateName, number])[] }[] = [
  { weight: 5, spans: [['health', -1]] },
  { weight: 30, spans: [['product', -1], ['getProductClient', 0], ['getProduct', 1], ['selectProducts', 2], ['recommend', 0], ['recommendInternal', 4], ['listProducts', 4], ['selectProducts', 6]] },
  { weight: 15, spans: [['home', -1], ['recommend', 0], ['recommendInternal', 1], ['listProducts', 1], ['selectProducts', 3], ['getProductClient', 0], ['getProduct', 5], ['selectProducts', 6]] },
  { weight: 20, spans: [['addToCart', -1], ['cartAdd', 0], ['hget', 1], ['hset', 1], ['getProductClient', 0], ['getProduct', 4], ['selectProducts', 5]] },
  { weight: 10, spans: [['checkoutPage', -1], ['placeOrder', 0], ['cartGet', 1], ['hget', 2], ['getProduct', 1], ['selectProducts', 4], ['getProduct', 1], ['selectProducts', 6], ['charge', 1], ['chargeUpstream', 8], ['hset', 2]] },
  { weight: 20, spans: [['searchPage', -1], ['searchServer', 0], ['searchQuery', 1], ['getProduct', 0], ['selectProducts', 3]] },
];
const SHAPE_WEIGHT = TRACE_SHAPES.reduce((sum, shape) => sum + shape.weight, 0);

/** A normally distributed number (Box–Muller), for log-normal durations. */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * A traces request as a collector agent forwards it: `spans` spans from the seven
 * `SHOP_SERVICES` (one resource each, four namespaces), in traces of 1–11 spans shaped like a
 * shop's requests (HTTP server spans, gRPC, PostgreSQL and Redis clients, internal spans), ten
 * attributes per span. Trace ids are seeded random; ~1 % of spans have status ERROR (HTTP 500
 * or a gRPC error), durations are log-normal around each span kind's median with about 1 % of
 * spans over 1 s, 5 % of traces are single-span `GET /healthz` probes, one customer id in 500 is
 * an e-mail address and one database query text in 500 is longer than 4 KiB. 90 % of traces come
 * without a tracestate, 7 % with a vendor entry, 3 % with `ot=th:0` from an upstream sampler.
 */
export function shopTracesRequestObject(spans = 500, seed = 1): OtlpObject {
  const random = seededRandom(seed);
  const byService = new Map<string, OtlpObject[]>(Object.keys(SHOP_SERVICES).map((service) => [service, []]));
  let made = 0;
  let traceStart = NS_BASE + BigInt(seed) * 1_000_000_000_000n;
  while (made < spans) {
    let w = random() * SHAPE_WEIGHT;
    const shape = TRACE_SHAPES.find((s) => (w -= s.weight) < 0) ?? TRACE_SHAPES[0];
    const traceId = hex(random, 16);
    const stateDraw = random();
    const traceState = stateDraw < 0.9 ? undefined : stateDraw < 0.97 ? `congo=${hex(random, 6)}` : 'ot=th:0';
    const spanIds: string[] = [];
    const starts: bigint[] = [];
    for (let s = 0; s < shape.spans.length && made < spans; s++, made++) {
      const [name, parent] = shape.spans[s];
      const template: SpanTemplate = T[name];
      const spanId = hex(random, 8);
      spanIds.push(spanId);
      const start = parent < 0 ? traceStart : starts[parent] + BigInt(Math.floor(random() * 2_000_000));
      starts.push(start);
      // Log-normal around the kind's median (σ = 1, capped below 1 s), and 1 % of spans over 1 s.
      const slow = random() < 0.01;
      const ms = slow ? 1000 + random() * 4000 : Math.min(900, template.ms * Math.exp(gaussian(random)));
      const attributes = template.attributes(random);
      const error = random() < 0.01;
      if (error) {
        for (const attribute of attributes) {
          const value = attribute.value as OtlpObject;
          if (attribute.key === 'http.response.status_code') value.intValue = '500';
          if (attribute.key === 'rpc.grpc.status_code') value.intValue = '13';
        }
      }
      const span: OtlpObject = {
        traceId,
        spanId,
        name: template.name,
        kind: template.kind,
        startTimeUnixNano: String(start),
        endTimeUnixNano: String(start + BigInt(Math.round(ms * 1_000_000))),
        attributes,
        status: error ? { code: 2, message: template.kind === SPAN_KIND.server ? 'internal error' : 'upstream unavailable' } : {},
      };
      if (parent >= 0) span.parentSpanId = spanIds[parent];
      if (traceState !== undefined) span.traceState = traceState;
      byService.get(template.service)?.push(span);
    }
    traceStart += BigInt(Math.floor(random() * 5_000_000));
  }
  const resourceSpans: OtlpObject[] = [];
  for (const [service, list] of byService) {
    if (list.length === 0) continue;
    const namespace = SHOP_SERVICES[service];
    resourceSpans.push({
      resource: {
        attributes: [
          str('service.name', service),
          str('service.namespace', namespace),
          str('service.version', '2.0.1'),
          str('k8s.namespace.name', `${namespace}-prod`),
          str('k8s.pod.name', `${service}-7d9f8b6c5-${hex(random, 3)}`),
          str('telemetry.sdk.language', service === 'recommendation' ? 'python' : service === 'cart' ? 'dotnet' : 'go'),
        ],
      },
      scopeSpans: [{ scope: { name: `io.opentelemetry.${service}`, version: '1.0.0' }, spans: list }],
    });
  }
  return { resourceSpans };
}

export function shopTracesRequest(spans = 500, seed = 1): Uint8Array {
  return encodeRequest('traces', shopTracesRequestObject(spans, seed));
}
