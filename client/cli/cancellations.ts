import type { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { CancelflowError } from '../../common/errors';
import { providerOutcomeSignal } from '../../workflows/definitions';
import { CancelOrderId } from '../../workflows/search-attributes';
import { TERMINAL_STATUSES, type CancellationSnapshot } from '../../contract/cancellation';
import { ValidationError, type AppScope } from '../index';
import { findCancellation, snapshotOfRecord } from '../records';
import {
  EXIT,
  cliConfig,
  print,
  scopeOf,
  table,
  withDatabase,
  withTemporal,
  type Scoped,
  type TemporalContext,
} from './context';

/** The `start` that carries on a cancellation whose run was stopped: same workflow id, same cancelOrderId. */
function carryOnCommand(workflowId: string): string {
  const [, , mchNo = '', appId = '', ...ref] = workflowId.split('/');
  const orderRef = ref.join('/');
  const arg = (v: string) => (/^[\w.:@/-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  const flag = orderRef.startsWith('pay:') ? '--pay-order-id' : '--mch-order-no';
  return `cancelflow start --mch-no ${arg(mchNo)} --app-id ${arg(appId)} ${flag} ${arg(orderRef.slice(4))}`;
}

/** The app's paid-order policy, as `status --json` shows it beside the snapshot. */
function paidOrdersOf(s: CancellationSnapshot): { paidOrders?: { policy: string; timeZone: string } } {
  const app = cliConfig().apps.find((a) => a.mchNo === s.mchNo && a.appId === s.appId);
  return app ? { paidOrders: { policy: app.paidOrders, timeZone: app.paidOrdersTimeZone } } : {};
}

function snapshotTable(s: CancellationSnapshot, source: string): string {
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

function notFound(id: string, scope: AppScope | undefined, cause: unknown): CancelflowError {
  const app = scope ? ` for app ${scope.mchNo}/${scope.appId}` : '';
  return new CancelflowError('NOT_FOUND', `no cancellation ${id}${app}`, { cause });
}

/** Why Temporal stopped the run (the `terminate` reason), when its last run was terminated. */
async function terminateReason(client: Client, workflowId: string, cancelOrderId: string) {
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
async function runningRun(
  { client, cancelflow }: TemporalContext,
  id: string,
  scope: AppScope | undefined,
): Promise<{ snapshot: CancellationSnapshot; handle: WorkflowHandle; runId: string }> {
  let snapshot: CancellationSnapshot;
  try {
    snapshot = await cancelflow.getCancellation(id, scope);
  } catch (err) {
    const execution = endedOrGone(err);
    if (!execution) throw err;
    // A stopped run is not checked against the scope by Temporal: Postgres tells whose it is.
    if (
      (scope || execution === 'GONE') &&
      !(await withDatabase(cliConfig(), (db) => findCancellation(db, id, scope)))
    )
      throw notFound(id, scope, err);
    throw new CancelflowError(
      'NOT_RUNNING',
      `${id} is not running (${execution === 'GONE' ? 'its workflow is gone from Temporal' : execution})`,
      { cause: err },
    );
  }
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

export function registerCancellationCommands(program: Command): void {
  program
    .command('start')
    .description('start (or find) the cancellation of one order; carries on one whose run was terminated')
    .requiredOption('--mch-no <mchNo>', 'merchant number')
    .requiredOption('--app-id <appId>', 'app id')
    .option('--pay-order-id <id>', 'payment order id')
    .option('--mch-order-no <no>', 'merchant order number')
    .option('--notify-url <url>', 'where to send the Cancel Notification')
    .option('--ext-param <text>', 'returned as extraParam in the notification')
    .option('--wait', 'wait for the final state')
    .option('--json', 'machine-readable output')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      await withTemporal(cliConfig(), async ({ cancelflow }) => {
        const started = await cancelflow.startCancellation({
          mchNo: o.mchNo as string,
          appId: o.appId as string,
          ...(o.payOrderId ? { payOrderId: o.payOrderId as string } : {}),
          ...(o.mchOrderNo ? { mchOrderNo: o.mchOrderNo as string } : {}),
          ...(o.notifyUrl ? { notifyUrl: o.notifyUrl as string } : {}),
          ...(o.extParam ? { extParam: o.extParam as string } : {}),
        });
        const result = o.wait ? await cancelflow.waitForResult(started.cancelOrderId) : undefined;
        print(Boolean(o.json), { ...started, ...(result ? { result } : {}) }, () =>
          [
            `${started.created ? 'started' : 'already exists'}: ${started.cancelOrderId} (${started.workflowId})`,
            ...(result
              ? [
                  `final: ${result.status} (state ${result.state})${result.errCode ? ` ${result.errCode}` : ''}`,
                ]
              : []),
          ].join('\n'),
        );
      });
    });

  program
    .command('status')
    .description('the current snapshot of a cancellation (from Postgres when its run is gone or stopped)')
    .argument('<id>', 'cancelOrderId or workflow id')
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped) => {
      const scope = scopeOf(o);
      const config = cliConfig();
      await withTemporal(config, async ({ client, cancelflow }) => {
        let snapshot: CancellationSnapshot;
        try {
          snapshot = await cancelflow.getCancellation(id, scope);
        } catch (err) {
          const execution = endedOrGone(err);
          if (!execution) throw err;
          // Retention removed the workflow, or it was stopped: the record is in Postgres.
          const recorded = await withDatabase(config, async (db) => {
            const record = await findCancellation(db, id, scope);
            return record && (await snapshotOfRecord(db, record));
          });
          if (!recorded) throw notFound(id, scope, err);
          const reason =
            execution === 'TERMINATED'
              ? await terminateReason(client, recorded.workflowId, recorded.cancelOrderId)
              : undefined;
          const source = `Postgres: its workflow ${
            execution === 'GONE'
              ? 'is gone from Temporal (retention)'
              : `was ${execution.toLowerCase().replace('_', ' ')}`
          }${reason ? ` (reason: ${reason})` : ''}`;
          return print(
            Boolean(o.json),
            {
              ...recorded,
              ...paidOrdersOf(recorded),
              source: 'postgres',
              execution,
              ...(reason ? { terminateReason: reason } : {}),
            },
            () =>
              `${snapshotTable(recorded, source)}${
                execution === 'GONE' || TERMINAL_STATUSES.includes(recorded.status)
                  ? ''
                  : `\nto carry it on: ${carryOnCommand(recorded.workflowId)}`
              }`,
          );
        }
        print(Boolean(o.json), { ...snapshot, ...paidOrdersOf(snapshot), source: 'temporal' }, () =>
          snapshotTable(snapshot, 'Temporal (the workflow)'),
        );
      });
    });

  program
    .command('retry')
    .description(
      'start a cancellation again: one that FAILED for our own reasons (configuration); with --force also a provider refusal or an UNRESOLVED one',
    )
    .argument('<cancelOrderId>', 'the cancellation to retry')
    .option('--force', 'also retry a business refusal or an UNRESOLVED cancellation')
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped & { force?: boolean }) => {
      const scope = scopeOf(o);
      await withTemporal(cliConfig(), async ({ cancelflow }) => {
        const started = await cancelflow.retryCancellation(id, {
          force: o.force === true,
          ...(scope ? { scope } : {}),
        });
        const retried = started.cancelOrderId !== id;
        print(Boolean(o.json), { retried, ...started }, () =>
          retried
            ? `retried: ${id} → ${started.cancelOrderId} (${started.answer.status}, state ${started.answer.state})`
            : `not retried: ${id} is ${started.answer.status} ${started.answer.errCode ?? ''}; a provider refusal needs --force`,
        );
        if (!retried) process.exitCode = EXIT.conflict;
      });
    });

  program
    .command('requery')
    .description('make a running cancellation ask the provider now (exit 4 when it is not running)')
    .argument('<cancelOrderId>', 'cancelOrderId or workflow id')
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped) => {
      const scope = scopeOf(o);
      await withTemporal(cliConfig(), async (temporal) => {
        const { snapshot, handle, runId } = await runningRun(temporal, id, scope);
        // The run asks the provider itself: the signal carries no outcome.
        await handle.signal(providerOutcomeSignal, { source: 'reconciliation', reference: 'cli-requery' });
        print(
          Boolean(o.json),
          { cancelOrderId: snapshot.cancelOrderId, workflowId: handle.workflowId, runId },
          () =>
            `asked: ${snapshot.cancelOrderId} (${snapshot.status}) queries ${snapshot.provider} now; ` +
            `\`cancelflow why ${snapshot.cancelOrderId}\` shows the answer`,
        );
      });
    });

  program
    .command('terminate')
    .description('stop the run of a cancellation (the record stays as it is; `start` carries it on)')
    .argument('<cancelOrderId>', 'cancelOrderId or workflow id')
    .requiredOption('--reason <text>', "why (kept in Temporal's history of the run)")
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped & { reason: string }) => {
      const scope = scopeOf(o);
      const reason = o.reason.trim();
      if (!reason) throw new ValidationError('--reason', 'must say why');
      await withTemporal(cliConfig(), async (temporal) => {
        const { snapshot, handle, runId } = await runningRun(temporal, id, scope);
        await handle.terminate(reason);
        const carryOn = carryOnCommand(snapshot.workflowId);
        print(
          Boolean(o.json),
          {
            cancelOrderId: snapshot.cancelOrderId,
            workflowId: handle.workflowId,
            runId,
            reason,
            status: snapshot.status,
            state: snapshot.state,
            carryOn,
          },
          () =>
            [
              `terminated: ${snapshot.cancelOrderId} (${handle.workflowId}), reason: ${reason}`,
              `the record stays ${snapshot.status} (state ${snapshot.state}); the reason is in the run's Temporal history`,
              `to carry it on (same cancelOrderId, it asks the provider first): ${carryOn}`,
            ].join('\n'),
        );
      });
    });

  program
    .command('redeliver')
    .description('a fresh round of notification attempts (same id, same signed payload)')
    .argument('<cancelOrderId>')
    .option('--json', 'machine-readable output')
    .action(async (cancelOrderId: string, o: { json?: boolean }) => {
      await withTemporal(cliConfig(), async ({ cancelflow }) => {
        const r = await cancelflow.redeliverNotification(cancelOrderId);
        print(Boolean(o.json), r, () => `redelivery started: ${r.workflowId}`);
      });
    });
}
