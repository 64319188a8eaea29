/** The cancellation commands that act on one: retry, requery, terminate and redeliver. */
import type { Command } from 'commander';
import { providerOutcomeSignal } from '../../workflows/definitions';
import { ValidationError } from '../index';
import { carryOnCommand, runningRun } from './cancellation-lookup';
import { EXIT, cliConfig, print, scopeOf, withTemporal, type Scoped } from './context';

/** Registers `retry`, `requery`, `terminate` and `redeliver`, in that order. */
export function registerCancellationActionCommands(program: Command): void {
  program
    .command('retry')
    .description(
      'start a cancellation again: one that FAILED for our own reasons (configuration); with --force also a provider refusal or an UNRESOLVED one',
    )
    .argument('<cancelOrderId>', 'the cancellation to retry')
    .option('--force', 'also retry a business refusal or an UNRESOLVED cancellation')
    .option(
      '--money-checked',
      'with --force: also an UNRESOLVED revoke or refund of a paid order, once you have checked at the provider that it moved no money',
    )
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped & { force?: boolean; moneyChecked?: boolean }) => {
      const scope = scopeOf(o);
      await withTemporal(cliConfig(), async ({ cancelflow }) => {
        const started = await cancelflow.retryCancellation(id, {
          force: o.force === true,
          ...(o.moneyChecked ? { moneyChecked: true } : {}),
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
