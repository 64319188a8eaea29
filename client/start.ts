import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
} from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import { CancelflowError } from '../common/errors';
import { cancellationWorkflowId, orderRefOf } from '../contract/ids';
import type { cancellationWorkflow } from '../workflows/cancellation';
import { acceptUpdate, statusUpdate } from '../workflows/definitions';
import { cancellationStartLabels } from '../workflows/start-options';
import {
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_TIMINGS,
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationSnapshot,
} from '../contract/cancellation';
import { parseOrThrow, startCancellationSchema, type StartCancellationRequest } from './validation';
import type { CancelflowClientOptions, StartedCancellation, StartOptions } from './types';

/**
 * Where ops' retry runs: the retried cancellation's own workflow id (`StartOptions.workflowId`),
 * which must be one of this app's cancellation ids (`prefix`).
 */
function retryWorkflowId(start: StartOptions, prefix: string): string | undefined {
  if (!start.workflowId) return undefined;
  if (!start.retryOf || !start.workflowId.startsWith(prefix))
    throw new CancelflowError(
      'INVALID_OPTION',
      `workflowId ${start.workflowId} is only for a retry, of one of this app's cancellations`,
    );
  return start.workflowId;
}

/** gRPC's DEADLINE_EXCEEDED, on the error or on its cause. */
function isDeadlineExceeded(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return [err, cause].some((e) => isGrpcServiceError(e) && e.code === grpcStatus.DEADLINE_EXCEEDED);
}

/** How long the question "where does the run stand" may take once the merchant's wait is over. */
const STATUS_AFTER_WAIT_MS = 10_000;
/** How long a retry waits for a settled run to finish its notification's first attempt and close. */
const CLOSING_WAIT_MS = 60_000;

/** `startCancellation`: one order's cancellation started (or found) and its first answer. */
export function createStart(options: CancelflowClientOptions) {
  const { client, config } = options;
  const taskQueue = config.temporal.taskQueue;

  /**
   * A run whose cancellation is settled can still be open for a while: making its notification's
   * first attempt. A retry or a follow-up started now would attach to it (USE_EXISTING) and be
   * answered by it: wait for it to close first (at most `CLOSING_WAIT_MS`, and the caller's
   * deadline). A run that is not settled is left alone: the start then answers what it is.
   */
  const closing = async (workflowId: string, deadlineAt: number): Promise<void> => {
    const handle = client.workflow.getHandle<typeof cancellationWorkflow>(workflowId);
    const bound = Math.min(Date.now() + CLOSING_WAIT_MS, deadlineAt);
    const open = await client
      .withDeadline(bound, async () => {
        if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
        // An update, never a query, to a run that may be in a local activity (see statusUpdate).
        const now = await handle.executeUpdate(statusUpdate);
        if (!TERMINAL_STATUSES.includes(now.status)) return now;
        await handle.result();
        return undefined;
      })
      .catch(() => undefined); // not there, or still open: the start below says where it stands
    // An UNRESOLVED run holds for a late answer (days): a retry now would attach to it and change
    // nothing. Said plainly, with what to do.
    if (open?.status === 'UNRESOLVED')
      throw new CancelflowError(
        'HOLDING',
        `${open.cancelOrderId} is UNRESOLVED and its run holds it for a late provider answer: ` +
          'ask the provider now (cancelflow requery); a retry starts once the hold has ended',
      );
  };

  /**
   * A closed run's answer that stands for the order: final, not failed for our own reasons, and
   * about this workflow id's own cancellation. A run that answered a repeat from the record of a
   * cancellation of another of the order's numbers does not stand: ops may have retried that one
   * since (a retry runs under the retried one's own id, `retryWorkflowId`), and Postgres knows
   * which is current.
   */
  const standing = (
    last: CancellationSnapshot | undefined,
    workflowId: string,
  ): last is CancellationSnapshot =>
    last !== undefined &&
    TERMINAL_STATUSES.includes(last.status) &&
    !last.retryable &&
    last.workflowId === workflowId;

  /**
   * Starts the cancellation of one order, idempotently: the same order from the same app gives
   * the same cancellation (running or finished), and a finished one is never redone.
   */
  async function startCancellation(
    request: StartCancellationRequest,
    start: StartOptions = {},
  ): Promise<StartedCancellation> {
    // The notifyUrl is checked against the delivery policy now, not found undeliverable later.
    const v = parseOrThrow(startCancellationSchema(config.notifications), request);
    const app = config.apps.find((a) => a.mchNo === v.mchNo && a.appId === v.appId);
    if (!app) throw new CancelflowError('UNKNOWN_APP', `app ${v.mchNo}/${v.appId} is not configured`);
    const account = config.accounts.find((a) => a.id === app.account);
    if (!account) throw new CancelflowError('UNKNOWN_ACCOUNT', `account ${app.account} is not configured`);
    const order = {
      ...(v.payOrderId ? { payOrderId: v.payOrderId } : {}),
      ...(v.mchOrderNo ? { mchOrderNo: v.mchOrderNo } : {}),
    };
    const orderRef = orderRefOf(order);
    const workflowId =
      retryWorkflowId(start, cancellationWorkflowId(account.id, v, '')) ??
      cancellationWorkflowId(account.id, v, orderRef);
    const input: CancellationInput = {
      accountId: account.id,
      provider: account.provider,
      mchNo: v.mchNo,
      appId: v.appId,
      order,
      orderRef,
      ...(v.notifyUrl ? { notifyUrl: v.notifyUrl } : {}),
      ...(v.extParam ? { extParam: v.extParam } : {}),
      ...(v.clientIp ? { clientIp: v.clientIp } : {}),
      ...(v.channelExtra ? { channelExtra: v.channelExtra } : {}),
      requestedAt: Date.now(),
      // Frozen at start: a default changed later never changes how this one runs or replays.
      timings: { ...DEFAULT_TIMINGS, ...options.timings },
      historyLimit: options.historyLimit ?? DEFAULT_HISTORY_LIMIT,
      ...(start.retryOf ? { retryOf: start.retryOf } : {}),
      // The app's paid-order policy, frozen at start like the timings.
      ...(start.paidOrders
        ? { paidOrders: start.paidOrders }
        : app.paidOrders !== 'refuse'
          ? { paidOrders: { policy: app.paidOrders, timeZone: app.paidOrdersTimeZone } }
          : {}),
      ...(start.operatorReason ? { operatorReason: start.operatorReason } : {}),
    };
    const waitMs = start.waitMs ?? 5_000;
    if (!Number.isFinite(waitMs) || waitMs < 0)
      throw new CancelflowError('INVALID_OPTION', `waitMs must be a number of ms ≥ 0, not ${waitMs}`);
    // The caller's deadline, if any, bounds every call below: a nested deadline replaces the
    // outer one in the client's context, so each is cut to it.
    const deadlineAt = start.deadlineMs === undefined ? Infinity : Date.now() + start.deadlineMs;
    const until = (ms: number) => Math.min(Date.now() + ms, deadlineAt);
    const started = (answer: CancellationSnapshot): StartedCancellation => ({
      cancelOrderId: answer.cancelOrderId,
      workflowId,
      created: answer.created === true,
      answer,
    });
    // One round trip: start the workflow (or attach to the running one) and ask for its answer.
    const ask = (reuse: 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE', takeOver: boolean) =>
      client.workflow.executeUpdateWithStart(acceptUpdate, {
        args: [{ waitMs }],
        startWorkflowOperation: new WithStartWorkflowOperation<typeof cancellationWorkflow>(
          'cancellationWorkflow',
          {
            workflowId,
            taskQueue,
            args: [takeOver ? { ...input, takeOver } : input],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: reuse,
            // What the Temporal UI shows for this run at a glance (the workflow adds its state).
            ...cancellationStartLabels(input),
          },
        ),
      });
    const answered = async (reuse: 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE', takeOver = false) => {
      try {
        return started(await ask(reuse, takeOver));
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          throw new CancelflowError(
            'NOT_RECORDED',
            `cancellation of ${orderRef} accepted, not recorded yet: ask again`,
            { cause: err },
          );
        throw err;
      }
    };
    const attempt = async (): Promise<StartedCancellation> => {
      if (start.retryOf) return answered('ALLOW_DUPLICATE');
      try {
        return await answered('REJECT_DUPLICATE');
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      // The order's cancellation ran and closed. A final answer stands (`standing`), unless it
      // failed for our own reasons (configuration): then a new run starts it again. A run that
      // closed without a final answer (UNRESOLVED: a repair may have completed the record since),
      // or that answered another workflow id's cancellation, is answered by a new run from
      // Postgres, the source of truth. A run that did not complete at all (terminated by hand) is
      // carried on by a new run, same cancellation, asking first.
      const last = await client.workflow
        .getHandle<typeof cancellationWorkflow>(workflowId)
        .result()
        .catch(() => undefined);
      if (standing(last, workflowId)) return started({ ...last, created: false });
      return answered('ALLOW_DUPLICATE', last === undefined);
    };
    // The run answers when the provider's first answer is in. Runs of the lean shape have no
    // timer of their own for the merchant's wait: past waitMs, this asks where the run stands
    // (the `status` update, which answers at once) and answers that, as the run's timer did before.
    const waited = async (): Promise<StartedCancellation> => {
      try {
        return await client.withDeadline(until(waitMs), attempt);
      } catch (err) {
        if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadlineExceeded(err))) throw err;
        // Bounded too: a run whose workflow task is held answers only when that task is done.
        const handle = client.workflow.getHandle<typeof cancellationWorkflow>(workflowId);
        const bounded = <T>(fn: () => Promise<T>) => client.withDeadline(until(STATUS_AFTER_WAIT_MS), fn);
        const notAnswered = (cause: unknown) =>
          new CancelflowError(
            'NOT_ANSWERED',
            `cancellation of ${orderRef} not answered within ${waitMs} ms; it goes on`,
            { cause },
          );
        const notRecorded = () =>
          new CancelflowError(
            'NOT_RECORDED',
            `cancellation of ${orderRef} accepted, not recorded yet: ask again`,
            { cause: err },
          );
        const run = await bounded(() => handle.describe()).catch((e: unknown) =>
          e instanceof WorkflowNotFoundError ? null : undefined,
        );
        if (run === undefined) throw notAnswered(err);
        if (run?.status.name === 'RUNNING') {
          // An update, never a query: one answered while the run's local activity has just
          // finished can leave a history that does not replay (see statusUpdate).
          const now = await bounded(() => handle.executeUpdate(statusUpdate)).catch(() => undefined);
          if (!now) throw notAnswered(err);
          if (!now.cancelOrderId) throw notRecorded();
          return started(now);
        }
        // No run (the wait ran out before the start reached Temporal), or the newest run is closed
        // (the wait ran out between the steps of `attempt`). A closed run answers only when its
        // answer stands, as in `attempt`; otherwise the run `attempt` would start is started now,
        // on its own deadline, and the merchant asks again.
        let takeOver = false;
        if (run && !start.retryOf) {
          const last = await bounded(() => handle.result()).catch(() => undefined);
          if (standing(last, workflowId)) return started({ ...last, created: false });
          takeOver = last === undefined;
        }
        await bounded(() =>
          client.workflow.start<typeof cancellationWorkflow>('cancellationWorkflow', {
            workflowId,
            taskQueue,
            args: [takeOver ? { ...input, takeOver } : input],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: run || start.retryOf ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
            ...cancellationStartLabels(input),
          }),
        ).catch((e: unknown) => {
          // Started since (a repeat raced this one): the next request is answered by it.
          if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw notAnswered(e);
        });
        throw notRecorded();
      }
    };
    if (start.retryOf) await closing(workflowId, deadlineAt);
    if (start.deadlineMs === undefined) return waited();
    try {
      return await client.withDeadline(deadlineAt, waited);
    } catch (err) {
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadlineExceeded(err))
        throw new CancelflowError(
          'NOT_ANSWERED',
          `cancellation of ${orderRef} not answered within ${start.deadlineMs} ms; it goes on`,
          { cause: err },
        );
      throw err;
    }
  }

  return startCancellation;
}
