import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ProviderOutcomeSignal } from '../contract/cancellation';
import { repairWorkflowId } from '../contract/ids';
import { providerOutcomeSignal } from '../workflows/definitions';
import type { repairWorkflow } from '../workflows/repair';

export interface StoredCallback {
  /** The workflow id of the cancellation the callback is about. */
  workflowId: string;
  cancelOrderId: string;
  /** The stored callback's id (`provider_callbacks.id`): the workflow re-reads and re-verifies it. */
  callbackId: string;
}

/**
 * Tells a cancellation that a verified provider callback about it is stored. The signal names the
 * callback and carries no outcome. A cancellation whose workflow has closed is completed by a
 * repair workflow the same way (one per callback: a repeat of the same callback starts none).
 */
export async function signalStoredCallback(
  client: Client,
  options: { taskQueue: string; notificationScheduleMs?: number[] },
  callback: StoredCallback,
): Promise<'signalled' | 'repair'> {
  const signal: ProviderOutcomeSignal = { source: 'callback', reference: callback.callbackId };
  try {
    await client.workflow.getHandle(callback.workflowId).signal(providerOutcomeSignal, signal);
    return 'signalled';
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  await client.workflow
    .start<typeof repairWorkflow>('repairWorkflow', {
      workflowId: repairWorkflowId(callback.cancelOrderId, callback.callbackId),
      taskQueue: options.taskQueue,
      args: [
        {
          cancelOrderId: callback.cancelOrderId,
          callbackId: callback.callbackId,
          ...(options.notificationScheduleMs
            ? { notificationScheduleMs: options.notificationScheduleMs }
            : {}),
        },
      ],
    })
    .catch((e: unknown) => {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    });
  return 'repair';
}
