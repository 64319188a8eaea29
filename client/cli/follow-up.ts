import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ValidationError } from '../index';
import { cliConfig, EXIT, print, scopeOf, withTemporal, type Scoped } from './context';

/**
 * `follow-up <cancelOrderId> --revoke|--refund --reason <text>`: ops reverse a paid order PayBy
 * refused to cancel (FAILED, 62001/62003) by hand. It moves money, so it asks for confirmation
 * (or `--yes`), and the reason is kept with the new run's first transition.
 */
export function registerFollowUpCommand(program: Command): void {
  program
    .command('follow-up')
    .description('revoke or refund a paid order PayBy refused to cancel (62001/62003), by hand')
    .argument('<cancelOrderId>', 'the FAILED ORDER_PAID / ORDER_SETTLED cancellation')
    .option('--revoke', 'revoke the payment (paid, not settled)')
    .option('--refund', 'refund the payment in full')
    .option('--reason <text>', 'why (kept with the cancellation)')
    .option('--yes', 'do not ask for confirmation')
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(
      async (
        id: string,
        o: Scoped & { revoke?: boolean; refund?: boolean; reason?: string; yes?: boolean },
      ) => {
        if (Boolean(o.revoke) === Boolean(o.refund))
          throw new ValidationError('--revoke', 'give exactly one of --revoke and --refund');
        if (!o.reason?.trim()) throw new ValidationError('--reason', 'is required (an audit reason)');
        const via = o.revoke ? 'revoke' : 'refund';
        const scope = scopeOf(o);
        if (!o.yes) {
          if (!process.stdin.isTTY)
            throw new ValidationError('--yes', `confirm the ${via} with --yes when not at a terminal`);
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`This moves money: ${via} the payment of ${id} at PayBy? [y/N] `);
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            process.stderr.write('not confirmed: nothing done\n');
            process.exitCode = EXIT.conflict;
            return;
          }
        }
        await withTemporal(cliConfig(), async ({ cancelflow }) => {
          const started = await cancelflow.followUpCancellation(id, {
            via,
            reason: o.reason!.trim(),
            ...(scope ? { scope } : {}),
          });
          print(Boolean(o.json), started, () =>
            started.cancelOrderId === id
              ? `not started: ${id} is ${started.answer.status}`
              : `${via} started: ${id} → ${started.cancelOrderId} (${started.answer.status}, state ${started.answer.state}); cancelflow status ${started.cancelOrderId}`,
          );
          if (started.cancelOrderId === id) process.exitCode = EXIT.conflict;
        });
      },
    );
}
