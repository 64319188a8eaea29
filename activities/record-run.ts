import { DEFAULT_HISTORY_LIMIT, DEFAULT_TIMINGS, type CancellationInput } from '../contract/cancellation';
import type { ActivityDeps } from './deps';

/**
 * After a repair outside the workflow (reconciliation, a late provider callback) completed the
 * record of a cancellation whose run had closed, a new run under the same workflow id records it
 * in Temporal: it reads the row (nothing is sent to anyone) and carries the final `CancelState`,
 * `CancelOrderId` and the repair in its details, so the newest run of the id tells the truth. A
 * closed run's search attributes cannot be changed; this is how Temporal shows the repair.
 *
 * This builds that run's input from the row; the repairing workflow starts it
 * (workflows/record-run.ts), never while a run of the id is still open.
 */
export async function recordRunInput(
  { db, config }: Pick<ActivityDeps, 'db' | 'config'>,
  cancelOrderId: string,
  repairedBy: string,
): Promise<{ workflowId: string; input: CancellationInput } | undefined> {
  const row = await db('cancellations').where({ cancel_order_id: cancelOrderId }).first<
    | {
        workflow_id: string;
        account_id: string;
        provider: 'payby' | 'unified';
        mch_no: string;
        app_id: string;
        order_ref: string;
        notify_url: string | null;
      }
    | undefined
  >('workflow_id', 'account_id', 'provider', 'mch_no', 'app_id', 'order_ref', 'notify_url');
  if (!row) return undefined;
  // The order as it was asked for: its reference is one of the row's own (cancellation_refs).
  const ref = row.order_ref;
  const order = ref.startsWith('pay:') ? { payOrderId: ref.slice(4) } : { mchOrderNo: ref.slice(4) };
  return {
    workflowId: row.workflow_id,
    input: {
      accountId: row.account_id,
      provider: row.provider,
      mchNo: row.mch_no,
      appId: row.app_id,
      order,
      orderRef: ref,
      // Shown in the run's details only: this run reads the row and notifies nobody.
      ...(row.notify_url ? { notifyUrl: row.notify_url } : {}),
      requestedAt: Date.now(),
      timings: { ...DEFAULT_TIMINGS, ...config.timings },
      historyLimit: DEFAULT_HISTORY_LIMIT,
      recorded: { cancelOrderId, by: repairedBy },
    },
  };
}
