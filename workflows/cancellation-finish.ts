/**
 * How a cancellation run ends once an answer decided it (workflows/cancellation.ts): a paid order's
 * follow-up, the order's missing facts, the final transition, the merchant's notification.
 */
import {
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { CancellationSnapshot, TransitionRecord } from '../contract/cancellation';
import { finalStatusOf, type FinalOutcome } from '../contract/decision';
import type { OrderFacts } from '../providers/types';
import { providerQuery } from './activity-options';
import type { CancellationRun } from './cancellation-run';
import { factsOf, notFound, PAID_CODES, unknownAfter } from './cancellation-rules';
import { notifyMerchant } from './first-notification';
import { followUpPaidOrder } from './follow-up';
import { CancelFollowUp } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;
const { queryCancel } = proxyActivities<Activities>(providerQuery);

/** The order's own facts (payOrderId, amount) when the deciding answer did not carry them. */
async function completeFacts(run: CancellationRun, outcome: FinalOutcome): Promise<OrderFacts> {
  const facts = factsOf(outcome);
  if (outcome.kind === 'misconfigured' || notFound(outcome)) return facts;
  if (facts.amount && (facts.payOrderId ?? run.input.order.payOrderId)) return facts;
  run.snapshot.queries += 1;
  const extra = await queryCancel(run.target()).catch(unknownAfter('query'));
  return { ...factsOf(extra), ...facts };
}

/**
 * A paid order refused by PayBy (62001/62003), under an app policy that reverses it: revoke or
 * refund (workflows/follow-up.ts). Returns the outcome to persist, or undefined when it ended
 * UNRESOLVED.
 */
async function followUp(
  run: CancellationRun,
  refusal: Extract<FinalOutcome, { kind: 'refused' }>,
): Promise<FinalOutcome | undefined> {
  const { input, snapshot } = run;
  const end = await followUpPaidOrder({
    cancelOrderId: snapshot.cancelOrderId,
    accountId: input.accountId,
    order: { ...input.order, ...(refusal.payOrderId ? { payOrderId: refusal.payOrderId } : {}) },
    policy: input.paidOrders!,
    deadlineAt: run.deadlineAt,
    timings: run.timings,
    local: run.local.bind(run),
    onStart: async (via, reason) => {
      snapshot.followUp = via;
      upsertSearchAttributes([{ key: CancelFollowUp, value: via }]);
      await run.transition('PENDING', 1, { followUp: via }, reason);
    },
  });
  switch (end.kind) {
    case 'done':
      return {
        kind: 'cancelled',
        channelOrderNo: end.channelOrderNo,
        successTime: end.successTime,
        ...(end.amount ? { amount: end.amount } : {}),
        ...(refusal.payOrderId ? { payOrderId: refusal.payOrderId } : {}),
      };
    case 'refused':
      return { ...refusal, code: end.code, message: end.message };
    case 'misconfigured':
      return { kind: 'misconfigured', code: end.code, message: end.message };
    case 'declined':
      return { ...refusal, message: `${refusal.message}: ${end.reason}` };
    case 'unresolved':
      await run.giveUp(end.reason);
      return undefined;
  }
}

/** Persists the final state the answer decided, notifies the merchant, and ends the run. */
export async function finish(run: CancellationRun, decided: FinalOutcome): Promise<CancellationSnapshot> {
  const { input, snapshot } = run;
  let outcome = decided;
  if (
    decided.kind === 'refused' &&
    input.provider === 'payby' &&
    input.paidOrders &&
    PAID_CODES.has(decided.code)
  ) {
    const followed = await followUp(run, decided);
    if (!followed) {
      run.answered = true;
      await condition(allHandlersFinished);
      return snapshot;
    }
    outcome = followed;
  }
  const { status, state, retryable } = finalStatusOf(outcome);
  if (outcome.kind !== 'misconfigured' && outcome.providerCancelId)
    snapshot.providerCancelId = outcome.providerCancelId;
  const facts = await completeFacts(run, outcome);
  const patch: Partial<TransitionRecord> = {
    ...(facts.payOrderId ? { payOrderId: facts.payOrderId } : {}),
    ...(facts.mchOrderNo ? { mchOrderNo: facts.mchOrderNo } : {}),
    ...(facts.amount ? { amount: facts.amount } : {}),
  };
  if (outcome.kind === 'cancelled') {
    await run.transition(status, state, {
      ...patch,
      ...(outcome.providerCancelId ? { providerCancelId: outcome.providerCancelId } : {}),
      ...(outcome.providerOrderNo ? { providerOrderNo: outcome.providerOrderNo } : {}),
      ...(outcome.channelOrderNo ? { channelOrderNo: outcome.channelOrderNo } : {}),
      ...(outcome.successTime ? { successTime: outcome.successTime } : {}),
    });
  } else if (outcome.kind === 'refused') {
    await run.transition(
      status,
      state,
      {
        ...patch,
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
    await run.transition(
      status,
      state,
      { errCode: outcome.code, errMsg: outcome.message.slice(0, 256), retryable },
      outcome.message,
    );
  }
  run.answered = true;
  if (input.notifyUrl) {
    // The seed-000 Cancel Notification of the final state (workflows/first-notification.ts).
    await notifyMerchant(snapshot, run.timings.notificationScheduleMs, run.lean);
    run.showDetails();
  }
  await condition(allHandlersFinished);
  return snapshot;
}
