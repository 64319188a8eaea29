/**
 * The cancellation workflow's fixed rules (workflows/cancellation.ts): bounds, patch names, which
 * answers mean what, and how a failed activity becomes an answer. Plain values and functions.
 */
import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import type { FinalOutcome } from '../contract/decision';
import { NOT_SENT } from '../contract/failures';
import type { CancellationStatus } from '../contract/cancellation';
import type { CancelOutcome, OrderFacts } from '../providers/types';

/** Signals waiting to be looked at, at most (a flood of made-up references cannot grow the state). */
export const MAX_INBOX = 100;

/** The history limit of runs started before it was frozen into the input (never change it). */
export const UNFROZEN_HISTORY_LIMIT = 8_000;

/**
 * Runs that take it end the merchant's wait only between local activities (see the accept handler).
 * Runs started before it replay with the old wait. Never rename it.
 */
export const ACCEPT_WAIT_PATCH = 'accept-wait-ends-between-local-activities';

/**
 * Runs that take it have the lean shape (BENCHMARKS.md): the merchant's wait has no workflow timer
 * (the client bounds it), the new cancellation is marked sent by the write that records it, and
 * the notification's first attempt is made by this run (a child only carries on after a failure).
 * Runs started before it replay with the old shape. Never rename it.
 */
export const LEAN_PATCH = 'lean-shape-first-attempt-inline';

/** The fields a transition may have set that Postgres's held state replaces (`TransitionHeld`). */
export const HELD_FIELDS = [
  'retryable',
  'payOrderId',
  'amount',
  'providerCancelId',
  'providerOrderNo',
  'channelOrderNo',
  'successTime',
  'errCode',
  'errMsg',
] as const;

/** PayBy's refusals of a paid order's cancel: ORDER_PAID, ORDER_SETTLED. */
export const PAID_CODES = new Set(['62001', '62003']);

/**
 * Answers recorded before the classifiers marked "not found" (`notFound`) carry only PayBy's
 * codes: read for those alone, so that runs of then replay. Never extend it: mark the answer.
 */
const RECORDED_NOT_FOUND_CODES = new Set(['62004', '62035']);

/** The provider does not know the order: nothing more to ask about it. */
export const notFound = (o: FinalOutcome): boolean =>
  o.kind === 'refused' && (o.notFound === true || RECORDED_NOT_FOUND_CODES.has(o.code));

/** Postgres holds a final state another writer made (a repair): the run ends with it. */
export class SettledElsewhere extends Error {
  constructor(readonly status: CancellationStatus) {
    super(`settled outside this run: ${status}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The ApplicationFailure type an activity failed with, if any. */
function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** An activity that failed for good (timeout, crash) is an answer we do not know. */
export const unknownAfter =
  (what: string) =>
  (err: unknown): CancelOutcome => ({
    kind: 'unknown',
    reason: `${what} failed: ${message(err)}`,
    // The request never left (activities/adapters.ts writeAhead): decide() knows nothing changed.
    ...(failureType(err) === NOT_SENT ? { code: NOT_SENT, notSent: true as const } : {}),
  });

/**
 * Runs from before it took any unknown answer with the code NOT_SENT for "our request never left",
 * a provider's own code included (PayBy passes an unrecognised head.code through); they replay so.
 * Since, only the activity's NOT_SENT failure says it (`unknownAfter`). Never rename it.
 */
const NOT_SENT_FROM_ACTIVITY_ONLY_PATCH = 'not-sent-from-the-activity-failure-only';

/** The answer as decide() reads it: a provider's code NOT_SENT is our marker only in runs from before. */
export function notSentAsRecorded(outcome: CancelOutcome): CancelOutcome {
  if (outcome.kind !== 'unknown' || outcome.code !== NOT_SENT || outcome.notSent) return outcome;
  return patched(NOT_SENT_FROM_ACTIVITY_ONLY_PATCH) ? outcome : { ...outcome, notSent: true };
}

/** The order's facts an answer carries (payOrderId, mchOrderNo, amount). */
export function factsOf(outcome: CancelOutcome): OrderFacts {
  if (outcome.kind !== 'cancelled' && outcome.kind !== 'refused' && outcome.kind !== 'pending') return {};
  return {
    ...(outcome.payOrderId ? { payOrderId: outcome.payOrderId } : {}),
    ...(outcome.mchOrderNo ? { mchOrderNo: outcome.mchOrderNo } : {}),
    ...(outcome.amount ? { amount: outcome.amount } : {}),
  };
}
