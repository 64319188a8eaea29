import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AccountConfig, Config } from '../common/config';
import { withConnection, type Knex } from '../common/db';
import type { Logger } from '../common/logger';
import { providerCallSeconds } from '../common/metrics';
import { SENT_NOT_ANSWERED } from '../contract/audit';
import { NOT_SENT } from '../contract/failures';
import { createAdapter } from '../providers';
import { accountTimeouts } from '../providers/options';
import type {
  ExchangeRecord,
  FollowUpExchangeRecord,
  OutgoingRequest,
  ProviderAdapter,
  SendHooks,
} from '../providers/types';

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

/** This activity attempt's identity: the key of its `provider_calls` row (and `part` of it). */
function exchangeKey(part?: string): string {
  const info = Context.current().info;
  const run = info.workflowExecution;
  return `${run?.workflowId ?? '-'}/${run?.runId ?? '-'}/${info.activityId}/${info.attempt}${part ? `/${part}` : ''}`;
}

/** One bounded write to `provider_calls` (a connection, then the statement, each within its bound). */
async function writeCall(db: Knex, write: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<void> {
  await withConnection(db, PROVIDER_CALL_RECORD_BOUNDS.acquireMs, async (connection) => {
    await write(db('provider_calls').connection(connection)).timeout(
      PROVIDER_CALL_RECORD_BOUNDS.statementMs,
      {
        cancel: true,
      },
    );
  });
}

/** The answer's columns of a `provider_calls` row. */
function answerColumns(exchange: ExchangeRecord | FollowUpExchangeRecord) {
  return {
    http_status: exchange.httpStatus ?? null,
    response_body: exchange.responseBody ?? null,
    signature: exchange.signature,
    outcome: exchange.outcome.kind,
    outcome_detail: JSON.stringify(exchange.outcome),
    error: exchange.error?.slice(0, 512) ?? null,
    latency_ms: exchange.latencyMs,
  };
}

/**
 * One `provider_calls` row per real exchange: the key is this activity attempt's identity
 * (workflow, run, activity, attempt), so a retried write adds nothing; an activity that makes
 * several exchanges (a reconciliation page) names each one with `part`. The row written ahead
 * (`writeAhead`) is completed with the answer.
 */
export async function recordProviderCall(
  db: Knex,
  cancelOrderId: string,
  account: AccountConfig,
  exchange: ExchangeRecord | FollowUpExchangeRecord,
  part?: string,
): Promise<void> {
  providerCallSeconds
    .labels(account.provider, account.id, exchange.operation, exchange.outcome.kind)
    .observe(exchange.latencyMs / 1000);
  const answer = answerColumns(exchange);
  const row = {
    exchange_key: exchangeKey(part),
    cancel_order_id: cancelOrderId,
    account_id: account.id,
    provider: account.provider,
    operation: exchange.operation,
    url: exchange.url.slice(0, 512),
    request: JSON.stringify(exchange.request),
    ...answer,
  };
  await writeCall(db, (q) => q.insert(row).onConflict('exchange_key').merge(Object.keys(answer)));
}

/**
 * The write-ahead audit (`SendHooks.beforeSend`): the request's row is in `provider_calls` before
 * the request leaves, so an exchange the provider saw always has its row, whatever happens next (a
 * worker killed mid-call, Postgres down when the answer comes). Postgres trouble is waited out
 * while the activity can still afford its HTTP timeouts; past that the request is not sent, and the
 * activity fails with `NOT_SENT`: nothing happened at the provider.
 */
export function writeAhead(
  db: Knex,
  cancelOrderId: string,
  account: AccountConfig,
  part?: string,
): SendHooks {
  return {
    beforeSend: async (outgoing: OutgoingRequest) => {
      const info = Context.current().info;
      const http = accountTimeouts(account);
      const deadline =
        info.currentAttemptScheduledTimestampMs +
        info.startToCloseTimeoutMs -
        (http.connectMs + http.responseMs) -
        3_000;
      const row = {
        exchange_key: exchangeKey(part),
        cancel_order_id: cancelOrderId,
        account_id: account.id,
        provider: account.provider,
        operation: outgoing.operation,
        url: outgoing.url.slice(0, 512),
        request: JSON.stringify(outgoing.request),
        signature: 'not-checked',
        outcome: SENT_NOT_ANSWERED,
        latency_ms: 0,
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await writeCall(db, (q) => q.insert(row).onConflict('exchange_key').ignore());
          return;
        } catch (err) {
          const wait = Math.min(250 * 2 ** attempt, 2_000);
          if (Date.now() + wait + PROVIDER_CALL_RECORD_BOUNDS.acquireMs >= deadline)
            throw ApplicationFailure.create({
              type: NOT_SENT,
              message: `could not write the audit row ahead of the ${outgoing.operation}: nothing was sent (${err instanceof Error ? err.message : String(err)})`,
            });
          await sleep(wait);
        }
      }
    },
  };
}

/**
 * Records an exchange the provider saw, retrying while the activity has time: a Postgres restart
 * or a locked table delays the answer's columns, it does not lose them (the request's row was
 * written ahead). Never fails the activity: when the time is up the known answer still goes back
 * to the workflow, and the row keeps outcome `sent`.
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
          'could not record a provider answer in the time the activity had (its request row stays)',
        );
        return;
      }
      await sleep(wait);
    }
  }
}
