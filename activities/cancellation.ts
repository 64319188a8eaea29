import type { CancelOutcome } from '../providers/types';
import { adapterCache, auditExchange, PROVIDER_CALL_RECORD_BOUNDS, writeAhead } from './adapters';
import { type OrderRefs, type TransitionHeld, type TransitionRecord } from '../contract/cancellation';
import type { ActivityDeps } from './deps';
import { applyTransition, snapshotOfRow, type CancellationRow } from './cancellation-rows';
import { holderOfCancelOrder } from './cancel-orders';
import { createRecordCancellation } from './record-cancellation';

export { applyTransition, snapshotOfRow, type CancellationRow } from './cancellation-rows';

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
    const hooks = writeAhead(db, input.cancelOrderId, account);
    const result =
      operation === 'cancel'
        ? await adapter.submitCancel(
            {
              order: input.order,
              ...(input.providerCancelId ? { providerCancelId: input.providerCancelId } : {}),
              // An upstream gateway sends its Cancel Notification to our callback endpoint.
              ...(account.provider === 'unified'
                ? {
                    notifyUrl: `${config.http.publicBaseUrl}/callbacks/unified/${encodeURIComponent(account.id)}`,
                  }
                : {}),
              ...(input.clientIp ? { clientIp: input.clientIp } : {}),
              ...(input.channelExtra ? { channelExtra: input.channelExtra } : {}),
              ...(input.extParam ? { extParam: input.extParam } : {}),
            },
            hooks,
          )
        : await adapter.queryCancel(
            {
              order: input.order,
              ...(input.providerCancelId ? { providerCancelId: input.providerCancelId } : {}),
            },
            hooks,
          );
    const outcome = await notAnotherOrders(account, operation, input, result.outcome);
    if (result.exchange)
      await auditExchange(db, logger, input.cancelOrderId, account, { ...result.exchange, outcome });
    logger.info(
      { cancelOrderId: input.cancelOrderId, account: account.id, operation, outcome: outcome.kind },
      'provider answered',
    );
    return outcome;
  };

  /**
   * A Unified cancel answer names only the gateway's cancel order (seed 000), so its signature
   * cannot tell which payment order it is about: one naming a cancel order we recorded for a
   * cancellation not provably of this order is not taken as ours (MISADDRESSED, never a success).
   * A query names the cancel order we asked about and is checked by its classifier.
   */
  const notAnotherOrders = async (
    account: { id: string; provider: string },
    operation: 'cancel' | 'query',
    input: ProviderCallInput,
    outcome: CancelOutcome,
  ): Promise<CancelOutcome> => {
    const named = 'providerCancelId' in outcome ? outcome.providerCancelId : undefined;
    if (
      account.provider !== 'unified' ||
      operation !== 'cancel' ||
      !named ||
      named === input.providerCancelId
    )
      return outcome;
    // Only what the merchant asked for counts as ours: numbers in the answer are the suspect's own.
    const check = () =>
      holderOfCancelOrder(db, PROVIDER_CALL_RECORD_BOUNDS.acquireMs, account.id, named, input.cancelOrderId, {
        payOrderId: input.order.payOrderId,
        mchOrderNo: input.order.mchOrderNo,
      });
    // Never throws once the provider has answered: asked twice, then a check that cannot be made
    // is no success (UNCHECKED: the cancel's outcome is unknown, and the run asks again).
    return check()
      .catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return check();
      })
      .then(
        (holder): CancelOutcome =>
          holder
            ? {
                kind: 'unknown',
                code: 'MISADDRESSED',
                reason: `answer about another order: cancel order ${named} is cancellation ${holder}'s, not provably of this payment order`,
              }
            : outcome,
        (err: unknown): CancelOutcome => ({
          kind: 'unknown',
          code: 'UNCHECKED',
          reason: `cancel order ${named} could not be checked against our records: ${err instanceof Error ? err.message : String(err)}`,
        }),
      );
  };

  return {
    recordCancellation: createRecordCancellation(db),

    submitCancel: (input: ProviderCallInput) => call('cancel', input),
    queryCancel: (input: ProviderCallInput) => call('query', input),

    /**
     * A status change: the transition row (unique by seq) and, only if it is new, the row update.
     * Not written by this run (another writer took the step, or the row is terminal): returns what
     * Postgres holds, for the run to adopt, even when its status is the one asked for (its facts
     * may differ, and its writer notifies).
     */
    async recordTransition(t: TransitionRecord): Promise<TransitionHeld | undefined> {
      const written = await applyTransition(db, t, (fields, msg) => logger.warn(fields, msg));
      if (written === 'applied') return undefined;
      if (written === 'duplicate') {
        // This step is written: by this write's own first attempt (its answer lost), or by
        // another writer (a repair took the same seq). Only the first is ours to go on from.
        const stored = await db('cancellation_transitions')
          .where({ cancel_order_id: t.cancelOrderId, seq: t.seq })
          .first<{ status: string; state: number; reason: string | null } | undefined>(
            'status',
            'state',
            'reason',
          );
        if (
          stored &&
          stored.status === t.status &&
          stored.state === t.state &&
          stored.reason === (t.reason ?? null)
        )
          return undefined;
      }
      const row = await db('cancellations')
        .where({ cancel_order_id: t.cancelOrderId })
        .first<CancellationRow | undefined>();
      if (!row) return undefined;
      logger.error(
        { cancelOrderId: t.cancelOrderId, seq: t.seq, status: t.status, held: row.status },
        written === 'terminal'
          ? 'transition refused: the cancellation is already terminal and is never changed; the run takes what Postgres holds'
          : 'this step was written with another state; the run takes what Postgres holds',
      );
      const s = snapshotOfRow(row);
      return {
        status: s.status,
        state: s.state,
        ...(s.retryable !== undefined ? { retryable: s.retryable } : {}),
        ...(s.providerCancelId ? { providerCancelId: s.providerCancelId } : {}),
        ...(s.providerOrderNo ? { providerOrderNo: s.providerOrderNo } : {}),
        ...(s.channelOrderNo ? { channelOrderNo: s.channelOrderNo } : {}),
        ...(s.payOrderId ? { payOrderId: s.payOrderId } : {}),
        ...(s.amount ? { amount: s.amount } : {}),
        ...(s.successTime ? { successTime: s.successTime } : {}),
        ...(s.errCode ? { errCode: s.errCode } : {}),
        ...(s.errMsg ? { errMsg: s.errMsg } : {}),
      };
    },
  };
}
