import { proxyActivities, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { notificationAttempt, persistence } from './activity-options';
import {
  CancelAccount,
  CancelMchNo,
  CancelNotification,
  CancelOrderId,
  CancelOrderRef,
} from './search-attributes';
import { DEFAULT_TIMINGS } from '../contract/cancellation';
import {
  type NotificationAttemptResult,
  type NotificationInput,
  type NotificationResult,
} from '../contract/notification';

type Activities = ReturnType<typeof createActivities>;
const { prepareNotification, beginNotificationRound, finishNotificationRound } =
  proxyActivities<Activities>(persistence);
const { deliverNotificationAttempt } = proxyActivities<Activities>(notificationAttempt);

/**
 * One round of delivery of a cancellation's seed-000 Cancel Notification. The schedule is the
 * retry policy for failed deliveries: each attempt is one activity, and the delays between them
 * are durable timers, so a worker lost between attempts loses no attempt. The activity's own
 * retries cover our faults (Postgres, a lost worker) without sending an attempt twice, so only an
 * exchange with the receiver (or the address policy's refusal) uses an attempt up; a failure that
 * still reaches this workflow (non-retryable) counts as a failed attempt. Started by the
 * cancellation workflow when its own first attempt failed (`carryOn`: the same round, from attempt 2);
 * started again by hand for a redelivery (same id, same signed payload, a new round).
 */
export async function notificationWorkflow(input: NotificationInput): Promise<NotificationResult> {
  const schedule = input.scheduleMs ?? DEFAULT_TIMINGS.notificationScheduleMs;
  const prepared = await prepareNotification({ cancelOrderId: input.cancelOrderId });
  upsertSearchAttributes([
    { key: CancelAccount, value: prepared.accountId },
    { key: CancelMchNo, value: prepared.mchNo },
    { key: CancelOrderRef, value: prepared.orderRef },
    { key: CancelOrderId, value: input.cancelOrderId },
    { key: CancelNotification, value: 'pending' },
  ]);
  // Carrying on the round whose first attempt the cancellation's run made: no new round.
  const round =
    input.carryOn?.round ??
    (await beginNotificationRound({
      notificationId: prepared.notificationId,
      runId: workflowInfo().runId,
    }));
  const from = input.carryOn ? input.carryOn.fromAttempt - 1 : 0;

  let delivered = false;
  let attempts = from;
  for (const [index, delay] of schedule.entries()) {
    if (index < from) continue;
    if (delay > 0) await sleep(delay);
    attempts = index + 1;
    const result = await deliverNotificationAttempt({
      notificationId: prepared.notificationId,
      round,
      attemptNo: attempts,
    }).catch((err: unknown): NotificationAttemptResult => ({
      success: false,
      error: err instanceof Error ? err.message : String(err),
    }));
    if (result.success) {
      delivered = true;
      break;
    }
  }
  await finishNotificationRound({ notificationId: prepared.notificationId, round, delivered });
  upsertSearchAttributes([{ key: CancelNotification, value: delivered ? 'delivered' : 'failed' }]);
  return {
    notificationId: prepared.notificationId,
    cancelOrderId: input.cancelOrderId,
    round,
    delivered,
    attempts,
  };
}
