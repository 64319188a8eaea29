import { snapshotOfRow, type CancellationRow } from '../activities/cancellation';
import type { Knex } from '../common/db';
import type { CancellationSnapshot } from '../contract/cancellation';
import type { AppScope } from './index';

/**
 * What Postgres holds about cancellations and reconciliation runs, read for ops (the CLI):
 * the record stays when Temporal's retention has removed a workflow, or a run was terminated.
 */

export interface CancellationRecord extends CancellationRow {
  updated_at: Date;
  retired_at: Date | null;
  retry_of: string | null;
  notify_url: string | null;
  notification_status: string | null;
  notification_rounds: number | null;
  notification_attempts: number | null;
  delivered_at: Date | null;
}

/**
 * The cancellation by its cancelOrderId, or by its workflow id (then the one the order has now:
 * a retried cancellation's old record is retired); with a scope, only that app's.
 */
export async function findCancellation(
  db: Knex,
  idOrWorkflowId: string,
  scope?: AppScope,
): Promise<CancellationRecord | undefined> {
  return db('cancellations as c')
    .leftJoin('notifications as n', 'n.cancel_order_id', 'c.cancel_order_id')
    .modify((q) => {
      if (idOrWorkflowId.startsWith('cancel/')) void q.where('c.workflow_id', idOrWorkflowId);
      else void q.where('c.cancel_order_id', idOrWorkflowId);
      if (scope) void q.where({ 'c.mch_no': scope.mchNo, 'c.app_id': scope.appId });
    })
    .orderByRaw('c.retired_at is null desc, c.created_at desc')
    .first<CancellationRecord | undefined>(
      'c.*',
      'n.status as notification_status',
      'n.rounds as notification_rounds',
      'n.attempts as notification_attempts',
      'n.delivered_at',
    );
}

/** The snapshot the record tells, with the provider exchanges counted as the workflow counts them. */
export async function snapshotOfRecord(db: Knex, record: CancellationRecord): Promise<CancellationSnapshot> {
  const calls = await db('provider_calls')
    .where({ cancel_order_id: record.cancel_order_id })
    .groupBy('operation')
    .select<Array<{ operation: string; n: number | string }>>('operation', db.raw('count(*) as n'));
  const count = (operation: string) => Number(calls.find((c) => c.operation === operation)?.n ?? 0);
  const last = await db('cancellation_transitions')
    .where({ cancel_order_id: record.cancel_order_id })
    .whereNotNull('reason')
    .orderBy('seq', 'desc')
    .first<{ reason: string } | undefined>('reason');
  return {
    ...snapshotOfRow(record),
    submits: count('cancel'),
    queries: count('query'),
    ...(last ? { reason: last.reason } : {}),
  };
}

export type HistoryEvent =
  | { at: Date; kind: 'transition'; seq: number; status: string; state: number; reason: string | null }
  | {
      at: Date;
      kind: 'provider';
      operation: string;
      httpStatus: number | null;
      signature: string;
      outcome: string;
      latencyMs: number;
      error: string | null;
      detail: Record<string, unknown> | null;
    }
  | {
      at: Date;
      kind: 'callback';
      verdict: string;
      state: number | null;
      reason: string | null;
      signalled: boolean;
    }
  | {
      at: Date;
      kind: 'notification';
      round: number;
      attempt: number;
      state: string;
      success: boolean | null;
      httpStatus: number | null;
      durationMs: number | null;
      bodyExcerpt: string | null;
      error: string | null;
    };

/**
 * Everything that happened to one cancellation, in time order: each transition, each provider
 * exchange (when its answer was recorded), each provider callback and each notification attempt.
 */
export async function cancellationHistory(db: Knex, cancelOrderId: string): Promise<HistoryEvent[]> {
  const [transitions, calls, callbacks, attempts] = await Promise.all([
    db('cancellation_transitions')
      .where({ cancel_order_id: cancelOrderId })
      .orderBy('seq')
      .select<Array<{ at: Date; seq: number; status: string; state: number; reason: string | null }>>(
        'at',
        'seq',
        'status',
        'state',
        'reason',
      ),
    db('provider_calls').where({ cancel_order_id: cancelOrderId }).orderBy('id').select<
      Array<{
        created_at: Date;
        operation: string;
        http_status: number | null;
        signature: string;
        outcome: string;
        outcome_detail: Record<string, unknown> | null;
        error: string | null;
        latency_ms: number;
      }>
    >('created_at', 'operation', 'http_status', 'signature', 'outcome', 'outcome_detail', 'error', 'latency_ms'),
    db('provider_callbacks').where({ cancel_order_id: cancelOrderId }).orderBy('id').select<
      Array<{
        received_at: Date;
        verdict: string;
        state: number | null;
        reason: string | null;
        signalled: boolean;
      }>
    >('received_at', 'verdict', 'state', 'reason', 'signalled'),
    db('notification_attempts as a')
      .join('notifications as n', 'n.notification_id', 'a.notification_id')
      .where('n.cancel_order_id', cancelOrderId)
      .orderBy(['a.round', 'a.attempt_no'])
      .select<
        Array<{
          started_at: Date;
          round: number;
          attempt_no: number;
          state: string;
          success: boolean | null;
          http_status: number | null;
          duration_ms: number | null;
          body_excerpt: string | null;
          error: string | null;
        }>
      >(
        'a.started_at',
        'a.round',
        'a.attempt_no',
        'a.state',
        'a.success',
        'a.http_status',
        'a.duration_ms',
        'a.body_excerpt',
        'a.error',
      ),
  ]);
  const events: HistoryEvent[] = [
    ...transitions.map((t) => ({ kind: 'transition' as const, ...t })),
    ...calls.map((c) => ({
      at: c.created_at,
      kind: 'provider' as const,
      operation: c.operation,
      httpStatus: c.http_status,
      signature: c.signature,
      outcome: c.outcome,
      latencyMs: c.latency_ms,
      error: c.error,
      detail: c.outcome_detail,
    })),
    ...callbacks.map((c) => ({
      at: c.received_at,
      kind: 'callback' as const,
      verdict: c.verdict,
      state: c.state,
      reason: c.reason,
      signalled: c.signalled,
    })),
    ...attempts.map((a) => ({
      at: a.started_at,
      kind: 'notification' as const,
      round: a.round,
      attempt: a.attempt_no,
      state: a.state,
      success: a.success,
      httpStatus: a.http_status,
      durationMs: a.duration_ms,
      bodyExcerpt: a.body_excerpt,
      error: a.error,
    })),
  ];
  // Stable: events of the same instant keep the order of the lists above.
  return events.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** A `reconciliation_runs` row. */
export interface ReconciliationRunRow {
  run_id: string;
  status: string;
  dry_run: boolean;
  account_id: string | null;
  window_from: Date;
  window_to: Date;
  started_at: Date;
  finished_at: Date | null;
  counts: Record<string, number>;
}

/** Past reconciliation runs, newest first. */
export async function reconciliationRuns(db: Knex, limit: number): Promise<ReconciliationRunRow[]> {
  return db('reconciliation_runs')
    .orderBy([
      { column: 'started_at', order: 'desc' },
      { column: 'run_id', order: 'desc' },
    ])
    .limit(limit)
    .select<ReconciliationRunRow[]>('*');
}

export const REPORT_COLUMNS = [
  'cancel_order_id',
  'class',
  'our_state',
  'provider_state',
  'repaired',
  'detail',
] as const;

export type ReportItem = Record<(typeof REPORT_COLUMNS)[number], string | number | boolean | object | null>;

/** One run and its items in cancelOrderId order; undefined when there is no such run. */
export async function reconciliationReport(
  db: Knex,
  runId: string,
): Promise<{ run: ReconciliationRunRow; items: ReportItem[] } | undefined> {
  const run = await db('reconciliation_runs')
    .where({ run_id: runId })
    .first<ReconciliationRunRow | undefined>();
  if (!run) return undefined;
  const items = await db('reconciliation_items')
    .where({ run_id: runId })
    .orderBy('cancel_order_id')
    .select<ReportItem[]>(...REPORT_COLUMNS);
  return { run, items };
}
