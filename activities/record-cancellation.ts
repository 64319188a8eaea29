import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Knex } from '../common/db';
import { cancellationsStartedTotal } from '../common/metrics';
import {
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationStatus,
  type RecordResult,
  type SeedState,
} from '../contract/cancellation';
import { orderRefsOf } from '../contract/ids';
import {
  applyRepairTransition,
  lastSeq,
  learnOrderRefs,
  snapshotOfRow,
  unresolvedCarry,
  type CancellationRow,
} from './cancellation-rows';

type RequestRow = Pick<CancellationRow, 'notify_url' | 'ext_param' | 'client_ip' | 'channel_extra'>;

/** The merchant's request fields a row keeps that the run's input lacks (`RecordResult.stored`). */
function storedRequest(row: RequestRow, input: CancellationInput) {
  const stored = {
    ...(!input.notifyUrl && row.notify_url ? { notifyUrl: row.notify_url } : {}),
    ...(!input.extParam && row.ext_param ? { extParam: row.ext_param } : {}),
    ...(!input.clientIp && row.client_ip ? { clientIp: row.client_ip } : {}),
    ...(!input.channelExtra && row.channel_extra ? { channelExtra: row.channel_extra } : {}),
  };
  return Object.keys(stored).length > 0 ? { stored } : {};
}

/** The `recordCancellation` activity: the run's first step (see its comment). */
export function createRecordCancellation(db: Knex) {
  /**
   * Postgres decides whether this (app, order) already has a cancellation, by every number the
   * request names the order by. None (or one that failed for our own reasons, or one ops asked
   * to retry): a new cancellation, its id allocated by Postgres. Otherwise that one is returned
   * and nothing is sent again. A retry of this activity finds the row its own run made.
   */
  return async function recordCancellation(
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
    // A cancellation whose run stopped during a revoke or refund: not carried on (see below).
    let stranded: { cancelOrderId: string; via: string } | undefined;
    const result = await db.transaction(async (trx): Promise<RecordResult> => {
      const found = await trx('cancellation_refs as r')
        .join('cancellations as c', 'c.cancel_order_id', 'r.cancel_order_id')
        .where({ 'r.mch_no': input.mchNo, 'r.app_id': input.appId })
        .whereIn('r.order_ref', refs)
        .orderBy('c.created_at')
        .forUpdate()
        .first<CancellationRow | undefined>('c.*');
      let carriedOn: Extract<RecordResult, { kind: 'created' }>['carriedOn'];
      /** Ops asked to retry `found`: the new cancellation keeps what the merchant asked with. */
      let retriedByOps = false;
      if (found) {
        const seqOf = () => lastSeq(trx, found.cancel_order_id);
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
            return {
              kind: 'created',
              cancelOrderId: found.cancel_order_id,
              carriedOn: await takenOver(),
              ...storedRequest(found, input),
            };
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
              ...storedRequest(found, input),
            };
          // New (and, folded, marked sent): nothing has left yet, the run goes on from here.
          return {
            kind: 'created',
            cancelOrderId: found.cancel_order_id,
            ...(input.submitting && found.status === 'SUBMITTED' ? { submitted: true as const } : {}),
            ...storedRequest(found, input),
          };
        }
        const unfinished = !TERMINAL_STATUSES.includes(found.status) && found.status !== 'UNRESOLVED';
        // A revoke or refund begun under this row may have moved money: a new run would not know
        // it (it starts as a cancel: asks getOrder with the cancel's rules, and may send again
        // under a new refund id). Such a row is not carried on (it is made UNRESOLVED, below) and
        // is retried only when ops say they checked at the provider (`moneyChecked`);
        // reconciliation, which asks with the follow-up's rules, settles it otherwise.
        const movingMoney = Boolean(found.follow_up) && (unfinished || found.status === 'UNRESOLVED');
        const takingOver = input.takeOver && unfinished && found.workflow_id === run.workflowId;
        if (takingOver && movingMoney) {
          // Made UNRESOLVED below, after this transaction: what ops look for, and what they may
          // retry once they have checked at the provider.
          stranded = { cancelOrderId: found.cancel_order_id, via: found.follow_up! };
          return { kind: 'existing', snapshot: snapshotOfRow(found) };
        }
        if (takingOver) {
          // The run that owned it stopped without finishing (terminated): this run carries on
          // the same cancellation, same id, asking before sending if anything may be out.
          await trx('cancellations')
            .where({ cancel_order_id: found.cancel_order_id })
            .update({ workflow_run_id: run.runId, updated_at: trx.fn.now() });
          return {
            kind: 'created',
            cancelOrderId: found.cancel_order_id,
            carriedOn: await takenOver(),
            ...storedRequest(found, input),
          };
        }
        const retryAsked = input.retryOf?.cancelOrderId === found.cancel_order_id;
        const again =
          (found.status === 'FAILED' && (found.retryable || (retryAsked && input.retryOf!.force))) ||
          (found.status === 'UNRESOLVED' &&
            retryAsked &&
            input.retryOf!.force &&
            (!movingMoney || input.retryOf!.moneyChecked === true));
        if (!again) return { kind: 'existing', snapshot: snapshotOfRow(found) };
        retriedByOps = retryAsked;
        if (found.status === 'UNRESOLVED')
          // A cancel may be out under the old id: the new one starts by asking, with what we knew.
          carriedOn = unresolvedCarry(found.provider_cancel_id);
        // Kept with its answers (its id still answers queries); the order's numbers move on.
        await trx('cancellations')
          .where({ cancel_order_id: found.cancel_order_id })
          .update({ retired_at: trx.fn.now() });
      }
      // Folded (the run asked for it): a new cancellation is written as sent (seed state 1) in the
      // same statement, before its cancel can leave. So is a retry of an UNRESOLVED one: a cancel
      // may be out under the old id.
      // A retry by ops keeps what the merchant asked with (its notifyUrl above all: the merchant is
      // told how the retried cancellation ended); a merchant's own new request speaks for itself.
      const asked: RequestRow =
        found && retriedByOps
          ? found
          : { notify_url: null, ext_param: null, client_ip: null, channel_extra: null };
      const submitted = input.submitting === true && !carriedOn;
      const sent = submitted || carriedOn !== undefined;
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
          notify_url: input.notifyUrl || asked.notify_url || null,
          ext_param: input.extParam || asked.ext_param || null,
          client_ip: input.clientIp || asked.client_ip || null,
          channel_extra: input.channelExtra || asked.channel_extra || null,
          state: sent ? 1 : 0,
          status: sent ? 'SUBMITTED' : 'RECEIVED',
          provider_cancel_id: carriedOn?.providerCancelId ?? null,
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
      // Its first transitions, in one statement: received, and sent when it was written as sent.
      await trx('cancellation_transitions').insert([
        {
          cancel_order_id: cancelOrderId,
          seq: 0,
          status: 'RECEIVED',
          state: 0,
          reason: input.operatorReason ? `by hand: ${input.operatorReason}`.slice(0, 256) : null,
        },
        ...(sent
          ? [
              {
                cancel_order_id: cancelOrderId,
                seq: 1,
                status: 'SUBMITTED',
                state: 1,
                reason: carriedOn ? 'retry of an UNRESOLVED cancellation: a cancel may already be out' : null,
              },
            ]
          : []),
      ]);
      cancellationsStartedTotal.labels(input.accountId, input.provider).inc();
      return {
        kind: 'created',
        cancelOrderId,
        ...(carriedOn ? { carriedOn } : {}),
        ...(submitted ? { submitted: true as const } : {}),
        ...storedRequest(asked, input),
      };
    });
    if (!stranded) return result;
    // Its run is gone: written as a repair (the next seq, under the row lock).
    await applyRepairTransition(db, {
      cancelOrderId: stranded.cancelOrderId,
      status: 'UNRESOLVED',
      state: 1,
      reason: `run stopped during the ${stranded.via} of the paid order: money may have moved, so not carried on as a cancel; reconciliation settles it, or ops after checking at the provider (retry --force --money-checked)`,
    });
    const row = await db('cancellations')
      .where({ cancel_order_id: stranded.cancelOrderId })
      .first<CancellationRow>();
    return { kind: 'existing', snapshot: snapshotOfRow(row) };
  };
}
