import type { Client } from '@temporalio/client';
import { CancelflowError } from '../common/errors';
import type { CancellationSnapshot } from '../contract/cancellation';
import type { cancellationWorkflow } from '../workflows/cancellation';
import type { AppScope } from './types';

/** A string literal of a visibility query. */
export const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** Finding a cancellation's run, and keeping an app to its own cancellations. */
export function runsOf(client: Client) {
  /** The run that owns a cancelOrderId (a workflow id may hold several runs: retries, repeats). */
  const handleOf = async (idOrCancelOrderId: string) => {
    if (idOrCancelOrderId.startsWith('cancel/'))
      return client.workflow.getHandle<typeof cancellationWorkflow>(idOrCancelOrderId);
    for await (const execution of client.workflow.list({
      query: `WorkflowType = 'cancellationWorkflow' AND CancelOrderId = ${quote(idOrCancelOrderId)}`,
      pageSize: 1,
    })) {
      return client.workflow.getHandle<typeof cancellationWorkflow>(execution.workflowId, execution.runId);
    }
    throw new CancelflowError('NOT_FOUND', `no cancellation ${idOrCancelOrderId}`);
  };
  const inScope = (snapshot: CancellationSnapshot, id: string, scope?: AppScope): CancellationSnapshot => {
    if (scope && (snapshot.mchNo !== scope.mchNo || snapshot.appId !== scope.appId))
      throw new CancelflowError('NOT_FOUND', `no cancellation ${id} for app ${scope.mchNo}/${scope.appId}`);
    return snapshot;
  };
  return { handleOf, inScope };
}
