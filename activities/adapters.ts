import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import type { AccountConfig, Config } from '../common/config';
import { withConnection, type Knex } from '../common/db';
import type { Logger } from '../common/logger';
import { providerCallSeconds } from '../common/metrics';
import { createAdapter } from '../providers';
import type { ExchangeRecord, FollowUpExchangeRecord, ProviderAdapter } from '../providers/types';

/** One adapter per account, built on first use. */
export function adapterCache(config: Config) {
  const adapters = new Map<string, { account: AccountConfig; adapter: ProviderAdapter }>();
  return (accountId: string) => {
    let entry = adapters.get(accountId);
    if (!entry) {
      const account = config.accounts.find((a) => a.id === accountId);
      if (!account) return undefined;
      entry = { account, adapter: createAdapter(account) };
      adapters.set(accountId, entry);
    }
    return entry;
  };
}

/**
 * How long recording an exchange may take: waiting for a connection, then the insert (cancelled
 * in Postgres when it runs over, e.g. behind a lock). Together well inside the headroom the config
 * keeps in a provider activity besides its HTTP timeouts (ACTIVITY_HEADROOM_MS, common/config.ts),
 * so a slow audit write can fail, but cannot outlast the activity and lose the provider's answer.
 */
export const PROVIDER_CALL_RECORD_BOUNDS = { acquireMs: 3_000, statementMs: 3_000 } as const;

/**
 * One `provider_calls` row per real exchange: the key is this activity attempt's identity
 * (workflow, run, activity, attempt), so a retried write adds nothing; an activity that makes
 * several exchanges (a reconciliation page) names each one with `part`.
 */
export async function recordProviderCall(
  db: Knex,
  cancelOrderId: string,
  account: AccountConfig,
  exchange: ExchangeRecord | FollowUpExchangeRecord,
  part?: string,
): Promise<void> {
  const info = Context.current().info;
  const run = info.workflowExecution;
  const key = `${run?.workflowId ?? '-'}/${run?.runId ?? '-'}/${info.activityId}/${info.attempt}${part ? `/${part}` : ''}`;
  providerCallSeconds
    .labels(account.provider, account.id, exchange.operation, exchange.outcome.kind)
    .observe(exchange.latencyMs / 1000);
  const row = {
    exchange_key: key,
    cancel_order_id: cancelOrderId,
    account_id: account.id,
    provider: account.provider,
    operation: exchange.operation,
    url: exchange.url.slice(0, 512),
    request: JSON.stringify(exchange.request),
    http_status: exchange.httpStatus ?? null,
    response_body: exchange.responseBody ?? null,
    signature: exchange.signature,
    outcome: exchange.outcome.kind,
    outcome_detail: JSON.stringify(exchange.outcome),
    error: exchange.error?.slice(0, 512) ?? null,
    latency_ms: exchange.latencyMs,
  };
  await withConnection(db, PROVIDER_CALL_RECORD_BOUNDS.acquireMs, async (connection) => {
    await db('provider_calls')
      .connection(connection)
      .insert(row)
      .onConflict('exchange_key')
      .ignore()
      .timeout(PROVIDER_CALL_RECORD_BOUNDS.statementMs, { cancel: true });
  });
}

/**
 * Records an exchange the provider saw, retrying while the activity has time: a Postgres restart
 * or a locked table delays the audit row, it does not lose it. Never fails the activity: when the
 * time is up the known answer still goes back to the workflow, and the missing row is logged.
 */
export async function auditExchange(
  db: Knex,
  logger: Logger,
  cancelOrderId: string,
  account: AccountConfig,
  exchange: ExchangeRecord | FollowUpExchangeRecord,
): Promise<void> {
  const info = Context.current().info;
  // Leave the workflow 3 s to receive the answer before the activity would time out.
  const deadline =
    Date.now() +
    Math.max(0, info.startToCloseTimeoutMs - (Date.now() - info.currentAttemptScheduledTimestampMs) - 3_000);
  for (let attempt = 0; ; attempt++) {
    try {
      await recordProviderCall(db, cancelOrderId, account, exchange);
      return;
    } catch (err) {
      const wait = Math.min(500 * 2 ** attempt, 4_000);
      if (Date.now() + wait + PROVIDER_CALL_RECORD_BOUNDS.acquireMs >= deadline) {
        // The answer matters more than its audit row: never turn a known outcome into an unknown one.
        logger.error(
          { err, cancelOrderId, operation: exchange.operation, attempts: attempt + 1 },
          'could not record a provider exchange in the time the activity had',
        );
        return;
      }
      await sleep(wait);
    }
  }
}
