import { Context } from '@temporalio/activity';
import type { AccountConfig, Config } from '../common/config';
import type { Knex } from '../common/db';
import { providerCallSeconds } from '../common/metrics';
import { createAdapter } from '../providers';
import type { ExchangeRecord, ProviderAdapter } from '../providers/types';

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
 * One `provider_calls` row per real exchange: the key is this activity attempt's identity
 * (workflow, run, activity, attempt), so a retried write adds nothing; an activity that makes
 * several exchanges (a reconciliation page) names each one with `part`.
 */
export async function recordProviderCall(
  db: Knex,
  cancelOrderId: string,
  account: AccountConfig,
  exchange: ExchangeRecord,
  part?: string,
): Promise<void> {
  const info = Context.current().info;
  const run = info.workflowExecution;
  const key = `${run?.workflowId ?? '-'}/${run?.runId ?? '-'}/${info.activityId}/${info.attempt}${part ? `/${part}` : ''}`;
  providerCallSeconds
    .labels(account.provider, exchange.operation, exchange.outcome.kind)
    .observe(exchange.latencyMs / 1000);
  await db('provider_calls')
    .insert({
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
    })
    .onConflict('exchange_key')
    .ignore();
}
