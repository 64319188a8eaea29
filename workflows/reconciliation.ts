import {
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { persistence, reconcilePageOptions } from './activity-options';
import { progressQuery, providerOutcomeSignal } from './definitions';
import { startRecordRun, startRepairNotification } from './record-run';
import {
  RECONCILIATION_CLASSES,
  reconcileTaskQueue,
  type ReconciliationCounts,
  type ReconciliationInput,
  type PageRepair,
  type ReconciliationPageItem,
  type ReconciliationResult,
  type RepairHow,
} from '../contract/reconciliation';

type Activities = ReturnType<typeof createActivities>;
const {
  beginReconciliationRun,
  countReconciliationScope,
  loadReconciliationPage,
  finishReconciliationRun,
  completeReconciliationRepair,
  markReconciliationRepaired,
} = proxyActivities<Activities>(persistence);

/**
 * Runs that take it make the pages' repairs here (signal, or complete the record and start the
 * runs that show and notify it); before it, the page activity made them itself. Never rename it.
 */
const REPAIRS_PATCH = 'reconciliation-repairs-in-workflow';

const emptyCounts = (): ReconciliationCounts =>
  Object.fromEntries(RECONCILIATION_CLASSES.map((c) => [c, 0])) as ReconciliationCounts;

/**
 * Compares our records with the providers' (the nightly Schedule, or `cancelflow reconcile`).
 * Pages through the scope in cancelOrderId order; each page is checked by one activity per
 * account on that account's own task queue, paced by the account's rate limit (shared by all
 * workers through Postgres); at most `concurrency` provider requests are in flight. After `pagesPerRun` pages the run continues as new with its cursor
 * and counts, so 100,000 rows keep a small history; a crashed worker's page is retried once its
 * heartbeats stop, and resumes mid-page (finished checks are not redone, and an item already
 * written is never repaired twice).
 */
export async function reconciliationWorkflow(input: ReconciliationInput = {}): Promise<ReconciliationResult> {
  const info = workflowInfo();
  const pageSize = input.pageSize ?? 500;
  const concurrency = input.concurrency ?? 50;
  const pagesPerRun = input.pagesPerRun ?? 8;
  const parallelPages = Math.max(1, input.parallelPages ?? 4);
  const staleAfterHours = input.staleAfterHours ?? 24;
  const dryRun = input.dryRun ?? false;

  const now = Date.now();
  const state: NonNullable<ReconciliationInput['resume']> = input.resume ?? {
    runId: info.workflowId,
    from: input.from ?? now - 24 * 60 * 60_000,
    to: input.to ?? now,
    after: '',
    counts: emptyCounts(),
    pages: 0,
    total: 0,
  };
  let processed = Object.values(state.counts).reduce((a, b) => a + b, 0);
  setHandler(progressQuery, () => ({
    runId: state.runId,
    processed,
    total: state.total,
    counts: state.counts,
  }));
  const staleBefore = now - staleAfterHours * 60 * 60_000;

  if (!input.resume) {
    state.total = await countReconciliationScope({
      from: state.from,
      to: state.to,
      staleBefore,
      ...(input.accountId ? { accountId: input.accountId } : {}),
    });
    await beginReconciliationRun({
      runId: state.runId,
      from: state.from,
      to: state.to,
      dryRun,
      ...(input.accountId ? { accountId: input.accountId } : {}),
    });
  }

  /**
   * Ours not terminal, the provider's answer final. The running cancellation is woken (the signal
   * carries no outcome: it asks the provider itself); one whose run is gone has its record
   * completed, shown by a new run of its id, and its notification started.
   */
  const repair = async ({ cancelOrderId, workflowId }: PageRepair): Promise<void> => {
    let how: RepairHow;
    try {
      await getExternalWorkflowHandle(workflowId).signal(providerOutcomeSignal, {
        source: 'reconciliation',
        reference: state.runId,
      });
      how = 'signalled';
    } catch (err) {
      log.info('cancellation run not running: the record is completed here', {
        cancelOrderId,
        error: err instanceof Error ? err.message : String(err),
      });
      const done = await completeReconciliationRepair({ runId: state.runId, cancelOrderId });
      how = done.how;
      if (done.recordRun) await startRecordRun(done.recordRun.workflowId, done.recordRun.input);
      if (done.notify) await startRepairNotification(cancelOrderId, done.notify.scheduleMs);
    }
    await markReconciliationRepaired({ runId: state.runId, cancelOrderId, how });
  };

  // Each page is checked by one activity per account on that account's own task queue: the
  // activity asks the provider for every row (paced by the account's shared rate limit) and
  // returns the counts, so the workflow sees a few events per page, not per row. `parallelPages`
  // pages at a time, the `concurrency` checks in flight shared among them.
  const inFlight = new Map<number, Promise<void>>();
  const runPage = async (pageNo: number, items: ReconciliationPageItem[]) => {
    const byAccount = new Map<string, string[]>();
    for (const item of items) {
      const ids = byAccount.get(item.accountId) ?? [];
      ids.push(item.cancelOrderId);
      byAccount.set(item.accountId, ids);
    }
    const results = await Promise.all(
      [...byAccount].map(([accountId, cancelOrderIds]) =>
        proxyActivities<Activities>({
          ...reconcilePageOptions,
          taskQueue: reconcileTaskQueue(info.taskQueue, accountId),
        }).reconcilePage({
          runId: state.runId,
          accountId,
          cancelOrderIds,
          dryRun,
          staleAfterHours,
          concurrency: Math.max(1, Math.ceil(concurrency / parallelPages)),
        }),
      ),
    );
    for (const counts of results) for (const cls of RECONCILIATION_CLASSES) state.counts[cls] += counts[cls];
    const repairs = results.flatMap((r) => r.repairs ?? []);
    // Pages of runs before the patch returned none (they repaired in the activity).
    if (repairs.length > 0 && patched(REPAIRS_PATCH)) for (const r of repairs) await repair(r);
    processed += items.length;
    inFlight.delete(pageNo);
  };

  for (let pagesThisRun = 0; ; pagesThisRun++) {
    if (pagesThisRun >= pagesPerRun) {
      await Promise.all(inFlight.values());
      await continueAsNew<typeof reconciliationWorkflow>({ ...input, resume: state });
    }
    const page = await loadReconciliationPage({
      runId: state.runId,
      from: state.from,
      to: state.to,
      after: state.after,
      limit: pageSize,
      staleBefore,
      ...(input.accountId ? { accountId: input.accountId } : {}),
    });
    if (page.items.length === 0 && !page.more) break;
    state.pages += 1;
    state.after = page.last;
    if (page.items.length > 0) inFlight.set(state.pages, runPage(state.pages, page.items));
    if (inFlight.size >= parallelPages) await Promise.race(inFlight.values());
    if (!page.more) break;
  }
  await Promise.all(inFlight.values());

  await finishReconciliationRun({ runId: state.runId, counts: state.counts });
  return {
    runId: state.runId,
    from: state.from,
    to: state.to,
    dryRun,
    counts: state.counts,
    total: processed,
  };
}
