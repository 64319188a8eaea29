/** The cluster's four services and the configuration files they are started with. */
import type { PostgresEndpoint } from './schema';
import { DEV_SERVER_DYNAMIC_CONFIG } from './dynamic-config';

export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

export function serverConfig(pg: PostgresEndpoint, ports: Record<string, number>): string {
  const store = (db: string, conns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${db}"
        connectAddr: "${pg.host}:${pg.port}"
        connectProtocol: "tcp"
        user: "${pg.user}"
        password: "${pg.password}"
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: "1h"`;
  const service = (name: string) => `
  ${name}:
    rpc:
      grpcPort: ${ports[`${name}Grpc`]}
      membershipPort: ${ports[`${name}Membership`]}
      bindOnLocalHost: true${name === 'frontend' ? `\n      httpPort: ${ports.frontendHttp}` : ''}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 10)}
    visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:${TEMPORAL_SERVICES.map(service).join('')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${ports.frontendGrpc}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "config/dynamicconfig.yaml"
  pollInterval: "10s"
`;
}

/**
 * The production engine's dynamic config: what the dev server turns on by itself and a cluster must
 * be told (updates, update-with-start, eager starts), and what both must be told
 * (DEV_SERVER_DYNAMIC_CONFIG: eager activity dispatch).
 */
const CLUSTER_DYNAMIC_CONFIG: Record<string, boolean> = {
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
  'frontend.enableExecuteMultiOperation': true,
  'system.enableEagerWorkflowStart': true,
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  ...DEV_SERVER_DYNAMIC_CONFIG,
};

/** CLUSTER_DYNAMIC_CONFIG as the server's `dynamicconfig.yaml`. */
export const DYNAMIC_CONFIG = Object.entries(CLUSTER_DYNAMIC_CONFIG)
  .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`)
  .join('');
