/** `cancelflow settle`: ops' verdict on a cancellation no run or repair can decide. */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { CancelflowError } from '../../common/errors';
import { TERMINAL_STATUSES, type SettleInput } from '../../contract/cancellation';
import { settleWorkflowId } from '../../contract/ids';
import type { settleWorkflow } from '../../workflows/settle';
import { ValidationError } from '../index';
import { findCancellation } from '../records';
import { cliConfig, print, scopeOf, withDatabase, withTemporal, type Scoped } from './context';

/** The longest evidence kept: it shares the transition's 256-character reason with the operator's name. */
export const EVIDENCE_MAX = 200;

/** The settle's input from the command's options, refused with the option and why. */
export function settleInputOf(
  cancelOrderId: string,
  o: { as: string; evidence: string; operator?: string },
  env: { USER?: string } = process.env,
): Omit<SettleInput, 'notificationScheduleMs'> {
  const status = o.as.trim().toUpperCase();
  if (status !== 'SUCCEEDED' && status !== 'FAILED')
    throw new ValidationError('--as', 'must be SUCCEEDED (the provider cancelled it) or FAILED (it did not)');
  const evidence = o.evidence.trim();
  if (!evidence)
    throw new ValidationError('--evidence', 'must say what you checked with the provider, and where');
  if (evidence.length > EVIDENCE_MAX)
    throw new ValidationError(
      '--evidence',
      `at most ${EVIDENCE_MAX} characters (a ticket number, the provider's answer)`,
    );
  const operator = (o.operator ?? env.USER ?? '').trim();
  if (!operator) throw new ValidationError('--operator', 'must name who settles it (or set USER)');
  if (operator.length > 40) throw new ValidationError('--operator', 'at most 40 characters');
  return { cancelOrderId, status, evidence, operator };
}

export function registerSettleCommand(program: Command): void {
  program
    .command('settle')
    .description(
      'write the final state of a cancellation that no run or repair can decide (a Unified refusal after a cancel whose answer was lost), once you have checked with the provider; the merchant is notified. Not while a run of it is open',
    )
    .argument('<cancelOrderId>')
    .requiredOption('--as <status>', 'SUCCEEDED (the provider cancelled the order) or FAILED (it did not)')
    .requiredOption('--evidence <text>', 'what you checked with the provider, and where (kept in the record)')
    .option('--operator <name>', 'who settles it (default: $USER)')
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped & { as: string; evidence: string; operator?: string }) => {
      const input = settleInputOf(id, o);
      const scope = scopeOf(o);
      const config = cliConfig();
      const record = await withDatabase(config, (db) => findCancellation(db, id, scope));
      if (!record || record.cancel_order_id !== id)
        throw new CancelflowError('NOT_FOUND', `no cancellation ${id}${scope ? ' for that app' : ''}`);
      if (record.retired_at)
        throw new CancelflowError('RETIRED', `${id} was retried: settle the cancellation that superseded it`);
      if (TERMINAL_STATUSES.includes(record.status))
        throw new CancelflowError(
          'ALREADY_FINAL',
          `${id} is ${record.status} (state ${record.state}) already`,
        );
      await withTemporal(config, async ({ client }) => {
        const run = await client.workflow
          .getHandle(record.workflow_id)
          .describe()
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return undefined;
            throw err;
          });
        if (run?.status.name === 'RUNNING')
          throw new CancelflowError(
            'RUN_OPEN',
            `a run of ${id} is open (${record.status}): it may still decide. Stop it first ` +
              `(cancelflow terminate ${id} --reason ...), or ask it to query now (cancelflow requery ${id})`,
          );
        const schedule = config.timings?.notificationScheduleMs;
        const result = await client.workflow
          .execute<typeof settleWorkflow>('settleWorkflow', {
            workflowId: settleWorkflowId(id),
            taskQueue: config.temporal.taskQueue,
            args: [{ ...input, ...(schedule ? { notificationScheduleMs: schedule } : {}) }],
          })
          .catch((err: unknown) => {
            if (err instanceof WorkflowExecutionAlreadyStartedError)
              throw new CancelflowError(
                'SETTLING',
                `${id} is being settled already (${settleWorkflowId(id)})`,
              );
            throw err;
          });
        if (!result.applied)
          throw new CancelflowError(
            'NOT_SETTLED',
            `${id} not settled: ${result.reason}${result.status ? ` (it is ${result.status})` : ''}`,
          );
        print(
          Boolean(o.json),
          {
            cancelOrderId: id,
            workflowId: settleWorkflowId(id),
            status: result.status,
            reason: result.reason,
          },
          () =>
            `settled: ${id} is ${result.status} (${result.reason}); the merchant is notified if it gave a notifyUrl; ` +
            `\`cancelflow why ${id}\` shows the transition`,
        );
      });
    });
}
