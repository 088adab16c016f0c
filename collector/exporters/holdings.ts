import type { ExportRequest } from '../pipeline/contracts.js';

/**
 * What an exporter holds, queued or in flight, within its limits: the one place both the
 * OTLP/HTTP and the Kafka exporter count requests, bytes and items in and out.
 */
export interface Holdings {
  /** Items held, for the queue-size gauge. */
  readonly items: number;
  /** Why `request` cannot be taken now (the exporter answers busy), or undefined when it fits. */
  refusal(request: ExportRequest): string | undefined;
  take(request: ExportRequest): void;
  release(request: ExportRequest): void;
}

export interface HoldingLimits {
  readonly maxQueuedRequests: number;
  readonly maxInFlightBytes: number;
}

export function createHoldings(limits: HoldingLimits): Holdings {
  let requests = 0;
  let bytes = 0;
  let items = 0;
  return {
    get items() {
      return items;
    },
    refusal(request) {
      // A request larger than the whole byte budget is still taken when nothing else is held;
      // refusing it would make its client retry forever.
      const fits = requests < limits.maxQueuedRequests && (bytes === 0 || bytes + request.body.length <= limits.maxInFlightBytes);
      return fits ? undefined : `queue full (${requests}/${limits.maxQueuedRequests} requests, ${bytes}/${limits.maxInFlightBytes} bytes)`;
    },
    take(request) {
      requests += 1;
      bytes += request.body.length;
      items += request.items;
    },
    release(request) {
      requests -= 1;
      bytes -= request.body.length;
      items -= request.items;
    },
  };
}
