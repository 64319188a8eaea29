import { patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { startRecordRun, startRepairNotification } from './record-run';
import type { createActivities } from '../activities';
import { persistence } from './activity-options';
import { CancelOrderId, CancelState } from './search-attributes';
import { type RepairInput } from '../contract/cancellation';

type Activities = ReturnType<typeof createActivities>;
const { repairFromCallback } = proxyActivities<Activities>(persistence);

/**
 * A verified provider callback for a cancellation whose workflow has closed (after its UNRESOLVED
 * hold, or terminated by hand): re-verified from the stored raw body, written with the same
 * transition the workflow would have made, notified the same way, and visible in Temporal (this
 * run carries the cancellation's id and its new state).
 */
export async function repairWorkflow(input: RepairInput): Promise<{ applied: boolean; reason: string }> {
  upsertSearchAttributes([{ key: CancelOrderId, value: input.cancelOrderId }]);
  const result = await repairFromCallback({
    callbackId: input.callbackId,
    cancelOrderId: input.cancelOrderId,
  });
  upsertSearchAttributes([{ key: CancelState, value: result.applied ? result.status! : 'REPAIR_SKIPPED' }]);
  // The run that shows the repair under the cancellation's own id. Runs before the patch had it
  // started by the activity (whose result then carried no `recordRun`). Never rename it.
  if (result.recordRun && patched('repair-record-run-in-workflow'))
    await startRecordRun(result.recordRun.workflowId, result.recordRun.input);
  // A notification run of the id already open is left to carry on. Runs from before the patch
  // failed on it; they replay as they ran. Never rename it.
  if (result.notify)
    await startRepairNotification(
      input.cancelOrderId,
      input.notificationScheduleMs,
      patched('repair-notification-unless-running'),
    );
  return { applied: result.applied, reason: result.reason };
}
