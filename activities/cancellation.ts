import { Context } from '@temporalio/activity';
import type { AccountConfig } from '../common/config';
import { cancellationsTotal, providerCallSeconds } from '../common/metrics';
import { createAdapter } from '../providers';
import type { CancelOutcome, ExchangeRecord, ProviderAdapter } from '../providers/types';
import type { CancellationInput, OrderRefs, TransitionRecord } from '../workflows/types';
import type { ActivityDeps } from './deps';

export interface ProviderCallInput {
  cancelOrderId: string;
  accountId: string;
  order: OrderRefs;
  providerCancelId?: string;
  clientIp?: string;
  channelExtra?: string;
  extParam?: string;
}

/** Activities of the cancellation workflow: the provider calls and every write to Postgres. */
export function createCancellationActivities({ db, config, logger }: ActivityDeps) {
  const adapters = new Map<string, { account: AccountConfig; adapter: ProviderAdapter }>();
  const adapterFor = (accountId: string) => {
    let entry = adapters.get(accountId);
    if (!entry) {
      const account = config.accounts.find((a) => a.id === accountId);
      if (!account) return undefined;
      entry = { account, adapter: createAdapter(account) };
      adapters.set(accountId, entry);
    }
    return entry;
  };

  /** One `provider_calls` row per real exchange: the key is this activity attempt's identity. */
  const recordExchange = async (cancelOrderId: string, account: AccountConfig, exchange: ExchangeRecord) => {
    const info = Context.current().info;
    const run = info.workflowExecution;
    const key = `${run?.workflowId ?? '-'}/${run?.runId ?? '-'}/${info.activityId}/${info.attempt}`;
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
  };

  const call = async (operation: 'cancel' | 'query', input: ProviderCallInput): Promise<CancelOutcome> => {
    const entry = adapterFor(input.accountId);
    if (!entry)
      return {
        kind: 'misconfigured',
        code: 'UNKNOWN_ACCOUNT',
        message: `no account "${input.accountId}" in config`,
      };
    const { account, adapter } = entry;
    const result =
      operation === 'cancel'
        ? await adapter.submitCancel({
            order: input.order,
            // An upstream gateway sends its Cancel Notification to our callback endpoint.
            ...(account.provider === 'unified'
              ? {
                  notifyUrl: `${config.http.publicBaseUrl}/callbacks/unified/${encodeURIComponent(account.id)}`,
                }
              : {}),
            ...(input.clientIp ? { clientIp: input.clientIp } : {}),
            ...(input.channelExtra ? { channelExtra: input.channelExtra } : {}),
            ...(input.extParam ? { extParam: input.extParam } : {}),
          })
        : await adapter.queryCancel({
            order: input.order,
            ...(input.providerCancelId ? { providerCancelId: input.providerCancelId } : {}),
          });
    if (result.exchange) {
      providerCallSeconds
        .labels(account.provider, operation, result.outcome.kind)
        .observe(result.exchange.latencyMs / 1000);
      try {
        await recordExchange(input.cancelOrderId, account, result.exchange);
      } catch (err) {
        // The answer matters more than its audit row: never turn a known outcome into an unknown one.
        logger.error(
          { err, cancelOrderId: input.cancelOrderId, operation },
          'could not record a provider exchange',
        );
      }
    }
    logger.info(
      { cancelOrderId: input.cancelOrderId, account: account.id, operation, outcome: result.outcome.kind },
      'provider answered',
    );
    return result.outcome;
  };

  return {
    /** The cancellation row and its first transition; a retry or a second start adds nothing. */
    async recordCancellation(input: CancellationInput & { deadlineAt: number }): Promise<void> {
      const workflowId =
        Context.current().info.workflowExecution?.workflowId ?? `cancel/${input.accountId}/${input.orderRef}`;
      await db.transaction(async (trx) => {
        await trx('cancellations')
          .insert({
            cancel_order_id: input.cancelOrderId,
            workflow_id: workflowId,
            mch_no: input.mchNo,
            app_id: input.appId,
            account_id: input.accountId,
            provider: input.provider,
            order_ref: input.orderRef,
            pay_order_id: input.order.payOrderId ?? null,
            mch_order_no: input.order.mchOrderNo ?? null,
            notify_url: input.notifyUrl ?? null,
            ext_param: input.extParam ?? null,
            client_ip: input.clientIp ?? null,
            channel_extra: input.channelExtra ?? null,
            state: 0,
            status: 'RECEIVED',
            created_at: new Date(input.requestedAt),
            updated_at: new Date(input.requestedAt),
            deadline_at: new Date(input.deadlineAt),
          })
          .onConflict()
          .ignore();
        const row = await trx('cancellations')
          .where({ app_id: input.appId, order_ref: input.orderRef })
          .first<{ cancel_order_id: string } | undefined>('cancel_order_id');
        if (row?.cancel_order_id !== input.cancelOrderId) {
          throw new Error(
            `order ${input.orderRef} of app ${input.appId} already has cancellation ${row?.cancel_order_id ?? '?'}`,
          );
        }
        await trx('cancellation_transitions')
          .insert({ cancel_order_id: input.cancelOrderId, seq: 0, status: 'RECEIVED', state: 0 })
          .onConflict(['cancel_order_id', 'seq'])
          .ignore();
      });
    },

    submitCancel: (input: ProviderCallInput) => call('cancel', input),
    queryCancel: (input: ProviderCallInput) => call('query', input),

    /** A status change: the transition row (unique by seq) and, only if it is new, the row update. */
    async recordTransition(t: TransitionRecord): Promise<void> {
      await db.transaction(async (trx) => {
        const inserted = await trx('cancellation_transitions')
          .insert({
            cancel_order_id: t.cancelOrderId,
            seq: t.seq,
            status: t.status,
            state: t.state,
            reason: t.reason ?? null,
          })
          .onConflict(['cancel_order_id', 'seq'])
          .ignore()
          .returning('id');
        if (inserted.length === 0) return;
        const updated = await trx('cancellations')
          .where({ cancel_order_id: t.cancelOrderId })
          .update({
            status: t.status,
            state: t.state,
            updated_at: trx.fn.now(),
            ...(t.providerCancelId ? { provider_cancel_id: t.providerCancelId } : {}),
            ...(t.providerOrderNo ? { provider_order_no: t.providerOrderNo } : {}),
            ...(t.channelOrderNo ? { channel_order_no: t.channelOrderNo } : {}),
            ...(t.errCode !== undefined ? { err_code: t.errCode } : {}),
            ...(t.errMsg !== undefined ? { err_msg: t.errMsg } : {}),
            ...(t.amount ? { amount_minor: t.amount.minor, currency: t.amount.currency } : {}),
            ...(t.successTime ? { success_time: new Date(t.successTime) } : {}),
          })
          .returning('provider');
        if (['SUCCEEDED', 'FAILED', 'CLOSED', 'UNRESOLVED'].includes(t.status))
          for (const row of updated as Array<{ provider: string }>)
            cancellationsTotal.labels(t.status, row.provider).inc();
      });
    },
  };
}
