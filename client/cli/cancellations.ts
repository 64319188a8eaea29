import type { Command } from 'commander';
import { TERMINAL_STATUSES } from '../../contract/cancellation';
import { findCancellation, snapshotOfRecord } from '../records';
import { registerCancellationActionCommands } from './cancellation-actions';
import {
  carryOnCommand,
  liveSnapshot,
  notFound,
  paidOrdersOf,
  snapshotTable,
  terminateReason,
} from './cancellation-lookup';
import { cliConfig, print, scopeOf, withDatabase, withTemporal, type Scoped } from './context';

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
        const live = await liveSnapshot(cancelflow, id, scope);
        if (!('snapshot' in live)) {
          const { execution, cause } = live;
          // Retention removed the workflow, or it was stopped: the record is in Postgres.
          const recorded = await withDatabase(config, async (db) => {
            const record = await findCancellation(db, id, scope);
            return record && (await snapshotOfRecord(db, record));
          });
          if (!recorded) throw notFound(id, scope, cause);
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
        const { snapshot } = live;
        print(Boolean(o.json), { ...snapshot, ...paidOrdersOf(snapshot), source: 'temporal' }, () =>
          snapshotTable(snapshot, 'Temporal (the workflow)'),
        );
      });
    });

  registerCancellationActionCommands(program);
}
