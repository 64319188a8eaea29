import { WorkflowNotFoundError } from '@temporalio/client';
import { notificationWorkflowId } from '../../contract/ids';
import { type ProviderOutcomeSignal } from '../../contract/cancellation';
import { providerOutcomeSignal } from '../../workflows/definitions';
import { completeRecord } from '../callbacks';
import type { ActivityDeps } from '../deps';
import { recordRepairInTemporal } from '../record-run';
import type { ReconciliationRow, RepairOutcome } from './classify';

export type RepairResult = 'signalled' | 'already terminal' | 'completed';

/** Ours not terminal, the provider's answer final: wake the workflow, or complete the record it left. */
export function createRepair(deps: ActivityDeps) {
  const { db, config, temporal } = deps;
  return async function repair(
    row: Pick<ReconciliationRow, 'cancel_order_id' | 'workflow_id' | 'notify_url'>,
    outcome: RepairOutcome,
    runId: string,
  ): Promise<RepairResult> {
    // The signal carries no outcome: the running workflow asks the provider itself.
    const signal: ProviderOutcomeSignal = { source: 'reconciliation', reference: runId };
    if (!temporal) throw new Error('reconciliation repairs need a Temporal client in the activity deps');
    try {
      await temporal.workflow.getHandle(row.workflow_id).signal(providerOutcomeSignal, signal);
      return 'signalled';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // The workflow is gone (finished UNRESOLVED, or never ran): the same transition write it would
    // have made, then the same notification workflow.
    const { written } = await completeRecord(
      db,
      row.cancel_order_id,
      outcome,
      `repaired by reconciliation ${runId}`,
    );
    // Finished by its own workflow since the page read it: that workflow notified, not us.
    if (written === 'terminal') return 'already terminal';
    if (written === 'applied')
      await recordRepairInTemporal(deps, row.cancel_order_id, `reconciliation ${runId}`);
    if (row.notify_url) {
      await temporal.workflow.start('notificationWorkflow', {
        workflowId: notificationWorkflowId(row.cancel_order_id),
        taskQueue: config.temporal.taskQueue,
        args: [
          {
            cancelOrderId: row.cancel_order_id,
            ...(config.timings?.notificationScheduleMs
              ? { scheduleMs: config.timings.notificationScheduleMs }
              : {}),
          },
        ],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    }
    return 'completed';
  };
}
