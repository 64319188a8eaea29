import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { reconciliationItemsTotal } from '../../common/metrics';
import { createRateLimiter, type RateLimiter } from '../../common/rate-limit';
import { pollDelayMs } from '../../contract/backoff';
import { accountTimeouts } from '../../providers/options';
import { createPaybyFollowUpAdapter } from '../../providers/payby/follow-up';
import type { PaybyAccount } from '../../providers/payby/options';
import type { CancelOutcome, FollowUpAdapter } from '../../providers/types';
import {
  RECONCILIATION_CLASSES,
  type PageRepair,
  type PageResult,
  type ReconciliationClass,
  type ReconciliationCounts,
} from '../../contract/reconciliation';
import { TERMINAL_STATUSES } from '../../contract/cancellation';
import { adapterCache, recordProviderCall, writeAhead } from '../adapters';
import { lostCancelOf } from '../cancel-orders';
import type { ActivityDeps } from '../deps';
import {
  afterLostCancel,
  classifyItem,
  isRepairOutcome,
  providerView,
  refundAnswer,
  revokeAnswer,
  ROW_COLUMNS,
  uncheckable,
  type ItemClass,
  type ProviderAnswer,
  type ReconciliationRow,
} from './classify';

/** Provider requests per second during reconciliation when an account sets no `rateLimitPerSecond`. */
export const DEFAULT_RECONCILE_RATE = 20;
/** How many times one check asks a provider whose answer we cannot read before recording ERROR. */
const ASKS = 3;
/** The waits between those asks: 1 s, then 2 s. */
const ASK_BACKOFF = { pollInitialMs: 1_000, pollMaxMs: 2_000, pollMultiplier: 2 };

interface ExistingItem {
  cancel_order_id: string;
  class: ReconciliationClass;
  repaired: boolean;
  detail: { outcome?: CancelOutcome } | null;
}

export interface PageInput {
  runId: string;
  accountId: string;
  cancelOrderIds: string[];
  dryRun: boolean;
  staleAfterHours: number;
  concurrency: number;
}

const repairOf = (row: ReconciliationRow): PageRepair => ({
  cancelOrderId: row.cancel_order_id,
  workflowId: row.workflow_id,
});

/**
 * Checks pages of a reconciliation run: asks each cancellation's provider, records the item, and
 * returns the repairs to make (the workflow makes them).
 */
export function createPageChecker(deps: ActivityDeps) {
  const { db, config, logger } = deps;
  const adapterFor = adapterCache(config);
  const followUpAdapters = new Map<string, FollowUpAdapter>();
  const limiters = new Map<string, RateLimiter>();
  /** One limiter per account in this process; the slots it leases from are shared by all processes. */
  const limiterFor = (accountId: string): RateLimiter => {
    let limiter = limiters.get(accountId);
    if (!limiter) {
      const account = config.accounts.find((a) => a.id === accountId);
      limiter = createRateLimiter({
        db,
        key: accountId,
        ratePerSecond: account?.rateLimitPerSecond ?? DEFAULT_RECONCILE_RATE,
      });
      limiters.set(accountId, limiter);
    }
    return limiter;
  };

  /** Writes the run's item for a cancellation; false if an earlier attempt already had. */
  const record = async (
    runId: string,
    cancelOrderId: string,
    row: ReconciliationRow | null,
    cls: ReconciliationClass,
    providerState: number | null,
    detail: Record<string, unknown>,
  ): Promise<boolean> => {
    const inserted = await db('reconciliation_items')
      .insert({
        run_id: runId,
        cancel_order_id: cancelOrderId,
        class: cls,
        our_state: row?.state ?? null,
        provider_state: providerState,
        detail: JSON.stringify({ ...(row ? { ourStatus: row.status } : {}), ...detail }),
        repaired: false,
      })
      .onConflict(['run_id', 'cancel_order_id'])
      .ignore()
      .returning('id');
    if (inserted.length > 0) reconciliationItemsTotal.labels(cls, row?.account_id ?? 'unknown').inc();
    return inserted.length > 0;
  };

  const item = (runId: string, row: ReconciliationRow) =>
    db('reconciliation_items').where({ run_id: runId, cancel_order_id: row.cancel_order_id });

  const orderOf = (row: ReconciliationRow) => ({
    ...(row.pay_order_id ? { payOrderId: row.pay_order_id } : {}),
    ...(row.mch_order_no ? { mchOrderNo: row.mch_order_no } : {}),
  });

  /** The provider's query answer; one we cannot read is asked again, up to ASKS times. */
  const ask = async (
    row: ReconciliationRow,
    entry: NonNullable<ReturnType<typeof adapterFor>>,
    limiter: RateLimiter,
    signal: AbortSignal,
  ): Promise<ProviderAnswer> => {
    for (let attempt = 1; ; attempt++) {
      await limiter.acquire(signal);
      const part = `${row.cancel_order_id}/${attempt}`;
      const result = await entry.adapter.queryCancel(
        {
          order: orderOf(row),
          ...(row.provider_cancel_id ? { providerCancelId: row.provider_cancel_id } : {}),
        },
        writeAhead(db, row.cancel_order_id, entry.account, part),
      );
      if (result.exchange)
        await recordProviderCall(db, row.cancel_order_id, entry.account, result.exchange, part);
      const view = providerView(result.outcome);
      if (view.kind !== 'unknown' || attempt >= ASKS) return { outcome: result.outcome, view };
      await sleep(pollDelayMs(ASK_BACKOFF, attempt - 1, Infinity), undefined, { signal });
    }
  };

  /** How a paid order's revoke or refund stands at PayBy, as the answer compared with our row. */
  const followUpAnswer = async (
    row: ReconciliationRow,
    account: PaybyAccount,
    asked: ProviderAnswer,
  ): Promise<ProviderAnswer> => {
    if (row.follow_up === 'revoke') return revokeAnswer(asked, Date.now());
    const refund = await db('refunds')
      .where({ cancel_order_id: row.cancel_order_id })
      .first<{ refund_id: string; amount_minor: number; currency: string } | undefined>();
    if (!refund)
      return {
        outcome: asked.outcome,
        view: { kind: 'unknown', reason: 'no refunds row for a refund follow-up' },
      };
    let adapter = followUpAdapters.get(account.id);
    if (!adapter) {
      adapter = createPaybyFollowUpAdapter(account, accountTimeouts(account));
      followUpAdapters.set(account.id, adapter);
    }
    const part = `${row.cancel_order_id}/refund`;
    const result = await adapter.queryRefund(
      {
        refundMerchantOrderNo: refund.refund_id,
        order: orderOf(row),
        amount: { minor: Number(refund.amount_minor), currency: refund.currency },
      },
      writeAhead(db, row.cancel_order_id, account, part),
    );
    await recordProviderCall(db, row.cancel_order_id, account, result.exchange, part);
    return refundAnswer(result.outcome, refund.refund_id, asked.outcome);
  };

  /** Query the provider about one cancellation, compare, record the item, repair what is safe. */
  const checkOne = async (
    input: PageInput,
    row: ReconciliationRow,
    existing: ExistingItem | undefined,
    limiter: RateLimiter,
    signal: AbortSignal,
    repairs: PageRepair[],
  ): Promise<ReconciliationClass> => {
    if (existing) {
      // Written by an earlier attempt (or run) whose repair was not made: the workflow makes it.
      const o = existing.detail?.outcome;
      if (existing.class === 'REPAIRED' && !existing.repaired && !input.dryRun && isRepairOutcome(o)) {
        if (TERMINAL_STATUSES.includes(row.status)) await item(input.runId, row).update({ repaired: true });
        else repairs.push(repairOf(row));
      }
      return existing.class;
    }

    const entry = adapterFor(row.account_id);
    const why = uncheckable(row, entry?.account.provider);
    let found: ItemClass;
    let outcome: CancelOutcome | undefined;
    if (why !== undefined || !entry) {
      found = { cls: 'ERROR', providerState: null, ...(why ? { reason: why } : {}) };
    } else {
      let answer = await ask(row, entry, limiter, signal);
      if (row.follow_up && entry.account.provider === 'payby') {
        await limiter.acquire(signal);
        answer = await followUpAnswer(row, entry.account, answer);
      }
      // A refusal after a lost cancel does not decide an open record (the workflow's rule too).
      const refusedOpen = answer.outcome.kind === 'refused' && !TERMINAL_STATUSES.includes(row.status);
      if (refusedOpen) answer = afterLostCancel(answer, await lostCancelOf(db, row.cancel_order_id));
      outcome = answer.outcome;
      found = classifyItem(row, answer, { now: Date.now(), staleAfterHours: input.staleAfterHours });
    }
    const { cls, providerState, reason } = found;

    const inserted = await record(input.runId, row.cancel_order_id, row, cls, providerState, {
      ...(outcome ? { outcome } : {}),
      ...(reason ? { reason } : {}),
    });
    // Written meanwhile by an overlapping attempt: handled as if found at the start (repair made).
    if (!inserted) {
      const kept = await item(input.runId, row).first<ExistingItem | undefined>();
      return checkOne(input, row, kept, limiter, signal, repairs);
    }

    if (cls === 'MISMATCHED')
      logger.error(
        {
          runId: input.runId,
          cancelOrderId: row.cancel_order_id,
          ours: `${row.status}/${row.state}`,
          provider: providerState,
        },
        'MISMATCHED: our terminal state differs from the provider; not changed automatically',
      );
    // Made by the workflow (signals and starts are its to give), which then marks the item.
    if (cls === 'REPAIRED' && !input.dryRun && isRepairOutcome(outcome)) repairs.push(repairOf(row));
    return cls;
  };

  /** One page of one account's cancellations, `concurrency` at a time; see `reconcilePage`. */
  return async function checkPage(input: PageInput): Promise<PageResult> {
    const ctx = Context.current();
    const counts = Object.fromEntries(RECONCILIATION_CLASSES.map((c) => [c, 0])) as ReconciliationCounts;
    const rows = new Map(
      (
        await db('cancellations')
          .whereIn('cancel_order_id', input.cancelOrderIds)
          .select<ReconciliationRow[]>(ROW_COLUMNS)
      ).map((r) => [r.cancel_order_id, r]),
    );
    const existing = new Map(
      (
        await db('reconciliation_items')
          .where({ run_id: input.runId })
          .whereIn('cancel_order_id', input.cancelOrderIds)
          .select<ExistingItem[]>('cancel_order_id', 'class', 'repaired', 'detail')
      ).map((r) => [r.cancel_order_id, r]),
    );
    const limiter = limiterFor(input.accountId);
    // Every lane waiting for the limiter listens to the activity's cancellation.
    setMaxListeners(input.concurrency + 10, ctx.cancellationSignal);
    const repairs: PageRepair[] = [];
    let done = 0;
    const heartbeat = setInterval(() => ctx.heartbeat({ done }), 5_000);
    try {
      let next = 0;
      const lane = async () => {
        while (next < input.cancelOrderIds.length) {
          ctx.cancellationSignal.throwIfAborted();
          const id = input.cancelOrderIds[next++]!;
          const row = rows.get(id);
          let cls: ReconciliationClass = 'ERROR';
          if (row)
            cls = await checkOne(input, row, existing.get(id), limiter, ctx.cancellationSignal, repairs);
          else await record(input.runId, id, null, 'ERROR', null, { reason: 'the cancellation row is gone' });
          counts[cls] += 1;
          done += 1;
        }
      };
      await Promise.all(
        Array.from({ length: Math.max(1, Math.min(input.concurrency, input.cancelOrderIds.length)) }, lane),
      );
    } finally {
      clearInterval(heartbeat);
    }
    return repairs.length > 0 ? { ...counts, repairs } : counts;
  };
}
