import { InterceptingCall, ListenerBuilder, RequesterBuilder, type Interceptor } from '@grpc/grpc-js';
import {
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from './config';
import { temporalRpcsInFlight } from './metrics';

function options(config: Config): ConnectionOptions & NativeConnectionOptions {
  const { address, tls, apiKey } = config.temporal;
  return {
    address,
    ...(tls || apiKey ? { tls: true } : {}),
    ...(apiKey ? { apiKey: apiKey.reveal() } : {}),
  };
}

/**
 * Counts this process's open calls to Temporal by method (`cancelflow_temporal_rpcs_in_flight`):
 * a call is open from its start until its status arrives, retries included. What proves that an
 * answered request leaves no long-poll behind.
 */
export const countTemporalRpcs: Interceptor = (callOptions, nextCall) => {
  const method = callOptions.method_definition.path.split('/').pop() ?? 'unknown';
  return new InterceptingCall(
    nextCall(callOptions),
    new RequesterBuilder()
      .withStart((metadata, _listener, next) => {
        const open = temporalRpcsInFlight.labels(method);
        open.inc();
        let closed = false;
        next(
          metadata,
          new ListenerBuilder()
            .withOnReceiveStatus((status, nextStatus) => {
              if (!closed) {
                closed = true;
                open.dec();
              }
              nextStatus(status);
            })
            .build(),
        );
      })
      .build(),
  );
};

export function connectClient(config: Config): Promise<Connection> {
  return Connection.connect({
    ...options(config),
    // Counted outside the SDK's own retries: one logical call, however many attempts.
    interceptors: [countTemporalRpcs, makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
  });
}

export function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(options(config));
}
