import { WorkflowNotFoundError } from '@temporalio/client';
import { CancelflowError } from '../common/errors';
import { notificationWorkflowId } from '../contract/ids';
import { statusQuery } from '../workflows/definitions';
import type { notificationWorkflow } from '../workflows/notification';
import { CancelNotification } from '../workflows/search-attributes';
import { TERMINAL_STATUSES } from '../contract/cancellation';
import type { CancelflowClientOptions } from './types';
import { type runsOf } from './runs';

/** Redelivery by hand of a cancellation's notification. */
export function createRedelivery(
  options: CancelflowClientOptions,
  handleOf: ReturnType<typeof runsOf>['handleOf'],
) {
  const { client } = options;
  const taskQueue = options.config.temporal.taskQueue;
  /**
   * A fresh round of notification attempts for a terminal cancellation: same notification id,
   * same signed payload. Refused while a round is running.
   */
  async function redeliverNotification(
    cancelOrderId: string,
    scheduleMs?: number[],
  ): Promise<{ workflowId: string }> {
    const workflowId = notificationWorkflowId(cancelOrderId);
    const child = await client.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        (d) => d.status.name,
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return 'NONE';
          throw err;
        },
      );
    if (child === 'RUNNING')
      throw new CancelflowError('DELIVERING', `a delivery round for ${cancelOrderId} is still running`);
    if (child === 'NONE') {
      // No notification run: the cancellation's own run made the only round so far (its first
      // attempt delivered, or was the schedule's only one), is making it, or there is none.
      const run = await handleOf(cancelOrderId);
      const described = await run.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError)
          throw new CancelflowError('NOT_FOUND', `no cancellation ${cancelOrderId}`);
        throw err;
      });
      const noNotification = () =>
        new CancelflowError(
          'NOT_FOUND',
          `cancellation ${cancelOrderId} has no notification to redeliver (yet)`,
        );
      switch (described.status.name) {
        case 'RUNNING': {
          // Making its first attempt (or not final yet): a second round now would race it.
          const now = await run.query(statusQuery);
          if (TERMINAL_STATUSES.includes(now.status))
            throw new CancelflowError(
              'DELIVERING',
              `the run of ${cancelOrderId} is making its notification's first attempt`,
            );
          throw noNotification();
        }
        case 'COMPLETED':
        case 'CONTINUED_AS_NEW': {
          const last = await run.result();
          if (
            !TERMINAL_STATUSES.includes(last.status) ||
            (last.notification === undefined && !last.notificationWorkflowId && last.notifies !== true)
          )
            throw noNotification();
          break;
        }
        default:
        // Stopped by hand (terminated, cancelled), maybe during the first attempt: Temporal cannot
        // tell what is owed. The notification workflow reads the row and delivers only a final
        // state to its notifyUrl (refused, visibly, otherwise).
      }
    }
    const schedule = scheduleMs ?? options.timings?.notificationScheduleMs;
    await client.workflow.start<typeof notificationWorkflow>('notificationWorkflow', {
      workflowId,
      taskQueue,
      args: [{ cancelOrderId, ...(schedule ? { scheduleMs: schedule } : {}) }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [{ key: CancelNotification, value: 'pending' }],
    });
    return { workflowId };
  }

  return redeliverNotification;
}
