import { CHANGE_CHANNEL } from '../common/change-feed';
import type { Knex } from '../common/db';
import { orderRefsOf } from '../contract/ids';
import { cancellationsFinishedTotal } from '../common/metrics';
import {
  isSettled,
  TERMINAL_STATUSES,
  type CancellationSnapshot,
  type CancellationStatus,
  type OrderRefs,
  type SeedState,
  type TransitionRecord,
} from '../contract/cancellation';

/** A `cancellations` row as the activities read it. */
export interface CancellationRow {
  cancel_order_id: string;
  workflow_id: string;
  workflow_run_id: string | null;
  mch_no: string;
  app_id: string;
  account_id: string;
  provider: 'payby' | 'unified';
  order_ref: string;
  pay_order_id: string | null;
  mch_order_no: string | null;
  provider_cancel_id: string | null;
  provider_order_no: string | null;
  channel_order_no: string | null;
  amount_minor: string | number | null;
  currency: string | null;
  status: CancellationStatus;
  state: number;
  err_code: string | null;
  err_msg: string | null;
  retryable: boolean;
  created_at: Date;
  success_time: Date | null;
  deadline_at: Date | null;
  notify_url?: string | null;
  ext_param?: string | null;
  client_ip?: string | null;
  channel_extra?: string | null;
  retry_of?: string | null;
  /** A revoke or refund of a paid order was begun under this row (money may have moved). */
  follow_up?: 'revoke' | 'refund' | null;
  retired_at?: Date | null;
}

/**
 * A retry of an UNRESOLVED cancellation: a cancel may be out under the old id, so the new one is
 * written as sent (seq 1) and starts by asking, with the provider's id we knew.
 */
export function unresolvedCarry(providerCancelId: string | null) {
  return {
    status: 'SUBMITTED' as const,
    state: 1 as const,
    seq: 1,
    ...(providerCancelId ? { providerCancelId } : {}),
    mayHaveLanded: true,
  };
}

/** The snapshot of a cancellation as its row tells it (for a request answered from Postgres). */
export function snapshotOfRow(row: CancellationRow): CancellationSnapshot {
  return {
    cancelOrderId: row.cancel_order_id,
    workflowId: row.workflow_id,
    accountId: row.account_id,
    provider: row.provider,
    mchNo: row.mch_no,
    appId: row.app_id,
    order: {
      ...(row.pay_order_id ? { payOrderId: row.pay_order_id } : {}),
      ...(row.mch_order_no ? { mchOrderNo: row.mch_order_no } : {}),
    },
    status: row.status,
    state: row.state as SeedState,
    submits: 0,
    queries: 0,
    requestedAt: row.created_at.getTime(),
    deadlineAt: row.deadline_at?.getTime() ?? row.created_at.getTime(),
    retryable: row.retryable,
    ...(row.provider_cancel_id ? { providerCancelId: row.provider_cancel_id } : {}),
    ...(row.pay_order_id ? { payOrderId: row.pay_order_id } : {}),
    ...(row.provider_order_no ? { providerOrderNo: row.provider_order_no } : {}),
    ...(row.channel_order_no ? { channelOrderNo: row.channel_order_no } : {}),
    ...(row.err_code ? { errCode: row.err_code } : {}),
    ...(row.err_msg ? { errMsg: row.err_msg } : {}),
    ...(row.amount_minor !== null && row.currency
      ? { amount: { minor: Number(row.amount_minor), currency: row.currency } }
      : {}),
    ...(row.success_time ? { successTime: row.success_time.getTime() } : {}),
    ...(row.notify_url ? { notifies: true } : {}),
    ...(row.follow_up ? { followUp: row.follow_up } : {}),
  };
}

/**
 * Names the cancellation by a number of its order that a provider told us (its `payOrderId`, the
 * merchant order number), so a later request by that number finds it. A number already naming
 * another cancellation of the same app stays with that one (two requests by different numbers
 * raced before either was known): reported, never moved.
 */
export async function learnOrderRefs(
  trx: Knex.Transaction,
  row: { cancel_order_id: string; mch_no: string; app_id: string },
  order: OrderRefs,
): Promise<string[]> {
  const refs = orderRefsOf(order);
  if (refs.length === 0) return [];
  await trx('cancellation_refs')
    .insert(
      refs.map((order_ref) => ({
        mch_no: row.mch_no,
        app_id: row.app_id,
        order_ref,
        cancel_order_id: row.cancel_order_id,
      })),
    )
    .onConflict(['mch_no', 'app_id', 'order_ref'])
    .ignore();
  const held: Array<{ order_ref: string; cancel_order_id: string }> = await trx('cancellation_refs')
    .where({ mch_no: row.mch_no, app_id: row.app_id })
    .whereIn('order_ref', refs)
    .whereNot({ cancel_order_id: row.cancel_order_id })
    .select('order_ref', 'cancel_order_id');
  return held.map((h) => `${h.order_ref} → ${h.cancel_order_id}`);
}

/** The highest seq of a cancellation's transitions (0 when it has none). */
export async function lastSeq(db: Knex, cancelOrderId: string): Promise<number> {
  const { max } = (await db('cancellation_transitions')
    .where({ cancel_order_id: cancelOrderId })
    .max({ max: 'seq' })
    .first()) as { max: number | null };
  return Number(max ?? 0);
}

/**
 * A repair's transition (reconciliation, a late callback, a stopped run's record): the next seq,
 * taken under the row lock; a retired record is left alone. See applyTransition.
 */
export function applyRepairTransition(
  db: Knex,
  t: Omit<TransitionRecord, 'seq'>,
  expect?: ExpectedRow,
): Promise<'applied' | 'duplicate' | 'terminal' | 'retired' | 'changed' | 'expired'> {
  return applyTransition(db, { ...t, seq: 0 }, undefined, { repair: true, ...(expect ? { expect } : {}) });
}

/** The row as a repairer saw it when it decided (ops' settle): under the lock, it must still be so. */
export interface ExpectedRow {
  status: string;
  /** The run that owns the row (`workflow_run_id`): a run taking it over changes it. */
  workflowRunId: string | null;
  /** Epoch ms: a decision not written by then is stale (`expired`), whatever the row holds. */
  until: number;
}

/**
 * Writes one transition: the `cancellation_transitions` row (unique by seq, so a retried write
 * is a no-op) and, only when that row is new, the `cancellations` row. Shared by the workflow's
 * activity and by reconciliation's repair of a record whose workflow is gone. A terminal
 * cancellation is never changed: the row is locked and checked first, and the transition is
 * refused (`terminal`) without writing anything — unless it is this very transition, retried
 * (`duplicate`). The northbound query relies on this to cache terminal answers.
 */
export async function applyTransition(
  db: Knex,
  transition: TransitionRecord,
  warn: (fields: object, msg: string) => void = () => {},
  /**
   * A repair of a record whose run is gone (reconciliation, a late callback): its seq is the next
   * one, taken under the row lock (two repairers, or a repair and a run, never take the same one),
   * and a retired record (superseded by a retry) is left alone (`retired`).
   */
  options: { repair?: boolean; expect?: ExpectedRow } = {},
): Promise<'applied' | 'duplicate' | 'terminal' | 'retired' | 'changed' | 'expired'> {
  return db.transaction(async (trx) => {
    const current = await trx('cancellations')
      .where({ cancel_order_id: transition.cancelOrderId })
      .forUpdate()
      .first<
        | (Pick<
            CancellationRow,
            'status' | 'mch_no' | 'app_id' | 'pay_order_id' | 'mch_order_no' | 'retired_at'
          > & { workflow_run_id: string | null })
        | undefined
      >('status', 'mch_no', 'app_id', 'pay_order_id', 'mch_order_no', 'retired_at', 'workflow_run_id');
    if (options.repair && current?.retired_at) return 'retired';
    const t = options.repair
      ? { ...transition, seq: (await lastSeq(trx, transition.cancelOrderId)) + 1 }
      : transition;
    const seen = async () =>
      (await trx('cancellation_transitions')
        .where({ cancel_order_id: t.cancelOrderId, seq: t.seq })
        .first<{ seq: number } | undefined>('seq')) !== undefined;
    // This very transition, retried, is a duplicate even once the record is final.
    if (current && TERMINAL_STATUSES.includes(current.status))
      return (await seen()) ? 'duplicate' : 'terminal';
    // Decided on a row that has moved since (another state, or a run took it over), or too long
    // ago (the lock waited, or the writer's retries outlived the decision): not written.
    const { expect } = options;
    if (expect && Date.now() > expect.until) return 'expired';
    if (
      expect &&
      (!current || current.status !== expect.status || current.workflow_run_id !== expect.workflowRunId)
    )
      return 'changed';
    // The row is locked: a transition with this seq is either committed already (nothing
    // inserted: a retry) or written by this statement.
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
      .returning('seq');
    if (inserted.length === 0) return 'duplicate';
    const updated: Array<{ provider: string; account_id: string }> = await trx('cancellations')
      .where({ cancel_order_id: t.cancelOrderId })
      .update({
        status: t.status,
        state: t.state,
        updated_at: trx.fn.now(),
        ...(t.providerCancelId ? { provider_cancel_id: t.providerCancelId } : {}),
        ...(t.providerOrderNo ? { provider_order_no: t.providerOrderNo } : {}),
        ...(t.payOrderId && current && !current.pay_order_id ? { pay_order_id: t.payOrderId } : {}),
        ...(t.channelOrderNo ? { channel_order_no: t.channelOrderNo } : {}),
        ...(t.errCode !== undefined ? { err_code: t.errCode } : {}),
        ...(t.errMsg !== undefined ? { err_msg: t.errMsg } : {}),
        ...(t.amount ? { amount_minor: t.amount.minor, currency: t.amount.currency } : {}),
        ...(t.successTime ? { success_time: new Date(t.successTime) } : {}),
        ...(t.retryable !== undefined ? { retryable: t.retryable } : {}),
        ...(t.followUp ? { follow_up: t.followUp } : {}),
      })
      // Delivered at commit to every API process keeping answers (common/change-feed.ts).
      .returning(['provider', 'account_id', trx.raw('pg_notify(?, ?)', [CHANGE_CHANNEL, t.cancelOrderId])]);
    // A number the row already holds was offered when it got it (recordCancellation, or an
    // earlier transition): only numbers new to it are offered (none: no statement is sent).
    if (current) {
      const clashes = await learnOrderRefs(
        trx,
        { cancel_order_id: t.cancelOrderId, mch_no: current.mch_no, app_id: current.app_id },
        {
          ...(t.payOrderId && t.payOrderId !== current.pay_order_id ? { payOrderId: t.payOrderId } : {}),
          ...(t.mchOrderNo && t.mchOrderNo !== current.mch_order_no ? { mchOrderNo: t.mchOrderNo } : {}),
        },
      );
      if (clashes.length > 0)
        warn(
          { cancelOrderId: t.cancelOrderId, clashes },
          'an order number of this cancellation already names another cancellation of the same app',
        );
    }
    if (isSettled(t.status))
      for (const row of updated)
        cancellationsFinishedTotal.labels(t.status, row.account_id, row.provider).inc();
    return 'applied';
  });
}
