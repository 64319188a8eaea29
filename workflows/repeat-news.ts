import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { log, ParentClosePolicy, patched, startChild } from '@temporalio/workflow';
import type { RepairInput } from '../contract/cancellation';
import { repairWorkflowId } from '../contract/ids';
import type { CancellationRun } from './cancellation-run';

/**
 * Runs from before it ended with the news a repeat run received unread (a provider callback was
 * then applied only by the next reconciliation). Never rename it.
 */
const REPEAT_FORWARDS_NEWS_PATCH = 'repeat-run-forwards-provider-news';

/**
 * A run that only answered a repeated request from the record (the cancellation's own run had
 * closed) may still be sent the news meant for that run: the API signals the open run of the
 * cancellation's workflow id, and this is it. A verified provider callback is handed to a repair
 * run, as the API does when no run is open (`repair/<cancelOrderId>/<callbackId>`, once per
 * callback); reconciliation's request to ask now is left to the next reconciliation, which finds
 * the row as it was (logged, not lost silently).
 */
export async function forwardRepeatNews(run: CancellationRun): Promise<void> {
  if (run.inbox.length === 0 || !patched(REPEAT_FORWARDS_NEWS_PATCH)) return;
  const { cancelOrderId } = run.snapshot;
  // Until none is left: news that arrives while a repair is being started is forwarded too.
  for (let news = run.inbox.shift(); news; news = run.inbox.shift()) {
    if (news.source !== 'callback') {
      log.warn('a reconciliation request reached a run that only answered a repeat: not acted on', {
        cancelOrderId,
        reference: news.reference,
      });
      continue;
    }
    const input: RepairInput = {
      cancelOrderId,
      callbackId: news.reference,
      notificationScheduleMs: run.timings.notificationScheduleMs,
    };
    await startChild('repairWorkflow', {
      workflowId: repairWorkflowId(cancelOrderId, news.reference),
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    }).catch((err: unknown) => {
      // The API (or an earlier run) started it already: one repair per callback.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    });
  }
}
