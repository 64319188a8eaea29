import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * cancelflow's own Prometheus metrics, one registry per process. The worker adds the Temporal
 * SDK's metrics (its core exposes them on its own endpoint; see worker/metrics-server.ts).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cancelflow_' });

export const cancellationsTotal = new Counter({
  name: 'cancelflow_cancellations_total',
  help: 'Cancellations that reached a final status, by status and provider',
  labelNames: ['status', 'provider'] as const,
  registers: [registry],
});

export const providerCallSeconds = new Histogram({
  name: 'cancelflow_provider_call_seconds',
  help: 'Latency of provider calls, by provider, operation and outcome class',
  labelNames: ['provider', 'operation', 'outcome'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
  registers: [registry],
});

export const notificationAttemptsTotal = new Counter({
  name: 'cancelflow_notification_attempts_total',
  help: 'Notification attempts, by result (success or failure)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const apiRequestsTotal = new Counter({
  name: 'cancelflow_api_requests_total',
  help: 'Northbound Unified Cancel requests, by route and answer code',
  labelNames: ['route', 'code'] as const,
  registers: [registry],
});

export const queryCacheTotal = new Counter({
  name: 'cancelflow_api_query_cache_total',
  help: 'Northbound cancel queries answered from the terminal-answer cache (hit) or from Postgres (miss)',
  labelNames: ['result'] as const,
  registers: [registry],
});
