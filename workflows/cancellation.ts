import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { persistence, providerQuery, providerSubmit } from './activity-options';
import { notificationWorkflow } from './notification';
import { CancelNotification, CancelState } from './search-attributes';
import {
  DEFAULT_TIMINGS,
  notificationWorkflowId,
  type CancellationInput,
  type CancellationSnapshot,
  type CancellationStatus,
  type CancelOutcome,
  type ProviderOutcomeSignal,
  type SeedState,
  type TransitionRecord,
} from './types';

type Activities = ReturnType<typeof createActivities>;
const { recordCancellation, recordTransition } = proxyActivities<Activities>(persistence);
const { submitCancel } = proxyActivities<Activities>(providerSubmit);
const { queryCancel } = proxyActivities<Activities>(providerQuery);

export const statusQuery = defineQuery<CancellationSnapshot>('status');
export const providerOutcomeSignal = defineSignal<[ProviderOutcomeSignal]>('providerOutcome');

/** Over this many history events the run continues as new, carrying its state. */
const HISTORY_LIMIT = 8_000;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One cancellation, start to finish (ARCHITECTURE.md): record → submit → classify → poll with
 * capped exponential backoff (woken early by a verified provider callback) → persist the terminal
 * state → start the notification delivery → return the final snapshot.
 *
 * A cancel whose answer is unknown is never resubmitted blindly: the next step is a query, and
 * only an answer showing the cancel did not land leads to a resubmission. Only a verified
 * provider answer (or a verified callback) ends the run as cancelled.
 */
export async function cancellationWorkflow(input: CancellationInput): Promise<CancellationSnapshot> {
  const timings = { ...DEFAULT_TIMINGS, ...input.timings };
  const { workflowId } = workflowInfo();
  const deadlineAt = input.requestedAt + timings.deadlineMs;
  const resume = input.resume;
  const snapshot: CancellationSnapshot = {
    cancelOrderId: input.cancelOrderId,
    workflowId,
    accountId: input.accountId,
    provider: input.provider,
    mchNo: input.mchNo,
    appId: input.appId,
    order: input.order,
    status: resume?.status ?? 'RECEIVED',
    state: resume?.state ?? 0,
    ...(resume?.providerCancelId ? { providerCancelId: resume.providerCancelId } : {}),
    submits: resume?.submits ?? 0,
    queries: resume?.queries ?? 0,
    requestedAt: input.requestedAt,
    deadlineAt,
  };
  let seq = resume?.seq ?? 0;
  let nextOp: 'submit' | 'query' = resume?.nextOp ?? 'submit';
  let round = resume?.round ?? 0;
  let signalled: ProviderOutcomeSignal | undefined;

  setHandler(statusQuery, () => snapshot);
  setHandler(providerOutcomeSignal, (signal) => {
    // Only a final answer (or news of the provider's cancel id) changes anything.
    const o = signal.outcome;
    if (o.kind === 'cancelled' || o.kind === 'refused') signalled = signal;
    else if (o.kind === 'pending' && o.providerCancelId && !snapshot.providerCancelId)
      snapshot.providerCancelId = o.providerCancelId;
  });

  const transition = async (
    status: CancellationStatus,
    state: SeedState,
    patch: Partial<TransitionRecord>,
    reason?: string,
  ): Promise<void> => {
    Object.assign(snapshot, patch, { status, state });
    seq += 1;
    await recordTransition({
      cancelOrderId: input.cancelOrderId,
      seq,
      status,
      state,
      ...(reason ? { reason: reason.slice(0, 256) } : {}),
      ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
      ...patch,
    });
    upsertSearchAttributes([{ key: CancelState, value: status }]);
  };

  if (!resume) {
    await recordCancellation({ ...input, deadlineAt });
  }

  const finish = async (outcome: CancelOutcome & { kind: 'cancelled' | 'refused' | 'misconfigured' }) => {
    if (outcome.kind === 'cancelled') {
      await transition('SUCCEEDED', 2, {
        ...(outcome.providerCancelId ? { providerCancelId: outcome.providerCancelId } : {}),
        ...(outcome.providerOrderNo ? { providerOrderNo: outcome.providerOrderNo } : {}),
        ...(outcome.channelOrderNo ? { channelOrderNo: outcome.channelOrderNo } : {}),
        ...(outcome.amount ? { amount: outcome.amount } : {}),
        ...(outcome.successTime ? { successTime: outcome.successTime } : {}),
      });
    } else if (outcome.kind === 'refused') {
      await transition(
        outcome.state === 4 ? 'CLOSED' : 'FAILED',
        outcome.state,
        {
          ...(outcome.providerCancelId ? { providerCancelId: outcome.providerCancelId } : {}),
          ...(outcome.channelOrderNo ? { channelOrderNo: outcome.channelOrderNo } : {}),
          errCode: outcome.code,
          errMsg: outcome.message.slice(0, 256),
        },
        outcome.message,
      );
    } else {
      log.error('provider refused our request: check the account configuration', {
        accountId: input.accountId,
        code: outcome.code,
      });
      await transition(
        'FAILED',
        3,
        { errCode: outcome.code, errMsg: outcome.message.slice(0, 256) },
        outcome.message,
      );
    }
    if (input.notifyUrl) {
      const childId = notificationWorkflowId(input.cancelOrderId);
      await startChild(notificationWorkflow, {
        workflowId: childId,
        args: [{ cancelOrderId: input.cancelOrderId, scheduleMs: timings.notificationScheduleMs }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: [{ key: CancelNotification, value: 'pending' }],
      });
      snapshot.notificationWorkflowId = childId;
    }
    return snapshot;
  };

  const target = { cancelOrderId: input.cancelOrderId, accountId: input.accountId, order: input.order };
  // An activity that failed for good (timeout, crash) is an answer we do not know.
  const unknownAfter =
    (what: string) =>
    (err: unknown): CancelOutcome => ({ kind: 'unknown', reason: `${what} failed: ${message(err)}` });

  for (;;) {
    let outcome: CancelOutcome;
    let from: 'submit' | 'query' | 'signal';
    if (signalled) {
      outcome = signalled.outcome;
      from = 'signal';
      log.info('provider outcome signalled', { source: signalled.source, kind: outcome.kind });
      signalled = undefined;
    } else if (nextOp === 'submit') {
      from = 'submit';
      snapshot.submits += 1;
      outcome = await submitCancel({
        ...target,
        ...(input.clientIp ? { clientIp: input.clientIp } : {}),
        ...(input.channelExtra ? { channelExtra: input.channelExtra } : {}),
        ...(input.extParam ? { extParam: input.extParam } : {}),
      }).catch(unknownAfter('submit'));
      if (snapshot.status === 'RECEIVED') await transition('SUBMITTED', 0, {});
    } else {
      from = 'query';
      snapshot.queries += 1;
      outcome = await queryCancel({
        ...target,
        ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
      }).catch(unknownAfter('query'));
    }

    switch (outcome.kind) {
      case 'cancelled':
      case 'refused':
        return finish(outcome);
      case 'misconfigured':
        // A refused cancel did not happen: a final failure. A refused *query* tells us nothing.
        if (from === 'submit') return finish(outcome);
        nextOp = 'query';
        break;
      case 'pending':
        if (outcome.providerCancelId) snapshot.providerCancelId = outcome.providerCancelId;
        nextOp = 'query';
        if (snapshot.status !== 'PENDING' && snapshot.status !== 'UNRESOLVED')
          await transition('PENDING', 1, {}, outcome.reason);
        break;
      case 'resubmit':
        nextOp = 'submit';
        break;
      case 'unknown':
        // We do not know whether the cancel landed: find out before sending it again.
        nextOp = 'query';
        break;
    }

    const now = Date.now();
    if (now >= deadlineAt && snapshot.status !== 'UNRESOLVED') {
      await transition('UNRESOLVED', snapshot.state, {}, `not terminal after ${timings.deadlineMs} ms`);
      // Reconciliation (or a late callback) may still deliver the answer.
      if (await condition(() => signalled !== undefined, timings.unresolvedHoldMs)) continue;
      return snapshot;
    }
    if (snapshot.status === 'UNRESOLVED') return snapshot;

    const delay = Math.min(
      timings.pollMaxMs,
      timings.pollInitialMs * timings.pollMultiplier ** Math.min(round, 30),
      Math.max(deadlineAt - now, 0),
    );
    round += 1;
    await condition(() => signalled !== undefined, delay);

    if (workflowInfo().historyLength > HISTORY_LIMIT && !signalled) {
      await continueAsNew<typeof cancellationWorkflow>({
        ...input,
        resume: {
          seq,
          status: snapshot.status,
          state: snapshot.state,
          ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
          nextOp,
          round,
          submits: snapshot.submits,
          queries: snapshot.queries,
        },
      });
    }
  }
}
