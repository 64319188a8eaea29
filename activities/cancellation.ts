import { ApplicationFailure, Context } from '@temporalio/activity';
import { CHANGE_CHANNEL } from '../common/change-feed';
import { cancellationsFinishedTotal, cancellationsStartedTotal } from '../common/metrics';
import { orderRefsOf } from '../contract/ids';
import type { CancelOutcome } from '../providers/types';
import { adapterCache, auditExchange, writeAhead } from './adapters';
import {
  isSettled,
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationSnapshot,
  type CancellationStatus,
  type OrderRefs,
  type RecordResult,
  type SeedState,
  type TransitionHeld,
  type TransitionRecord,
} from '../contract/cancellation';
import type { Knex } from '../common/db';
import type { ActivityDeps } from './deps';

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
  retry_of?: string | null;
}

/**
 * A retry of an UNRESOLVED cancellation: a cancel may be out under the old id, so the new one is
 * written as sent (seq 1) and starts by asking, with the provider's id we knew.
 */
function unresolvedCarry(providerCancelId: string | null) {
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
  };
}

/**
 * Names the cancellation by a number of its order that a provider told us (its `payOrderId`, the
 * merchant order number), so a later request by that number finds it. A number already naming
 * another cancellation of the same app stays with that one (two requests by different numbers
 * raced before either was known): reported, never moved.
 */
async function learnOrderRefs(
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
  t: TransitionRecord,
  warn: (fields: object, msg: string) => void = () => {},
): Promise<'applied' | 'duplicate' | 'terminal'> {
  return db.transaction(async (trx) => {
    const current = await trx('cancellations')
      .where({ cancel_order_id: t.cancelOrderId })
      .forUpdate()
      .first<Pick<CancellationRow, 'status' | 'mch_no' | 'app_id' | 'pay_order_id'> | undefined>(
        'status',
        'mch_no',
        'app_id',
        'pay_order_id',
      );
    const seen = await trx('cancellation_transitions')
      .where({ cancel_order_id: t.cancelOrderId, seq: t.seq })
      .first<{ seq: number } | undefined>('seq');
    if (seen) return 'duplicate';
    if (current && TERMINAL_STATUSES.includes(current.status)) return 'terminal';
    await trx('cancellation_transitions').insert({
      cancel_order_id: t.cancelOrderId,
      seq: t.seq,
      status: t.status,
      state: t.state,
      reason: t.reason ?? null,
    });
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
      .returning(['provider', 'account_id']);
    if (current && (t.payOrderId || t.mchOrderNo)) {
      const clashes = await learnOrderRefs(
        trx,
        { cancel_order_id: t.cancelOrderId, mch_no: current.mch_no, app_id: current.app_id },
        {
          ...(t.payOrderId ? { payOrderId: t.payOrderId } : {}),
          ...(t.mchOrderNo ? { mchOrderNo: t.mchOrderNo } : {}),
        },
      );
      if (clashes.length > 0)
        warn(
          { cancelOrderId: t.cancelOrderId, clashes },
          'an order number of this cancellation already names another cancellation of the same app',
        );
    }
    // Delivered at commit to every API process keeping answers (common/change-feed.ts).
    await trx.raw('select pg_notify(?, ?)', [CHANGE_CHANNEL, t.cancelOrderId]);
    if (isSettled(t.status))
      for (const row of updated)
        cancellationsFinishedTotal.labels(t.status, row.account_id, row.provider).inc();
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
    if (result.exchange) await auditExchange(db, logger, input.cancelOrderId, account, result.exchange);
    logger.info(
      { cancelOrderId: input.cancelOrderId, account: account.id, operation, outcome: result.outcome.kind },
      'provider answered',
    );
    return result.outcome;
  };

  return {
    /**
     * Postgres decides whether this (app, order) already has a cancellation, by every number the
     * request names the order by. None (or one that failed for our own reasons, or one ops asked
     * to retry): a new cancellation, its id allocated by Postgres. Otherwise that one is returned
     * and nothing is sent again. A retry of this activity finds the row its own run made.
     */
    async recordCancellation(
      input: CancellationInput & { deadlineAt: number; submitting?: boolean },
    ): Promise<RecordResult> {
      const run = Context.current().info.workflowExecution;
      if (!run)
        throw ApplicationFailure.nonRetryable('recordCancellation runs inside a workflow', 'NO_WORKFLOW');
      if (input.recorded) {
        // A run that only shows a repaired record (activities/record-run.ts): it reads, never creates.
        const row = await db('cancellations')
          .where({ cancel_order_id: input.recorded.cancelOrderId, mch_no: input.mchNo, app_id: input.appId })
          .first<CancellationRow | undefined>();
        if (!row)
          throw ApplicationFailure.nonRetryable(
            `no cancellation ${input.recorded.cancelOrderId} of ${input.mchNo}/${input.appId} to show`,
            'NOT_FOUND',
          );
        return { kind: 'existing', snapshot: snapshotOfRow(row) };
      }
      const refs = orderRefsOf(input.order);
      return db.transaction(async (trx) => {
        const found = await trx('cancellation_refs as r')
          .join('cancellations as c', 'c.cancel_order_id', 'r.cancel_order_id')
          .where({ 'r.mch_no': input.mchNo, 'r.app_id': input.appId })
          .whereIn('r.order_ref', refs)
          .orderBy('c.created_at')
          .forUpdate()
          .first<CancellationRow | undefined>('c.*');
        let carriedOn: Extract<RecordResult, { kind: 'created' }>['carriedOn'];
        if (found) {
          const seqOf = async () =>
            Number(
              (
                (await trx('cancellation_transitions')
                  .where({ cancel_order_id: found.cancel_order_id })
                  .max({ max: 'seq' })
                  .first()) as { max: number | null }
              ).max ?? 0,
            );
          /** Carrying on a cancellation whose run stopped: what may have been sent counts. */
          const takenOver = async () => ({
            status: found.status,
            state: found.state as SeedState,
            seq: await seqOf(),
            ...(found.provider_cancel_id ? { providerCancelId: found.provider_cancel_id } : {}),
            mayHaveLanded: found.status !== 'RECEIVED',
          });
          if (found.workflow_run_id === run.runId) {
            // A retry of this activity: its first attempt committed; the answer is what it was.
            if (found.created_at.getTime() !== input.requestedAt)
              // It took over a stopped run's cancellation (the row is older than this run).
              return { kind: 'created', cancelOrderId: found.cancel_order_id, carriedOn: await takenOver() };
            const retired = found.retry_of
              ? await trx('cancellations')
                  .where({ cancel_order_id: found.retry_of })
                  .first<{ status: CancellationStatus } | undefined>('status')
              : undefined;
            if (retired?.status === 'UNRESOLVED')
              // A retry of an UNRESOLVED one, written as sent: it asks before it sends.
              return {
                kind: 'created',
                cancelOrderId: found.cancel_order_id,
                carriedOn: { ...unresolvedCarry(found.provider_cancel_id), seq: await seqOf() },
              };
            // New (and, folded, marked sent): nothing has left yet, the run goes on from here.
            return {
              kind: 'created',
              cancelOrderId: found.cancel_order_id,
              ...(input.submitting && found.status === 'SUBMITTED' ? { submitted: true as const } : {}),
            };
          }
          const unfinished = !TERMINAL_STATUSES.includes(found.status) && found.status !== 'UNRESOLVED';
          if (input.takeOver && unfinished && found.workflow_id === run.workflowId) {
            // The run that owned it stopped without finishing (terminated): this run carries on
            // the same cancellation, same id, asking before sending if anything may be out.
            await trx('cancellations')
              .where({ cancel_order_id: found.cancel_order_id })
              .update({ workflow_run_id: run.runId, updated_at: trx.fn.now() });
            return { kind: 'created', cancelOrderId: found.cancel_order_id, carriedOn: await takenOver() };
          }
          const retryAsked = input.retryOf?.cancelOrderId === found.cancel_order_id;
          const again =
            (found.status === 'FAILED' && (found.retryable || (retryAsked && input.retryOf!.force))) ||
            (found.status === 'UNRESOLVED' && retryAsked && input.retryOf!.force);
          if (!again) return { kind: 'existing', snapshot: snapshotOfRow(found) };
          if (found.status === 'UNRESOLVED')
            // A cancel may be out under the old id: the new one starts by asking, with what we knew.
            carriedOn = unresolvedCarry(found.provider_cancel_id);
          // Kept with its answers (its id still answers queries); the order's numbers move on.
          await trx('cancellations')
            .where({ cancel_order_id: found.cancel_order_id })
            .update({ retired_at: trx.fn.now() });
        }
        const [row] = await trx('cancellations')
          .insert({
            cancel_order_id: trx.raw('next_cancel_order_id()'),
            workflow_id: run.workflowId,
            workflow_run_id: run.runId,
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
            retry_of: found?.cancel_order_id ?? null,
            created_at: new Date(input.requestedAt),
            updated_at: new Date(input.requestedAt),
            deadline_at: new Date(input.deadlineAt),
          })
          .returning<Array<{ cancel_order_id: string }>>('cancel_order_id');
        const cancelOrderId = row!.cancel_order_id;
        if (found) {
          // Every number the retired one was known by now names the new one.
          await trx('cancellation_refs')
            .where({ cancel_order_id: found.cancel_order_id })
            .update({ cancel_order_id: cancelOrderId });
        }
        const clashes = await learnOrderRefs(
          trx,
          { cancel_order_id: cancelOrderId, mch_no: input.mchNo, app_id: input.appId },
          input.order,
        );
        if (clashes.length > 0) {
          // Another request for the same order by another of its numbers won the race: roll back
          // and let the retry of this activity find that cancellation.
          const message = `order numbers already name another cancellation: ${clashes.join(', ')}`;
          // A race resolves on the next attempt; numbers split between two cancellations do not.
          if (Context.current().info.attempt >= 5)
            throw ApplicationFailure.nonRetryable(message, 'ORDER_NUMBERS_SPLIT');
          throw ApplicationFailure.retryable(message, 'ORDER_RACE');
        }
        await trx('cancellation_transitions').insert({
          cancel_order_id: cancelOrderId,
          seq: 0,
          status: 'RECEIVED',
          state: 0,
          reason: input.operatorReason ? `by hand: ${input.operatorReason}`.slice(0, 256) : null,
        });
        if (carriedOn) {
          await trx('cancellation_transitions').insert({
            cancel_order_id: cancelOrderId,
            seq: 1,
            status: 'SUBMITTED',
            state: 1,
            reason: 'retry of an UNRESOLVED cancellation: a cancel may already be out',
          });
          await trx('cancellations')
            .where({ cancel_order_id: cancelOrderId })
            .update({
              status: 'SUBMITTED',
              state: 1,
              ...(carriedOn.providerCancelId ? { provider_cancel_id: carriedOn.providerCancelId } : {}),
            });
        }
        // Folded (the run asked for it): a new cancellation is marked sent (seed state 1) in the
        // same transaction, before its cancel can leave — one write instead of two.
        const submitted = input.submitting === true && !carriedOn;
        if (submitted) {
          await trx('cancellation_transitions').insert({
            cancel_order_id: cancelOrderId,
            seq: 1,
            status: 'SUBMITTED',
            state: 1,
            reason: null,
          });
          await trx('cancellations')
            .where({ cancel_order_id: cancelOrderId })
            .update({ status: 'SUBMITTED', state: 1 });
        }
        cancellationsStartedTotal.labels(input.accountId, input.provider).inc();
        return {
          kind: 'created',
          cancelOrderId,
          ...(carriedOn ? { carriedOn } : {}),
          ...(submitted ? { submitted: true as const } : {}),
        };
      });
    },

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
