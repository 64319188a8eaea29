import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { reconciliationWorkflow } from '../workflows/reconciliation';

export const RECONCILIATION_SCHEDULE_ID = 'nightly-reconciliation';

export interface ReconciliationScheduleOptions {
  scheduleId?: string;
  taskQueue: string;
  cron: string;
  timeZone: string;
  staleAfterHours: number;
}

/**
 * Creates the nightly reconciliation Schedule, or brings an existing one up to date: cron and time
 * zone from config, overlapping runs skipped, missed runs caught up within a day.
 */
export async function ensureReconciliationSchedule(
  client: Client,
  o: ReconciliationScheduleOptions,
): Promise<string> {
  const scheduleId = o.scheduleId ?? RECONCILIATION_SCHEDULE_ID;
  const options = {
    scheduleId,
    spec: { cronExpressions: [o.cron], timezone: o.timeZone },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'reconciliationWorkflow',
      workflowId: `reconcile/${scheduleId}`,
      taskQueue: o.taskQueue,
      args: [{ staleAfterHours: o.staleAfterHours }] as Parameters<typeof reconciliationWorkflow>,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
  } satisfies ScheduleOptions;
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: { ...previous.policies, ...options.policies },
    }));
  }
  return scheduleId;
}
