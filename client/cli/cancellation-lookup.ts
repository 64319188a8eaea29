/** What the cancellation commands show and look up: the snapshot table, stopped runs, the running run. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { CancelflowError } from '../../common/errors';
import { CancelOrderId } from '../../workflows/search-attributes';
import type { CancellationSnapshot } from '../../contract/cancellation';
import type { AppScope } from '../index';
import { findCancellation } from '../records';
import { cliConfig, table, withDatabase, type TemporalContext } from './context';

/** The `start` that carries on a cancellation whose run was stopped: same workflow id, same cancelOrderId. */
export function carryOnCommand(workflowId: string): string {
  const [, , mchNo = '', appId = '', ...ref] = workflowId.split('/');
  const orderRef = ref.join('/');
  const arg = (v: string) => (/^[\w.:@/-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  const flag = orderRef.startsWith('pay:') ? '--pay-order-id' : '--mch-order-no';
  return `cancelflow start --mch-no ${arg(mchNo)} --app-id ${arg(appId)} ${flag} ${arg(orderRef.slice(4))}`;
}

/** The app's paid-order policy, as `status --json` shows it beside the snapshot. */
export function paidOrdersOf(s: CancellationSnapshot): { paidOrders?: { policy: string; timeZone: string } } {
  const app = cliConfig().apps.find((a) => a.mchNo === s.mchNo && a.appId === s.appId);
  return app ? { paidOrders: { policy: app.paidOrders, timeZone: app.paidOrdersTimeZone } } : {};
}

export function snapshotTable(s: CancellationSnapshot, source: string): string {
  const t = table();
  const app = cliConfig().apps.find((a) => a.mchNo === s.mchNo && a.appId === s.appId);
  const rows: Array<[string, string | number | undefined]> = [
    ['cancelOrderId', s.cancelOrderId],
    ['workflow', s.workflowId],
    ['status', `${s.status} (state ${s.state})${s.retryable ? ', may be retried' : ''}`],
    ['app', `${s.mchNo}/${s.appId}`],
    [
      'paid orders',
      app
        ? `${app.paidOrders} (days in ${app.paidOrdersTimeZone})${s.followUp ? `; this one: ${s.followUp}` : ''}`
        : '',
    ],
    ['account', `${s.accountId} (${s.provider})`],
    ['order', s.order.payOrderId ?? s.order.mchOrderNo],
    ['provider cancel id', s.providerCancelId ?? ''],
    ['error', s.errCode ? `${s.errCode} ${s.errMsg ?? ''}` : ''],
    ['reason', s.reason ?? ''],
    ['amount', s.amount ? `${s.amount.minor} minor units ${s.amount.currency}` : ''],
    ['calls', `${s.submits} cancel, ${s.queries} query`],
    [
      'notification',
      [s.notification ?? '', s.notificationWorkflowId ? `(${s.notificationWorkflowId})` : '']
        .filter(Boolean)
        .join(' '),
    ],
    ['source', source],
  ];
  for (const [k, v] of rows) t.push({ [k]: v === undefined ? '' : String(v) });
  return t.toString();
}

/**
 * Temporal has no live run to answer for the cancellation: `GONE` (retention removed it, or there
 * never was one) or how the run ended (`TERMINATED`, `TIMED_OUT`, ...). Undefined for other errors.
 */
function endedOrGone(err: unknown): string | undefined {
  if (!(err instanceof CancelflowError)) return undefined;
  if (err.code === 'NOT_FOUND') return 'GONE';
  return err.code.startsWith('WORKFLOW_') ? err.code.slice('WORKFLOW_'.length) : undefined;
}

/**
 * A cancellation as its live run tells it; when Temporal has no live run to answer ({@link endedOrGone}),
 * how it ended and the error, for the caller to read Postgres. Other errors are thrown.
 */
export async function liveSnapshot(
  cancelflow: TemporalContext['cancelflow'],
  id: string,
  scope: AppScope | undefined,
): Promise<{ snapshot: CancellationSnapshot } | { execution: string; cause: unknown }> {
  try {
    return { snapshot: await cancelflow.getCancellation(id, scope) };
  } catch (err) {
    const execution = endedOrGone(err);
    if (!execution) throw err;
    return { execution, cause: err };
  }
}

export function notFound(id: string, scope: AppScope | undefined, cause: unknown): CancelflowError {
  const app = scope ? ` for app ${scope.mchNo}/${scope.appId}` : '';
  return new CancelflowError('NOT_FOUND', `no cancellation ${id}${app}`, { cause });
}

/** Why Temporal stopped the run (the `terminate` reason), when its last run was terminated. */
export async function terminateReason(client: Client, workflowId: string, cancelOrderId: string) {
  const run = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  if (run?.status.name !== 'TERMINATED' || run.typedSearchAttributes.get(CancelOrderId) !== cancelOrderId)
    return undefined;
  const { history } = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: client.options.namespace,
    execution: { workflowId, runId: run.runId },
    maximumPageSize: 1,
  });
  return history?.events?.[0]?.workflowExecutionTerminatedEventAttributes?.reason ?? undefined;
}

/**
 * The running run of a cancellation, to signal or terminate. Not running (finished, terminated,
 * gone from Temporal while Postgres has it): `NOT_RUNNING`, exit 4. Unknown: `NOT_FOUND`, exit 3.
 */
export async function runningRun(
  { client, cancelflow }: TemporalContext,
  id: string,
  scope: AppScope | undefined,
): Promise<{ snapshot: CancellationSnapshot; handle: WorkflowHandle; runId: string }> {
  const live = await liveSnapshot(cancelflow, id, scope);
  if (!('snapshot' in live)) {
    const { execution, cause } = live;
    // A stopped run is not checked against the scope by Temporal: Postgres tells whose it is.
    if (
      (scope || execution === 'GONE') &&
      !(await withDatabase(cliConfig(), (db) => findCancellation(db, id, scope)))
    )
      throw notFound(id, scope, cause);
    throw new CancelflowError(
      'NOT_RUNNING',
      `${id} is not running (${execution === 'GONE' ? 'its workflow is gone from Temporal' : execution})`,
      { cause },
    );
  }
  const { snapshot } = live;
  const run = await client.workflow.getHandle(snapshot.workflowId).describe();
  if (
    run.status.name !== 'RUNNING' ||
    run.typedSearchAttributes.get(CancelOrderId) !== snapshot.cancelOrderId
  )
    throw new CancelflowError(
      'NOT_RUNNING',
      `${snapshot.cancelOrderId} is not running (${snapshot.status}, state ${snapshot.state})`,
    );
  return { snapshot, handle: client.workflow.getHandle(snapshot.workflowId, run.runId), runId: run.runId };
}
