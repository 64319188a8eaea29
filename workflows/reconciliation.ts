import {
  continueAsNew,
  defineQuery,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { persistence, reconcileCheck } from './activity-options';
import {
  RECONCILIATION_CLASSES,
  reconcileTaskQueue,
  type ReconciliationClass,
  type ReconciliationCounts,
  type ReconciliationInput,
  type ReconciliationPageItem,
  type ReconciliationResult,
} from './types';

type Activities = ReturnType<typeof createActivities>;
const { beginReconciliationRun, countReconciliationScope, loadReconciliationPage, finishReconciliationRun } =
  proxyActivities<Activities>(persistence);

export interface ReconciliationProgress {
  runId: string;
  processed: number;
  /** Size of the scope when the run began (rows changed since may make processed differ). */
  total: number;
  counts: ReconciliationCounts;
}
export const progressQuery = defineQuery<ReconciliationProgress>('progress');

const emptyCounts = (): ReconciliationCounts =>
  Object.fromEntries(RECONCILIATION_CLASSES.map((c) => [c, 0])) as ReconciliationCounts;

/**
 * Compares our records with the providers' (the nightly Schedule, or `cancelflow reconcile`).
 * Pages through the scope in cancelOrderId order; each cancellation is one activity on its
 * account's own task queue, whose worker enforces the account's rate limit; at most
 * `concurrency` are in flight. After `pagesPerRun` pages the run continues as new with its cursor
 * and counts, so 100,000 rows keep a small history; a crashed worker resumes mid-page (finished
 * checks are not redone, and an item already written is never repaired twice).
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

  // Pages are checked by child workflows, `parallelPages` at a time: each row's check is an
  // activity, and one workflow can only take its activity results one task at a time, so several
  // pages in parallel keep the provider's rate limit, not the workflow, the bound.
  const inFlight = new Map<number, Promise<void>>();
  const runPage = (pageNo: number, items: ReconciliationPageItem[]) =>
    executeChild(reconcilePageWorkflow, {
      workflowId: `${state.runId}/page/${pageNo}`,
      args: [
        {
          runId: state.runId,
          items,
          dryRun,
          staleAfterHours,
          concurrency: Math.ceil(concurrency / parallelPages),
        },
      ],
    }).then((counts) => {
      for (const cls of RECONCILIATION_CLASSES) state.counts[cls] += counts[cls];
      processed += items.length;
      inFlight.delete(pageNo);
    });

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

/** One page of a reconciliation run: each row checked on its account's rate-limited queue. */
export async function reconcilePageWorkflow(input: {
  runId: string;
  items: ReconciliationPageItem[];
  dryRun: boolean;
  staleAfterHours: number;
  concurrency: number;
}): Promise<ReconciliationCounts> {
  const { taskQueue } = workflowInfo();
  const counts = emptyCounts();
  const check = (item: ReconciliationPageItem): Promise<ReconciliationClass> =>
    proxyActivities<Activities>({
      ...reconcileCheck,
      taskQueue: reconcileTaskQueue(taskQueue, item.accountId),
    })
      .reconcileCancellation({
        runId: input.runId,
        cancelOrderId: item.cancelOrderId,
        dryRun: input.dryRun,
        staleAfterHours: input.staleAfterHours,
      })
      .catch(() => 'ERROR' as const);
  // Bounded fan-out: `concurrency` lanes pulling from the page.
  let next = 0;
  const lane = async () => {
    while (next < input.items.length) {
      const item = input.items[next++]!;
      counts[await check(item)] += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.concurrency, input.items.length) }, lane));
  return counts;
}
