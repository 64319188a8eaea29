import { log, ParentClosePolicy, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { CancellationInput } from '../contract/cancellation';
import { notificationWorkflowId } from '../contract/ids';
import { cancellationWorkflow } from './cancellation';
import { notificationWorkflow } from './notification';
import { CancelNotification } from './search-attributes';
import { cancellationStartLabels } from './start-options';

/** A child already there (a run of that id is open): it reads Postgres itself, nothing to add. */
const unlessRunning = (what: string, workflowId: string) => (err: unknown) => {
  if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  log.info(`${what} not started: a run of its id is open`, { workflowId });
};

/**
 * The run that shows a repaired record in Temporal (activities/record-run.ts builds its input):
 * a new run of the cancellation's workflow id that reads the row and notifies nobody.
 */
export async function startRecordRun(workflowId: string, input: CancellationInput): Promise<void> {
  await startChild(cancellationWorkflow, {
    workflowId,
    args: [input],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    ...cancellationStartLabels(input, 'REPAIRED'),
  }).catch(unlessRunning('record run', workflowId));
}

/**
 * The notification of a repaired cancellation: the same notification workflow as its run's. A run
 * of its id already open reads Postgres itself; runs of the repair workflow from before the patch
 * in workflows/repair.ts failed on it instead (`tolerateRunning` false keeps their replay).
 */
export async function startRepairNotification(
  cancelOrderId: string,
  scheduleMs?: number[],
  tolerateRunning = true,
): Promise<void> {
  const workflowId = notificationWorkflowId(cancelOrderId);
  const started = startChild(notificationWorkflow, {
    workflowId,
    args: [{ cancelOrderId, ...(scheduleMs ? { scheduleMs } : {}) }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: CancelNotification, value: 'pending' }],
  });
  await (tolerateRunning ? started.catch(unlessRunning('notification', workflowId)) : started);
}
