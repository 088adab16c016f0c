import { Server, ServerCredentials, status as grpcStatus } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition } from '@grpc/grpc-js';
import { ERROR_CODES, TollgateError } from '../errors/codes.js';
import { SIGNAL_GRPC_SERVICE, SIGNALS } from '../otlp/signal.js';
import type { Signal } from '../otlp/signal.js';
import { encodeExportResponse } from '../otlp/status.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfMetrics } from '../telemetry/metrics.js';
import { asTollgateError } from './otlp-http.js';
import type { Receiver } from './otlp-http.js';
import { recordOutcome } from './outcome.js';

export interface OtlpGrpcReceiverOptions {
  readonly host: string;
  readonly port: number;
  /** Applies to the decompressed message. */
  readonly maxRecvMsgSize: number;
  readonly maxConcurrentRequests: number;
  readonly pipeline: Pipeline;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
}

const TRANSPORT = 'grpc';
const identity = (bytes: Buffer): Buffer => bytes;

/** The OTLP Export method with identity (de)serializers: handlers get the raw protobuf bytes. */
function exportService(signal: Signal): ServiceDefinition {
  return {
    Export: {
      path: `/${SIGNAL_GRPC_SERVICE[signal]}/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
}

export function createOtlpGrpcReceiver(options: OtlpGrpcReceiverOptions): Receiver {
  const { pipeline, metrics, logger } = options;
  let active = 0;
  let boundPort = 0;
  const server = new Server({
    'grpc.max_receive_message_length': options.maxRecvMsgSize,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });

  function handlerFor(signal: Signal) {
    return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
      const timer = metrics.receiverDuration.startTimer({ signal, transport: TRANSPORT });
      active++;
      const done = (code: number, error: TollgateError | undefined, response?: Buffer): void => {
        active--;
        timer();
        metrics.receiverRequests.inc({ signal, transport: TRANSPORT, code: grpcStatus[code] ?? String(code) });
        if (error) callback({ code, details: error.message });
        else callback(null, response);
      };
      if (active > options.maxConcurrentRequests) {
        const error = new TollgateError('overloaded', `more than ${options.maxConcurrentRequests} concurrent requests`);
        metrics.receiverItems.inc({ signal, transport: TRANSPORT, outcome: 'refused' }, 0);
        return done(ERROR_CODES.overloaded.grpcStatus, error);
      }
      pipeline.consume(signal, call.request).then(
        (result) => {
          recordOutcome(metrics, signal, TRANSPORT, result);
          const partial = result.rejected > 0 || result.message ? { rejected: result.rejected, message: result.message ?? '' } : undefined;
          done(grpcStatus.OK, undefined, Buffer.from(encodeExportResponse(signal, partial, 'protobuf')));
        },
        (cause: unknown) => {
          const error = asTollgateError(cause, logger);
          metrics.receiverItems.inc({ signal, transport: TRANSPORT, outcome: error.code === 'malformed_request' ? 'rejected' : 'refused' }, error.items);
          done(error.spec.grpcStatus, error);
        },
      );
    };
  }

  for (const signal of SIGNALS) {
    server.addService(exportService(signal), { Export: handlerFor(signal) });
  }

  return {
    start: () =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, port) => {
          if (error) return reject(error);
          boundPort = port;
          logger.info('OTLP/gRPC receiver listening', { address: `${options.host}:${port}` });
          resolve();
        });
      }),
    address: () => `${options.host}:${boundPort}`,
    stop: (deadline) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), Math.max(0, deadline - Date.now()));
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
