import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AccountConfig } from './config';
import { withConnection, type Knex } from './db';
import type { Logger } from './logger';
import { IN_FLIGHT_STATUSES } from '../contract/cancellation';

/**
 * cancelflow's own Prometheus metrics, one registry per process. The worker adds the Temporal
 * SDK's metrics (its core exposes them on its own endpoint; see worker/metrics-server.ts).
 * ops/ has the Grafana dashboard and the alert rules built on these names; the metrics test
 * checks that every name they use is served.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cancelflow_' });

export const cancellationsStartedTotal = new Counter({
  name: 'cancelflow_cancellations_started_total',
  help: 'Cancellations started (a new cancellation row; a retry of a failed one is a new one), by account and provider',
  labelNames: ['account', 'provider'] as const,
  registers: [registry],
});

export const cancellationsFinishedTotal = new Counter({
  name: 'cancelflow_cancellations_finished_total',
  help: 'Cancellations that reached a final status (SUCCEEDED, FAILED, CLOSED or UNRESOLVED), by status, account and provider',
  labelNames: ['status', 'account', 'provider'] as const,
  registers: [registry],
});

export const providerCallSeconds = new Histogram({
  name: 'cancelflow_provider_call_seconds',
  help: 'Latency of provider calls, by provider, account, operation and outcome kind',
  labelNames: ['provider', 'account', 'operation', 'outcome'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
  registers: [registry],
});

export const notificationAttemptsTotal = new Counter({
  name: 'cancelflow_notification_attempts_total',
  help: 'Notification attempts, by result (success or failure)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const notificationRoundsTotal = new Counter({
  name: 'cancelflow_notification_rounds_total',
  help: 'Notification rounds that ended, by result (delivered or failed) and, for a failed one, the reason its last attempt failed',
  labelNames: ['result', 'reason'] as const,
  registers: [registry],
});

/** Why a notification round failed, as the `reason` label says it (a closed set: bounded series). */
export const NOTIFICATION_FAILURE_REASONS = [
  'no_attempt',
  'refused_by_policy',
  'no_answer',
  'http_status',
  'bad_answer',
  'outcome_unknown',
] as const;
export type NotificationFailureReason = (typeof NOTIFICATION_FAILURE_REASONS)[number];

/** The reason a round failed, read from its last `notification_attempts` row. */
export function notificationFailureReason(
  last: { state?: string | null; http_status?: number | null; error?: string | null } | undefined,
): NotificationFailureReason {
  if (!last) return 'no_attempt';
  if (last.state === 'unknown') return 'outcome_unknown';
  // The address policy's refusal, as activities/notification-exchange.ts words it: nothing was sent.
  if (last.error?.startsWith('refused:')) return 'refused_by_policy';
  if (last.http_status === null || last.http_status === undefined) return 'no_answer';
  return last.http_status >= 200 && last.http_status < 300 ? 'bad_answer' : 'http_status';
}

/** Counts one ended notification round; `last` is its last attempt when it was not delivered. */
export function countNotificationRound(
  delivered: boolean,
  last?: Parameters<typeof notificationFailureReason>[0],
): void {
  if (delivered) notificationRoundsTotal.labels('delivered', 'none').inc();
  else notificationRoundsTotal.labels('failed', notificationFailureReason(last)).inc();
}

/**
 * A metric's child for each combination of label values, made once: prom-client's `labels()`
 * rebuilds and hashes the label object on every call, which the hottest routes pay per request.
 * Only for label values from a small fixed set (route patterns, answer codes, status classes).
 */
function childrenOf<C>(make: (values: string[]) => C): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (!child) {
      child = make(values);
      children.set(key, child);
    }
    return child;
  };
}

export const apiRequestsTotal = new Counter({
  name: 'cancelflow_api_requests_total',
  help: 'Northbound Unified Cancel requests, by route and answer code',
  labelNames: ['route', 'code'] as const,
  registers: [registry],
});
const apiRequestCounter = childrenOf(([route, code]) => apiRequestsTotal.labels(route!, code!));

/** One northbound answer: its route's pattern and its answer code. */
export function countApiRequest(route: string, code: number): void {
  apiRequestCounter(route, String(code)).inc();
}

export const apiRequestSeconds = new Histogram({
  name: 'cancelflow_api_request_duration_seconds',
  help: 'HTTP API response time, by method, route pattern and status class (2xx, 4xx, ...)',
  labelNames: ['method', 'route', 'status_class'] as const,
  // A northbound cancel waits up to api.cancelWaitMs for the provider's first answer.
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

const apiRequestTimer = childrenOf(([method, route, statusClass]) =>
  apiRequestSeconds.labels(method!, route!, statusClass!),
);

/** One API response; `route` is the route's pattern (never the URL: ids would make a series each). */
export function observeApiResponse(
  method: string,
  route: string | undefined,
  statusCode: number,
  elapsedMs: number,
): void {
  apiRequestTimer(method, route ?? 'unmatched', `${Math.floor(statusCode / 100)}xx`).observe(
    elapsedMs / 1000,
  );
}

export const queryCacheTotal = new Counter({
  name: 'cancelflow_api_query_cache_total',
  help: 'Northbound cancel queries answered from the terminal-answer cache (hit) or from Postgres (miss)',
  labelNames: ['result'] as const,
  registers: [registry],
});
const queryCacheHits = queryCacheTotal.labels('hit');
const queryCacheMisses = queryCacheTotal.labels('miss');

/** A northbound query answered from the API's caches (hit) or read from Postgres (miss). */
export function countQueryCache(hit: boolean): void {
  (hit ? queryCacheHits : queryCacheMisses).inc();
}

export const reconciliationItemsTotal = new Counter({
  name: 'cancelflow_reconciliation_items_total',
  help: 'Reconciliation items recorded (one per cancellation per run, dry runs included), by class and account',
  labelNames: ['class', 'account'] as const,
  registers: [registry],
});

/*
 * Gauges read from Postgres when scraped: every worker and API process tells the same numbers,
 * which outlive any one process (aggregate them with max, not sum). One cached read serves all
 * of them for DATABASE_GAUGES_TTL_MS, so scrapes by several Prometheus servers stay cheap.
 */
const DATABASE_GAUGES_TTL_MS = 5_000;
/** A scrape must answer even when Postgres does not: the gauges then keep their last values. */
const DATABASE_GAUGES_BOUNDS = { acquireMs: 2_000, statementMs: 2_000 } as const;

let source:
  { db: Knex; accounts: ReadonlyArray<Pick<AccountConfig, 'id' | 'provider'>>; logger?: Logger } | undefined;
let lastRead: { at: number; done: Promise<void> } | undefined;

const collectFromDatabase = async (): Promise<void> => {
  if (!source) return;
  if (!lastRead || Date.now() - lastRead.at >= DATABASE_GAUGES_TTL_MS)
    lastRead = { at: Date.now(), done: readDatabaseGauges(source) };
  await lastRead.done;
};

export const cancellationsInFlight = new Gauge({
  name: 'cancelflow_cancellations_in_flight',
  help: 'Cancellations not final yet (RECEIVED, SUBMITTED, PENDING), by account, provider and status; read from Postgres',
  labelNames: ['account', 'provider', 'status'] as const,
  registers: [registry],
  collect: collectFromDatabase,
});

export const cancellationsUnresolved = new Gauge({
  name: 'cancelflow_cancellations_unresolved',
  help: 'UNRESOLVED cancellations (past their deadline without a verified answer), by account and provider; read from Postgres',
  labelNames: ['account', 'provider'] as const,
  registers: [registry],
  collect: collectFromDatabase,
});

export const reconciliationLastRunFinished = new Gauge({
  name: 'cancelflow_reconciliation_last_run_finished_timestamp_seconds',
  help: 'When the last reconciliation run that was not a dry run finished, by scope (all, or the one account it covered); read from Postgres',
  labelNames: ['scope'] as const,
  registers: [registry],
  collect: collectFromDatabase,
});

export const reconciliationLastRunSeconds = new Gauge({
  name: 'cancelflow_reconciliation_last_run_duration_seconds',
  help: 'How long the last reconciliation run that was not a dry run took, by scope; read from Postgres',
  labelNames: ['scope'] as const,
  registers: [registry],
  collect: collectFromDatabase,
});

export const databaseGaugeErrorsTotal = new Counter({
  name: 'cancelflow_database_gauge_errors_total',
  help: 'Failed reads of the gauges computed from Postgres (they then keep their last values)',
  registers: [registry],
});

async function readDatabaseGauges(from: NonNullable<typeof source>): Promise<void> {
  let open: Array<{ account_id: string; provider: string; status: string; n: number }>;
  let runs: Array<{ scope: string; finished: number; seconds: number }>;
  try {
    [open, runs] = await withConnection(from.db, DATABASE_GAUGES_BOUNDS.acquireMs, (connection) => {
      const read = async <T>(sql: string, bindings: readonly string[] = []): Promise<T[]> => {
        const result = (await from.db
          .raw(sql, bindings)
          .connection(connection)
          .timeout(DATABASE_GAUGES_BOUNDS.statementMs, { cancel: true })) as { rows: T[] };
        return result.rows;
      };
      const statuses = [...IN_FLIGHT_STATUSES, 'UNRESOLVED'];
      return Promise.all([
        // Retired rows (started again after failing) are answered by their successor.
        read<(typeof open)[number]>(
          `select account_id, provider, status, count(*)::int as n from cancellations
           where retired_at is null and status in (${statuses.map(() => '?').join(', ')})
           group by account_id, provider, status`,
          statuses,
        ),
        read<(typeof runs)[number]>(
          `select distinct on (coalesce(account_id, '')) coalesce(account_id, 'all') as scope,
             extract(epoch from finished_at)::float8 as finished,
             extract(epoch from finished_at - started_at)::float8 as seconds
           from reconciliation_runs
           where status = 'finished' and not dry_run and finished_at is not null
           order by coalesce(account_id, ''), finished_at desc`,
        ),
      ]);
    });
  } catch (err) {
    databaseGaugeErrorsTotal.inc();
    from.logger?.warn(
      { err },
      'metrics: could not read the gauges from Postgres; they keep their last values',
    );
    return;
  }
  // Reset and refill in one synchronous step: a scrape never sees a half-filled gauge.
  cancellationsInFlight.reset();
  cancellationsUnresolved.reset();
  for (const account of from.accounts) {
    // Configured accounts always have series: a graph shows 0, not a gap.
    for (const status of IN_FLIGHT_STATUSES)
      cancellationsInFlight.labels(account.id, account.provider, status).set(0);
    cancellationsUnresolved.labels(account.id, account.provider).set(0);
  }
  for (const row of open) {
    if (row.status === 'UNRESOLVED') cancellationsUnresolved.labels(row.account_id, row.provider).set(row.n);
    else cancellationsInFlight.labels(row.account_id, row.provider, row.status).set(row.n);
  }
  reconciliationLastRunFinished.reset();
  reconciliationLastRunSeconds.reset();
  for (const run of runs) {
    reconciliationLastRunFinished.labels(run.scope).set(run.finished);
    reconciliationLastRunSeconds.labels(run.scope).set(run.seconds);
  }
}

/**
 * Fills the Postgres-backed gauges from `db` on each scrape (at most one read per 5 s). Called
 * once by each process entry (worker, API); a later call replaces the database.
 */
export function registerDatabaseGauges(
  db: Knex,
  options: { accounts?: ReadonlyArray<Pick<AccountConfig, 'id' | 'provider'>>; logger?: Logger } = {},
): void {
  source = { db, accounts: options.accounts ?? [], ...(options.logger ? { logger: options.logger } : {}) };
  lastRead = undefined;
}

export const temporalRpcsInFlight = new Gauge({
  name: 'cancelflow_temporal_rpcs_in_flight',
  help: 'Calls to the Temporal service this process has open, by method (a long-poll left behind shows here)',
  labelNames: ['method'] as const,
  registers: [registry],
});
