import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from './config';

function options(config: Config): ConnectionOptions & NativeConnectionOptions {
  const { address, tls, apiKey } = config.temporal;
  return {
    address,
    ...(tls || apiKey ? { tls: true } : {}),
    ...(apiKey ? { apiKey: apiKey.reveal() } : {}),
  };
}

export function connectClient(config: Config): Promise<Connection> {
  return Connection.connect(options(config));
}

export function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(options(config));
}
