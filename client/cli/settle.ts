/** `cancelflow settle`: ops' verdict on a cancellation no run or repair can decide. */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { CancelflowError } from '../../common/errors';
import { TERMINAL_STATUSES, type SettleInput } from '../../contract/cancellation';
import { settleWorkflowId } from '../../contract/ids';
import type { settleWorkflow } from '../../workflows/settle';
import { ValidationError } from '../index';
import { findCancellation, type CancellationRecord } from '../records';
import { cliConfig, print, scopeOf, withDatabase, withTemporal, type Scoped } from './context';

/**
 * The longest evidence and operator name: with "settled by hand by …: " they fit the transition's
 * 256-character reason whole, and the record run's "completed outside its run: …" in Temporal too.
 */
export const EVIDENCE_MAX = 160;
export const OPERATOR_MAX = 40;
/** How long after the CLI looked at the row its verdict may still be written. */
export const SETTLE_WITHIN_MS = 10 * 60_000;

/** The longest channel order number the record keeps (`cancellations.channel_order_no`). */
export const CHANNEL_ORDER_NO_MAX = 64;

/** How far a provider's clock (or ours) may be off: a success time this much ahead of now, or before the request, is still believed. */
export const CLOCK_SKEW_MS = 5 * 60_000;

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 time with its zone in epoch ms, or NaN when it names no real instant (31 February). */
function isoMs(text: string): number {
  const m = ISO_TIME.exec(text);
  if (!m) return Number.NaN;
  const [y, mo, d, h, mi, s = '0', frac = '0'] = m.slice(1, 8).map((v: string | undefined) => v);
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const local = new Date(Date.UTC(...fields, Number(frac.padEnd(3, '0'))));
  const same =
    local.getUTCFullYear() === fields[0] &&
    local.getUTCMonth() === fields[1] &&
    local.getUTCDate() === fields[2] &&
    local.getUTCHours() === fields[3] &&
    local.getUTCMinutes() === fields[4] &&
    local.getUTCSeconds() === fields[5];
  return same ? Date.parse(text) : Number.NaN;
}

/** `--success-time`: a 13-digit epoch-millisecond time (seed 000's form) or an ISO 8601 time with its zone. */
function successTimeOf(text: string, now: number): number {
  const t = text.trim();
  const ms = /^\d{13}$/.test(t) ? Number(t) : isoMs(t);
  if (!Number.isSafeInteger(ms))
    throw new ValidationError(
      '--success-time',
      'must be a 13-digit epoch-millisecond time or an ISO 8601 time with its zone (2026-12-02T16:03:00+08:00)',
    );
  if (ms > now + CLOCK_SKEW_MS)
    throw new ValidationError('--success-time', 'is in the future: the provider has not cancelled it yet');
  return ms;
}

/** The settle's input from the command's options, refused with the option and why. */
export function settleInputOf(
  cancelOrderId: string,
  o: { as: string; evidence: string; operator: string; successTime?: string; channelOrderNo?: string },
  now = Date.now(),
): Omit<SettleInput, 'notificationScheduleMs' | 'expected'> {
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
  const operator = o.operator.trim();
  if (!operator) throw new ValidationError('--operator', 'must name who settles it');
  if (operator.length > OPERATOR_MAX)
    throw new ValidationError('--operator', `at most ${OPERATOR_MAX} characters`);
  if (status === 'FAILED' && (o.successTime !== undefined || o.channelOrderNo !== undefined))
    throw new ValidationError(
      o.successTime !== undefined ? '--success-time' : '--channel-order-no',
      'only with --as SUCCEEDED: a cancel that did not happen has no success time or channel order',
    );
  const channelOrderNo = o.channelOrderNo?.trim();
  if (
    channelOrderNo !== undefined &&
    !new RegExp(`^[\\x21-\\x7e]{1,${CHANNEL_ORDER_NO_MAX}}$`).test(channelOrderNo)
  )
    throw new ValidationError(
      '--channel-order-no',
      `must be 1 to ${CHANNEL_ORDER_NO_MAX} printable characters without spaces, as the provider gave it`,
    );
  return {
    cancelOrderId,
    status,
    evidence,
    operator,
    ...(o.successTime !== undefined ? { successTime: successTimeOf(o.successTime, now) } : {}),
    ...(channelOrderNo !== undefined ? { channelOrderNo } : {}),
  };
}

/** Why a record cannot be settled by hand, or undefined when it can. */
function unsettleable(record: CancellationRecord & { follow_up?: string | null }, moneyChecked: boolean) {
  const id = record.cancel_order_id;
  if (record.retired_at)
    return new CancelflowError('RETIRED', `${id} was retried: settle the cancellation that superseded it`);
  if (TERMINAL_STATUSES.includes(record.status))
    return new CancelflowError('ALREADY_FINAL', `${id} is ${record.status} (state ${record.state}) already`);
  if (record.status !== 'UNRESOLVED')
    return new CancelflowError(
      'NOT_UNRESOLVED',
      `${id} is ${record.status}: only an UNRESOLVED cancellation is settled by hand (its run has given up). ` +
        'A stopped run is carried on by `cancelflow start` (it asks the provider first)',
    );
  if (record.follow_up && !moneyChecked)
    return new CancelflowError(
      'FOLLOW_UP_UNSETTLED',
      `${id} is UNRESOLVED during a ${record.follow_up} of the paid order: it may have moved money. ` +
        'Check at the provider, then settle it with --money-checked',
    );
  return undefined;
}

export function registerSettleCommand(program: Command): void {
  program
    .command('settle')
    .description(
      'write the final state of an UNRESOLVED cancellation that no run or repair can decide (a Unified refusal after a cancel whose answer was lost: ask the gateway about the payment order, the lost cancel may be under a cancel order id we never learnt), once you have checked with the provider; the merchant is notified. Not while a run of it is open',
    )
    .argument('<cancelOrderId>')
    .requiredOption('--as <status>', 'SUCCEEDED (the provider cancelled the order) or FAILED (it did not)')
    .requiredOption('--evidence <text>', 'what you checked with the provider, and where (kept in the record)')
    .requiredOption('--operator <name>', 'who settles it (kept with the evidence)')
    .option(
      '--success-time <time>',
      'with SUCCEEDED: when the provider cancelled it, as it told you (13-digit epoch ms or ISO 8601 with zone); told to the merchant',
    )
    .option(
      '--channel-order-no <no>',
      'with SUCCEEDED: the channel order number the provider gave; told to the merchant',
    )
    .option(
      '--money-checked',
      "also one UNRESOLVED during a paid order's revoke/refund, once checked at the provider",
    )
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(
      async (
        id: string,
        o: Scoped & {
          as: string;
          evidence: string;
          operator: string;
          successTime?: string;
          channelOrderNo?: string;
          moneyChecked?: boolean;
        },
      ) => {
        const input = settleInputOf(id, o);
        const scope = scopeOf(o);
        const config = cliConfig();
        const record = await withDatabase(config, (db) => findCancellation(db, id, scope));
        if (!record || record.cancel_order_id !== id)
          throw new CancelflowError('NOT_FOUND', `no cancellation ${id}${scope ? ' for that app' : ''}`);
        const refused = unsettleable(record, o.moneyChecked === true);
        if (refused) throw refused;
        if (
          input.successTime !== undefined &&
          input.successTime < record.created_at.getTime() - CLOCK_SKEW_MS
        )
          throw new ValidationError(
            '--success-time',
            `is before ${id} was requested (${record.created_at.toISOString()}): not when this cancel succeeded`,
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
              args: [
                {
                  ...input,
                  expected: {
                    status: 'UNRESOLVED',
                    workflowRunId: record.workflow_run_id ?? null,
                    // Never a verdict written long after ops looked; once written, what follows
                    // it (the run that shows it, the notification) always runs: no execution timeout.
                    until: Date.now() + SETTLE_WITHIN_MS,
                  },
                  ...(schedule ? { notificationScheduleMs: schedule } : {}),
                },
              ],
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
              result.reason === 'no such cancellation' ? 'NOT_FOUND' : 'NOT_SETTLED',
              `${id} not settled: ${result.reason}${result.status ? ` (it is ${result.status} now)` : ''}`,
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
      },
    );
}
