import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { SettleInput } from '../contract/cancellation';
import { persistence } from './activity-options';
import { startRecordRun, startRepairNotification } from './record-run';
import { CancelOrderId, CancelState } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;
const { settleByHand } = proxyActivities<Activities>(persistence);

/**
 * A cancellation settled by hand (`cancelflow settle`, once no run of it is open): ops' verdict
 * written as its final transition, then shown and notified like a repair: a new run of the
 * cancellation's workflow id carries its final state, and the merchant is notified. This run
 * carries the cancellation's id and the state it wrote (SETTLE_REFUSED when it wrote nothing).
 */
export async function settleWorkflow(
  input: SettleInput,
): Promise<{ applied: boolean; status?: string; reason: string }> {
  upsertSearchAttributes([{ key: CancelOrderId, value: input.cancelOrderId }]);
  const result = await settleByHand(input);
  upsertSearchAttributes([{ key: CancelState, value: result.applied ? result.status! : 'SETTLE_REFUSED' }]);
  if (result.recordRun) await startRecordRun(result.recordRun.workflowId, result.recordRun.input);
  if (result.notify) await startRepairNotification(input.cancelOrderId, input.notificationScheduleMs);
  return {
    applied: result.applied,
    ...(result.status ? { status: result.status } : {}),
    reason: result.reason,
  };
}
