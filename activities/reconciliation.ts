import { TERMINAL_STATUSES, type CancellationInput } from '../contract/cancellation';
import { ApplicationFailure } from '@temporalio/activity';
import {
  type PageResult,
  type ReconciliationCounts,
  type ReconciliationPageItem,
  type RepairHow,
} from '../contract/reconciliation';
import type { CancelOutcome } from '../providers/types';
import { completeRecord, notificationDue } from './callbacks';
import { recordRunInput } from './record-run';
import { isRepairOutcome } from './reconciliation/classify';
import type { ActivityDeps } from './deps';
import { createPageChecker, type PageInput } from './reconciliation/check-page';

export { DEFAULT_RECONCILE_RATE } from './reconciliation/check-page';

/**
 * Reconciliation: page through the scope, check each cancellation against its provider, find the
 * repairs that are safe. The run's rows and its scope are here; the page checker
 * (reconciliation/check-page.ts) asks the providers, the classifier (reconciliation/classify.ts)
 * compares. The workflow makes the repairs (signals, starts); `completeReconciliationRepair`
 * writes the record of one whose run is gone.
 */
export function createReconciliationActivities(deps: ActivityDeps) {
  const { db, config } = deps;
  const checkPage = createPageChecker(deps);

  /** Created or updated in the window, or not terminal and older than `staleBefore`. */
  const scope = (input: { from: number; to: number; staleBefore: number; accountId?: string }) =>
    db('cancellations as c')
      // A retired cancellation (started again after failing for our own reasons) keeps its answer.
      .whereNull('c.retired_at')
      .modify((q) => {
        if (input.accountId) void q.where('c.account_id', input.accountId);
      })
      .where((q) => {
        void q
          .whereBetween('c.created_at', [new Date(input.from), new Date(input.to)])
          .orWhereBetween('c.updated_at', [new Date(input.from), new Date(input.to)])
          .orWhere((s) => {
            void s
              .whereNotIn('c.status', TERMINAL_STATUSES)
              .where('c.created_at', '<', new Date(input.staleBefore));
          });
      });

  return {
    /** How many cancellations the run will check (for progress bars). */
    async countReconciliationScope(input: {
      from: number;
      to: number;
      staleBefore: number;
      accountId?: string;
    }): Promise<number> {
      const row = (await scope(input).count({ n: '*' }).first()) as { n: string | number };
      return Number(row.n);
    },

    async beginReconciliationRun(input: {
      runId: string;
      from: number;
      to: number;
      dryRun: boolean;
      accountId?: string;
    }) {
      await db('reconciliation_runs')
        .insert({
          run_id: input.runId,
          window_from: new Date(input.from),
          window_to: new Date(input.to),
          account_id: input.accountId ?? null,
          dry_run: input.dryRun,
          status: 'running',
        })
        .onConflict('run_id')
        .ignore();
    },

    /**
     * The next page of the run's scope after `after` (cancelOrderId order): created or updated in
     * the window, or not terminal and older than `staleBefore`; those this run already checked
     * are left out, so a resumed page does not check anything twice.
     */
    async loadReconciliationPage(input: {
      runId: string;
      from: number;
      to: number;
      after: string;
      limit: number;
      staleBefore: number;
      accountId?: string;
    }): Promise<{ items: ReconciliationPageItem[]; last: string; more: boolean }> {
      const rows: Array<{ cancel_order_id: string; account_id: string }> = await scope(input)
        .select('c.cancel_order_id', 'c.account_id')
        .where('c.cancel_order_id', '>', input.after)
        .orderBy('c.cancel_order_id')
        .limit(input.limit + 1)
        .then((r: Array<{ cancel_order_id: string; account_id: string }>) => r);
      const more = rows.length > input.limit;
      const page = rows.slice(0, input.limit);
      const done = new Set<string>(
        page.length === 0
          ? []
          : await db('reconciliation_items')
              .where({ run_id: input.runId })
              .whereIn(
                'cancel_order_id',
                page.map((r) => r.cancel_order_id),
              )
              .pluck('cancel_order_id'),
      );
      return {
        items: page
          .filter((r) => !done.has(r.cancel_order_id))
          .map((r) => ({ cancelOrderId: r.cancel_order_id, accountId: r.account_id })),
        last: page.at(-1)?.cancel_order_id ?? input.after,
        more,
      };
    },

    /**
     * Checks one page of a run's cancellations for one account: queries the provider for each
     * (`concurrency` at a time, paced by the account's shared rate limit), compares, records the
     * item and repairs what is safe. Idempotent per (run, cancellation): a retried page (a worker
     * died, the activity timed out) counts the items already written instead of asking again, and
     * finishes a repair an earlier attempt recorded but did not make. An answer we cannot read is
     * asked again up to 3 times (1 s, then 2 s apart) before the row is recorded as ERROR.
     */
    async reconcilePage(input: PageInput): Promise<PageResult> {
      return checkPage(input);
    },

    /**
     * A repair whose cancellation's run is gone (finished UNRESOLVED, or never ran): the same
     * transition write the run would have made, from the provider's answer kept with the item.
     * Returns what the workflow starts next: the run that shows it in Temporal (when this wrote
     * it) and the notification (unless the record was terminal already: its run notified).
     */
    async completeReconciliationRepair(input: { runId: string; cancelOrderId: string }): Promise<{
      how: RepairHow;
      recordRun?: { workflowId: string; input: CancellationInput };
      notify?: { scheduleMs?: number[] };
    }> {
      const item = await db('reconciliation_items')
        .where({ run_id: input.runId, cancel_order_id: input.cancelOrderId })
        .first<{ detail: { outcome?: CancelOutcome } | null } | undefined>('detail');
      const outcome = item?.detail?.outcome;
      if (!isRepairOutcome(outcome))
        throw ApplicationFailure.nonRetryable(
          `no repairable answer kept for ${input.cancelOrderId} in run ${input.runId}`,
          'NOT_REPAIRABLE',
        );
      const { written } = await completeRecord(
        db,
        input.cancelOrderId,
        outcome,
        `repaired by reconciliation ${input.runId}`,
      );
      // Finished by its own run since the page read it: that run notified, not us.
      if (written === 'terminal') return { how: 'already terminal' };
      // Retired by ops' retry since the page read it: the new cancellation is the order's record.
      if (written === 'retired') return { how: 'superseded by a retry' };
      // A refusal after a cancel whose answer was lost: the order may be cancelled under another id.
      if (written === 'undecided') return { how: 'not final: an earlier cancel was lost' };
      // Written now ('applied'), or by this repair's attempt that died before answering
      // ('duplicate'): the run that shows it and the notification are still to start.
      const recordRun = await recordRunInput(deps, input.cancelOrderId, `reconciliation ${input.runId}`);
      const scheduleMs = config.timings?.notificationScheduleMs;
      return {
        how: 'completed',
        ...(recordRun ? { recordRun } : {}),
        ...((await notificationDue(db, input.cancelOrderId, written))
          ? { notify: scheduleMs ? { scheduleMs } : {} }
          : {}),
      };
    },

    /** The item's repair was made (`how`): a retried page does not make it again. */
    async markReconciliationRepaired(input: { runId: string; cancelOrderId: string; how: RepairHow }) {
      await db('reconciliation_items')
        .where({ run_id: input.runId, cancel_order_id: input.cancelOrderId })
        .update({
          repaired: true,
          detail: db.raw(`detail || ?::jsonb`, [JSON.stringify({ repair: input.how })]),
        });
    },

    async finishReconciliationRun(input: { runId: string; counts: ReconciliationCounts }) {
      await db('reconciliation_runs')
        .where({ run_id: input.runId })
        .update({ status: 'finished', counts: JSON.stringify(input.counts), finished_at: db.fn.now() });
    },
  };
}
