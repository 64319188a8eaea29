import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { reconciliationItemsTotal } from '../common/metrics';
import { createRateLimiter, type RateLimiter } from '../common/rate-limit';
import type { PaybyAccount } from '../common/config';
import { DEFAULT_TIMEOUTS } from '../providers/http';
import { createPaybyFollowUpAdapter } from '../providers/payby/follow-up';
import type { CancelOutcome, FollowUpAdapter } from '../providers/types';
import {
  notificationWorkflowId,
  RECONCILIATION_CLASSES,
  TERMINAL_STATUSES,
  type CancellationStatus,
  type ProviderOutcomeSignal,
  type ReconciliationClass,
  type ReconciliationCounts,
  type ReconciliationPageItem,
} from '../workflows/types';
import { providerOutcomeSignal } from '../workflows/definitions';
import { adapterCache, recordProviderCall } from './adapters';
import { completeRecord } from './callbacks';
import type { ActivityDeps } from './deps';

// PayBy's own codes (62004, 62035); the names are what rows written before the integrity change hold.
const NOT_FOUND_CODES = ['62004', '62035', 'MERCHANT_ORDER_NO_NOT_EXIST', 'ORDER_NO_NOT_EXIST'];
/** Provider requests per second during reconciliation when an account sets no `rateLimitPerSecond`. */
export const DEFAULT_RECONCILE_RATE = 20;
/** How many times one check asks a provider whose answer we cannot read before recording ERROR. */
const ASKS = 3;
const ROW_COLUMNS = [
  'cancel_order_id',
  'workflow_id',
  'account_id',
  'pay_order_id',
  'mch_order_no',
  'notify_url',
  'status',
  'state',
  'err_code',
  'provider_cancel_id',
  'follow_up',
  'created_at',
];

interface Row {
  cancel_order_id: string;
  workflow_id: string;
  account_id: string;
  pay_order_id: string | null;
  mch_order_no: string | null;
  notify_url: string | null;
  status: CancellationStatus;
  state: number;
  err_code: string | null;
  provider_cancel_id: string | null;
  follow_up: 'revoke' | 'refund' | null;
  created_at: Date;
}

interface ExistingItem {
  cancel_order_id: string;
  class: ReconciliationClass;
  repaired: boolean;
  detail: { outcome?: CancelOutcome } | null;
}

/** What the provider's answer says about the cancel: its seed state, or why there is none. */
function providerView(
  o: CancelOutcome,
):
  | { kind: 'terminal'; state: 2 | 3 | 4 }
  | { kind: 'open' }
  | { kind: 'missing' }
  | { kind: 'unknown'; reason: string } {
  switch (o.kind) {
    case 'cancelled':
      return { kind: 'terminal', state: 2 };
    case 'refused':
      return NOT_FOUND_CODES.includes(o.code) ? { kind: 'missing' } : { kind: 'terminal', state: o.state };
    case 'pending':
    case 'resubmit':
      return { kind: 'open' };
    case 'unknown':
      return /does not exist|not exist|not found/i.test(o.reason)
        ? { kind: 'missing' }
        : { kind: 'unknown', reason: o.reason };
    case 'misconfigured':
      return { kind: 'unknown', reason: `${o.code}: ${o.message}` };
  }
}

/** Reconciliation: page through the scope, check each cancellation against its provider, repair what is safe. */
export function createReconciliationActivities({ db, config, logger, temporal }: ActivityDeps) {
  const adapterFor = adapterCache(config);
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
    row: Row | null,
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

  /** Ours not terminal, the provider's answer final: wake the workflow, or complete the record it left. */
  const repair = async (
    row: Row,
    outcome: CancelOutcome & { kind: 'cancelled' | 'refused' },
    runId: string,
  ) => {
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

  /** Query the provider about one cancellation, compare, record the item, repair what is safe. */
  const checkOne = async (
    input: { runId: string; dryRun: boolean; staleAfterHours: number },
    row: Row,
    existing: ExistingItem | undefined,
    limiter: RateLimiter,
    signal: AbortSignal,
  ): Promise<ReconciliationClass> => {
    if (existing) {
      // Written by an earlier attempt: finish its repair if that attempt died before it.
      const o = existing.detail?.outcome;
      if (
        existing.class === 'REPAIRED' &&
        !existing.repaired &&
        !input.dryRun &&
        o &&
        (o.kind === 'cancelled' || o.kind === 'refused')
      ) {
        if (!TERMINAL_STATUSES.includes(row.status)) await repair(row, o, input.runId);
        await db('reconciliation_items')
          .where({ run_id: input.runId, cancel_order_id: row.cancel_order_id })
          .update({ repaired: true });
      }
      return existing.class;
    }

    const entry = adapterFor(row.account_id);
    const ours = TERMINAL_STATUSES.includes(row.status);
    let cls: ReconciliationClass;
    let outcome: CancelOutcome | undefined;
    let providerState: number | null = null;
    let reason: string | undefined;
    if (!entry) {
      cls = 'ERROR';
      reason = `account ${row.account_id} is not configured`;
    } else if (entry.account.provider === 'unified' && !row.provider_cancel_id) {
      cls = 'ERROR';
      reason = 'no gateway cancelOrderId recorded: the gateway cannot be queried';
    } else {
      let view: ReturnType<typeof providerView>;
      for (let ask = 1; ; ask++) {
        await limiter.acquire(signal);
        const result = await entry.adapter.queryCancel({
          order: {
            ...(row.pay_order_id ? { payOrderId: row.pay_order_id } : {}),
            ...(row.mch_order_no ? { mchOrderNo: row.mch_order_no } : {}),
          },
          ...(row.provider_cancel_id ? { providerCancelId: row.provider_cancel_id } : {}),
        });
        outcome = result.outcome;
        if (result.exchange)
          await recordProviderCall(
            db,
            row.cancel_order_id,
            entry.account,
            result.exchange,
            `${row.cancel_order_id}/${ask}`,
          );
        view = providerView(outcome);
        if (view.kind !== 'unknown' || ask >= ASKS) break;
        await sleep(1_000 * 2 ** (ask - 1), undefined, { signal });
      }
      if (row.follow_up && entry.account.provider === 'payby') {
        // A paid order's follow-up: the order stays paid (62001/62003) or shows revoked; what
        // decides is the revoke or the refund, never "paid" read as a refusal of our cancel.
        await limiter.acquire(signal);
        ({ outcome, view } = await followUpView(row, entry.account, outcome, view));
      }
      if (view.kind === 'unknown') {
        cls = 'ERROR';
        reason = view.reason;
      } else if (view.kind === 'missing') {
        cls =
          row.status === 'FAILED' && NOT_FOUND_CODES.includes(row.err_code ?? '')
            ? 'MATCHED'
            : 'MISSING_AT_PROVIDER';
      } else if (view.kind === 'terminal') {
        providerState = view.state;
        cls = ours ? (row.state === view.state ? 'MATCHED' : 'MISMATCHED') : 'REPAIRED';
      } else {
        providerState = outcome.kind === 'pending' ? outcome.state : 0;
        if (ours) cls = outcome.kind === 'resubmit' && row.status === 'FAILED' ? 'MATCHED' : 'MISMATCHED';
        else {
          const stale = row.created_at.getTime() < Date.now() - input.staleAfterHours * 3_600_000;
          cls = stale ? 'STILL_PENDING' : 'MATCHED';
        }
      }
    }

    const inserted = await record(input.runId, row.cancel_order_id, row, cls, providerState, {
      ...(outcome ? { outcome } : {}),
      ...(reason ? { reason } : {}),
    });
    if (!inserted) return cls;

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
    if (
      cls === 'REPAIRED' &&
      !input.dryRun &&
      outcome &&
      (outcome.kind === 'cancelled' || outcome.kind === 'refused')
    ) {
      const how = await repair(row, outcome, input.runId);
      await db('reconciliation_items')
        .where({ run_id: input.runId, cancel_order_id: row.cancel_order_id })
        .update({
          repaired: true,
          detail: db.raw(`detail || ?::jsonb`, [JSON.stringify({ repair: how })]),
        });
    }
    return cls;
  };

  /** How a revoke or a refund stands at PayBy, as the view reconciliation compares with our row. */
  const followUpView = async (
    row: Row,
    account: PaybyAccount,
    outcome: CancelOutcome,
    view: ReturnType<typeof providerView>,
  ): Promise<{ outcome: CancelOutcome; view: ReturnType<typeof providerView> }> => {
    const done = (o: CancelOutcome) => ({ outcome: o, view: providerView(o) });
    if (row.follow_up === 'revoke') {
      if (outcome.kind === 'refused' && outcome.code === '62040')
        return done({ kind: 'cancelled', successTime: Date.now() });
      if (outcome.kind === 'refused' && (outcome.code === '62001' || outcome.code === '62003'))
        return { outcome, view: { kind: 'open' } };
      return { outcome, view };
    }
    const refund = await db('refunds')
      .where({ cancel_order_id: row.cancel_order_id })
      .first<{ refund_id: string; amount_minor: number; currency: string } | undefined>();
    if (!refund)
      return { outcome, view: { kind: 'unknown', reason: 'no refunds row for a refund follow-up' } };
    let adapter = followUpAdapters.get(account.id);
    if (!adapter) {
      adapter = createPaybyFollowUpAdapter(account, {
        connectMs: account.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectMs,
        responseMs: account.responseTimeoutMs ?? DEFAULT_TIMEOUTS.responseMs,
      });
      followUpAdapters.set(account.id, adapter);
    }
    const result = await adapter.queryRefund({
      refundMerchantOrderNo: refund.refund_id,
      order: {
        ...(row.pay_order_id ? { payOrderId: row.pay_order_id } : {}),
        ...(row.mch_order_no ? { mchOrderNo: row.mch_order_no } : {}),
      },
      amount: { minor: Number(refund.amount_minor), currency: refund.currency },
    });
    await recordProviderCall(
      db,
      row.cancel_order_id,
      account,
      result.exchange,
      `${row.cancel_order_id}/refund`,
    );
    const o = result.outcome;
    switch (o.kind) {
      case 'done':
        return done({ kind: 'cancelled', channelOrderNo: refund.refund_id, successTime: o.successTime });
      case 'refused':
        return done({ kind: 'refused', state: 3, code: o.code, message: o.message });
      case 'pending':
      case 'resubmit':
        return { outcome, view: { kind: 'open' } };
      default:
        return { outcome, view: { kind: 'unknown', reason: `refund ${refund.refund_id}: ${o.kind}` } };
    }
  };
  const followUpAdapters = new Map<string, FollowUpAdapter>();

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
    async reconcilePage(input: {
      runId: string;
      accountId: string;
      cancelOrderIds: string[];
      dryRun: boolean;
      staleAfterHours: number;
      concurrency: number;
    }): Promise<ReconciliationCounts> {
      const ctx = Context.current();
      const counts = Object.fromEntries(RECONCILIATION_CLASSES.map((c) => [c, 0])) as ReconciliationCounts;
      const rows = new Map(
        (
          await db('cancellations')
            .whereIn('cancel_order_id', input.cancelOrderIds)
            .select<Row[]>(ROW_COLUMNS)
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
            if (row) cls = await checkOne(input, row, existing.get(id), limiter, ctx.cancellationSignal);
            else
              await record(input.runId, id, null, 'ERROR', null, { reason: 'the cancellation row is gone' });
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
      return counts;
    },

    async finishReconciliationRun(input: { runId: string; counts: ReconciliationCounts }) {
      await db('reconciliation_runs')
        .where({ run_id: input.runId })
        .update({ status: 'finished', counts: JSON.stringify(input.counts), finished_at: db.fn.now() });
    },
  };
}
