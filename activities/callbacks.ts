import type { Config } from '../common/config';
import type { Knex } from '../common/db';
import { parseParams } from '../providers/unified/protocol';
import { verifyCancelNotification } from '../providers/unified/notification';
import type { CancelOutcome } from '../providers/types';
import type { CancellationInput, SeedState } from '../contract/cancellation';
import { applyRepairTransition, type ExpectedRow } from './cancellation-rows';
import { lostCancelOf } from './cancel-orders';
import type { ActivityDeps } from './deps';
import { recordRunInput } from './record-run';

interface CallbackRow {
  id: string | number;
  account_id: string;
  content_type: string | null;
  raw_body: string;
}

/**
 * The outcome a stored provider callback tells about one cancellation, verified again from its raw
 * body with the account's key: the workflow acts on this, never on what a signal says.
 */
export async function outcomeOfStoredCallback(
  db: Knex,
  config: Config,
  callbackId: string,
  cancelOrderId: string,
): Promise<CancelOutcome> {
  const unknown = (reason: string, code = 'CALLBACK_REJECTED'): CancelOutcome => ({
    kind: 'unknown',
    reason: `callback ${callbackId}: ${reason}`,
    code,
  });
  if (!/^\d{1,18}$/.test(callbackId)) return unknown('not a callback id');
  const [callback, row] = await Promise.all([
    db('provider_callbacks').where({ id: callbackId }).first<CallbackRow | undefined>(),
    db('cancellations')
      .where({ cancel_order_id: cancelOrderId })
      .first<
        { account_id: string; provider_cancel_id: string | null; pay_order_id: string | null } | undefined
      >('account_id', 'provider_cancel_id', 'pay_order_id'),
  ]);
  if (!callback || !row) return unknown('no such callback or cancellation');
  if (callback.account_id !== row.account_id) return unknown('from another account', 'MISADDRESSED');
  const account = config.accounts.find((a) => a.id === callback.account_id);
  if (!account || account.provider !== 'unified') return unknown('account is not a unified gateway');
  const params = parseParams(callback.raw_body, callback.content_type ?? undefined);
  if (!params) return unknown('body is neither JSON nor a form');
  const verdict = verifyCancelNotification(params, account.key.reveal());
  if (verdict.verdict !== 'valid') return unknown(`${verdict.verdict}: ${verdict.reason}`);
  const notifiedPay = 'payOrderId' in verdict.outcome ? verdict.outcome.payOrderId : undefined;
  const sameCancel = row.provider_cancel_id ? row.provider_cancel_id === verdict.cancelOrderId : true;
  const samePay = row.pay_order_id && notifiedPay ? row.pay_order_id === notifiedPay : true;
  const payProven = Boolean(row.pay_order_id && notifiedPay && row.pay_order_id === notifiedPay);
  // Another cancel order of our payment order succeeded: the payment order is cancelled, which is
  // what this cancellation is for. (A cancel repeated after its answer was lost can leave the
  // gateway with two; the one we learnt may then fail as "already cancelled".) Only a success
  // counts: another cancel order's failure or progress says nothing about ours.
  const ourPayCancelled = payProven && verdict.outcome.kind === 'cancelled';
  if (
    (!sameCancel && !ourPayCancelled) ||
    !samePay ||
    (!row.provider_cancel_id && !(row.pay_order_id && notifiedPay))
  )
    return unknown(`about cancel order ${verdict.cancelOrderId}, not this one`, 'MISADDRESSED');
  return verdict.outcome;
}

/**
 * Completes the record of a cancellation whose workflow is gone with a verified final outcome: the
 * same transition write the workflow would have made (refused, without writing, if the row is
 * already terminal or retired). Shared by reconciliation and by late provider callbacks. A refusal
 * after a lost cancel (`lostCancelOf`) is not final, as in the workflow: nothing is written
 * (`undecided`).
 */
export async function completeRecord(
  db: Knex,
  cancelOrderId: string,
  outcome: Extract<CancelOutcome, { kind: 'cancelled' | 'refused' }>,
  reason: string,
  /**
   * Settled by hand (`cancelflow settle`): ops checked with the provider, so a lost cancel does not
   * hold it back, and the row must still be as they saw it (`expect`, else `changed`).
   */
  options: { byHand?: { expect: ExpectedRow } } = {},
): Promise<{
  written: 'applied' | 'duplicate' | 'terminal' | 'retired' | 'undecided' | 'changed' | 'expired';
  status: string;
  state: SeedState;
}> {
  const state: SeedState = outcome.kind === 'cancelled' ? 2 : outcome.state;
  const status = outcome.kind === 'cancelled' ? 'SUCCEEDED' : outcome.state === 4 ? 'CLOSED' : 'FAILED';
  if (outcome.kind === 'refused' && !options.byHand && (await lostCancelOf(db, cancelOrderId)))
    return { written: 'undecided', status, state };
  // The next seq, taken under the row lock; a retired (superseded) record is left alone.
  const written = await applyRepairTransition(
    db,
    {
      cancelOrderId,
      status,
      state,
      reason: reason.slice(0, 256),
      ...(outcome.providerCancelId ? { providerCancelId: outcome.providerCancelId } : {}),
      ...(outcome.payOrderId ? { payOrderId: outcome.payOrderId } : {}),
      ...(outcome.amount ? { amount: outcome.amount } : {}),
      ...(outcome.kind === 'cancelled' && outcome.channelOrderNo
        ? { channelOrderNo: outcome.channelOrderNo }
        : {}),
      ...(outcome.kind === 'cancelled' && outcome.successTime ? { successTime: outcome.successTime } : {}),
      ...(outcome.kind === 'refused' ? { errCode: outcome.code, errMsg: outcome.message.slice(0, 256) } : {}),
    },
    options.byHand?.expect,
  );
  // This very repair, retried after it committed (its activity died before answering): the final
  // transition is its own, so what follows it (the run that shows it, the notification) is still due.
  if (written === 'terminal') {
    const last = await db('cancellation_transitions')
      .where({ cancel_order_id: cancelOrderId })
      .orderBy('seq', 'desc')
      .first<{ status: string; reason: string | null } | undefined>('status', 'reason');
    if (last?.status === status && last.reason === reason.slice(0, 256))
      return { written: 'duplicate', status, state };
  }
  return { written, status, state };
}

/**
 * Whether a repair's notification is still to start: the repair made the record (`applied`, or
 * `duplicate`: an earlier attempt did), the cancellation has a notifyUrl and, for `duplicate`, that
 * attempt's notification was not begun (one that died before answering began none; a run reset
 * after it did must not notify twice).
 */
export async function notificationDue(
  db: Knex,
  cancelOrderId: string,
  written: Awaited<ReturnType<typeof completeRecord>>['written'],
): Promise<boolean> {
  if (written !== 'applied' && written !== 'duplicate') return false;
  const row = await db('cancellations as c')
    .leftJoin('notifications as n', 'n.cancel_order_id', 'c.cancel_order_id')
    .where('c.cancel_order_id', cancelOrderId)
    .first<{ notify_url: string | null; notification_id: string | null } | undefined>(
      'c.notify_url',
      'n.notification_id',
    );
  return Boolean(row?.notify_url) && (written === 'applied' || !row?.notification_id);
}

/** Activities for provider callbacks: re-verification, and the repair of a closed cancellation. */
export function createCallbackActivities(deps: ActivityDeps) {
  const { db, config } = deps;
  return {
    verifiedCallbackOutcome: (input: { callbackId: string; cancelOrderId: string }) =>
      outcomeOfStoredCallback(db, config, input.callbackId, input.cancelOrderId),

    async repairFromCallback(input: { callbackId: string; cancelOrderId: string }): Promise<RepairMade> {
      const outcome = await outcomeOfStoredCallback(db, config, input.callbackId, input.cancelOrderId);
      if (outcome.kind !== 'cancelled' && outcome.kind !== 'refused')
        return { applied: false, reason: `not final: ${outcome.kind}`, notify: false };
      const by = `verified callback ${input.callbackId}`;
      return whatRepairMade(
        deps,
        input.cancelOrderId,
        await completeRecord(db, input.cancelOrderId, outcome, by),
        by,
      );
    },
  };
}

/** What a repair outside the run leads to, once `completeRecord` answered: for its workflow to carry out. */
export interface RepairMade {
  applied: boolean;
  status?: string;
  reason: string;
  notify: boolean;
  /** The run that shows the repair in Temporal, for the repairing workflow to start. */
  recordRun?: { workflowId: string; input: CancellationInput };
}

/**
 * A record completed outside its run (written now, or by this repair's earlier attempt that died
 * before answering) is shown by a new run of its workflow id and notified; anything else is not.
 */
export async function whatRepairMade(
  deps: Pick<ActivityDeps, 'db' | 'config'>,
  cancelOrderId: string,
  done: Awaited<ReturnType<typeof completeRecord>>,
  by: string,
): Promise<RepairMade> {
  const made = done.written === 'applied' || done.written === 'duplicate';
  const recordRun = made ? await recordRunInput(deps, cancelOrderId, by) : undefined;
  return {
    ...(recordRun ? { recordRun } : {}),
    applied: made,
    status: done.status,
    reason: done.written,
    notify: await notificationDue(deps.db, cancelOrderId, done.written),
  };
}
