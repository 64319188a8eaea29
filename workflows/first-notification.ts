import {
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities';
import type { CancellationSnapshot } from '../contract/cancellation';
import { notificationWorkflowId } from '../contract/ids';
import type { NotificationInput } from '../contract/notification';
import { notificationAttempt } from './activity-options';
import { notificationWorkflow } from './notification';
import { CancelNotification } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;
const { deliverFirstNotification } = proxyActivities<Activities>(notificationAttempt);

/** A notification run already started (by hand) no longer fails the cancellation's run. Never rename it. */
const ALREADY_STARTED_PATCH = 'notification-child-already-started';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The notification child: the whole delivery, or (`carryOn`) the rest of a round begun here. */
async function startNotificationChild(
  snapshot: CancellationSnapshot,
  scheduleMs: number[],
  carryOn?: NotificationInput['carryOn'],
): Promise<void> {
  const childId = notificationWorkflowId(snapshot.cancelOrderId);
  const started = await startChild(notificationWorkflow, {
    workflowId: childId,
    args: [{ cancelOrderId: snapshot.cancelOrderId, scheduleMs, ...(carryOn ? { carryOn } : {}) }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: CancelNotification, value: 'pending' }],
  }).then(
    () => true,
    (err: unknown) => {
      // A round started by hand (redelivery) got there first: it delivers, this run goes on. Runs
      // from before failed here, and replay so (the patch is asked only on this path).
      if (err instanceof WorkflowExecutionAlreadyStartedError && patched(ALREADY_STARTED_PATCH)) return false;
      throw err;
    },
  );
  if (!started) log.warn('notification run already started by hand', { workflowId: childId });
  snapshot.notificationWorkflowId = childId;
}

/**
 * The seed-000 Cancel Notification of a cancellation's final state, from its run. Lean runs make
 * the first attempt here (one activity); a failed one with attempts left in the schedule is
 * carried on by the notification workflow, which waits the schedule's delays. Older runs start
 * that workflow for the whole delivery. Records how it went in `snapshot` (notification,
 * notificationWorkflowId).
 */
export async function notifyMerchant(
  snapshot: CancellationSnapshot,
  schedule: number[],
  lean: boolean,
): Promise<void> {
  if (!lean || schedule.length === 0) return startNotificationChild(snapshot, schedule);
  if (schedule[0]! > 0) await sleep(schedule[0]!);
  const first = await deliverFirstNotification
    .executeWithOptions({ summary: 'notify the merchant: attempt 1' }, [
      {
        cancelOrderId: snapshot.cancelOrderId,
        runId: workflowInfo().runId,
        scheduleLength: schedule.length,
      },
    ])
    .catch((err: unknown) => {
      // Failed for good before or outside an exchange (no app, no row): the child's own run
      // does it from the start and shows why in its history.
      log.warn('first notification attempt failed', { error: message(err) });
      return undefined;
    });
  if (first?.finished) {
    snapshot.notification = first.delivered ? 'delivered' : 'failed';
    // Only a failure is searchable on the cancellation's run (CancelNotification = 'failed', as
    // on a notification run): a delivery costs no event, and shows in the run's details.
    if (!first.delivered) upsertSearchAttributes([{ key: CancelNotification, value: 'failed' }]);
  } else {
    snapshot.notification = 'retrying';
    await startNotificationChild(
      snapshot,
      schedule,
      first ? { round: first.round, fromAttempt: 2 } : undefined,
    );
  }
}
