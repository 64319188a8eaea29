import { ApplicationFailure, Context } from '@temporalio/activity';
import { cancellationsTotal } from '../common/metrics';
import type { CancelOutcome } from '../providers/types';
import { adapterCache, recordProviderCall } from './adapters';
import {
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationStatus,
  type OrderRefs,
  type TransitionRecord,
} from '../workflows/types';
import type { Knex } from '../common/db';
import type { ActivityDeps } from './deps';

const FINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CLOSED', 'UNRESOLVED'];

/**
 * Writes one transition: the `cancellation_transitions` row (unique by seq, so a retried write
 * is a no-op) and, only when that row is new, the `cancellations` row. Shared by the workflow's
 * activity and by reconciliation's repair of a record whose workflow is gone. A terminal
 * cancellation is never changed: the row is locked and checked first, and the transition is
 * refused (`terminal`) without writing anything. The northbound query relies on this to cache
 * terminal answers.
 */
export async function applyTransition(
  db: Knex,
  t: TransitionRecord,
): Promise<'applied' | 'duplicate' | 'terminal'> {
  return db.transaction(async (trx) => {
    const current = await trx('cancellations')
      .where({ cancel_order_id: t.cancelOrderId })
      .forUpdate()
      .first<{ status: CancellationStatus } | undefined>('status');
    if (current && TERMINAL_STATUSES.includes(current.status)) return 'terminal';
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
    if (inserted.length === 0) return 'duplicate';
    const updated: Array<{ provider: string }> = await trx('cancellations')
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
    if (FINAL_STATUSES.includes(t.status))
      for (const row of updated) cancellationsTotal.labels(t.status, row.provider).inc();
    return 'applied';
  });
}

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
  const adapterFor = adapterCache(config);

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
      try {
        await recordProviderCall(db, input.cancelOrderId, account, result.exchange);
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
        if (!row) {
          // The insert did nothing, and not because of this order: its id belongs to another one.
          throw ApplicationFailure.nonRetryable(
            `cancelOrderId ${input.cancelOrderId} is already used by another order`,
            'CANCEL_ORDER_ID_TAKEN',
          );
        }
        if (row.cancel_order_id !== input.cancelOrderId) {
          throw ApplicationFailure.nonRetryable(
            `order ${input.orderRef} of app ${input.appId} already has cancellation ${row.cancel_order_id}`,
            'ORDER_HAS_CANCELLATION',
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
      if ((await applyTransition(db, t)) === 'terminal')
        logger.error(
          { cancelOrderId: t.cancelOrderId, seq: t.seq, status: t.status },
          'transition refused: the cancellation is already terminal and is never changed',
        );
    },
  };
}
