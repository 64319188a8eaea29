import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Config } from '../common/config';
import { CancelflowError } from '../common/errors';
import { cancellationWorkflowId, orderRefOf } from '../contract/ids';
import type { cancellationWorkflow } from '../workflows/cancellation';
import { acceptUpdate, statusQuery } from '../workflows/definitions';
import { cancellationStartLabels } from '../workflows/start-options';
import type { notificationWorkflow } from '../workflows/notification';
import {
  CancelAccount,
  CancelMchNo,
  CancelNotification,
  CancelOrderId,
  CancelOrderRef,
  CancelProvider,
  CancelState,
} from '../workflows/search-attributes';
import {
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_TIMINGS,
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationSnapshot,
  type CancellationStatus,
  type CancellationTimings,
  type PaidOrderPolicy,
} from '../contract/cancellation';
import { notificationWorkflowId } from '../contract/ids';
import { parseOrThrow, startCancellationSchema, type StartCancellationRequest } from './validation';

export { ValidationError, type StartCancellationRequest } from './validation';
export type { CancellationSnapshot, CancellationStatus, CancellationTimings } from '../contract/cancellation';

export interface CancelflowClientOptions {
  client: Client;
  config: Pick<Config, 'apps' | 'accounts' | 'notifications'> & {
    temporal: Pick<Config['temporal'], 'taskQueue'>;
  };
  /** Override production timings (tests, demos). */
  timings?: Partial<CancellationTimings>;
  /** Override the history limit a run continues as new at (tests); frozen into each run's input. */
  historyLimit?: number;
}

export interface StartedCancellation {
  cancelOrderId: string;
  workflowId: string;
  /** False when this order already had a cancellation: that one is returned, nothing is redone. */
  created: boolean;
  /** Where the cancellation stands: after the provider's first answer, or after `waitMs`. */
  answer: CancellationSnapshot;
}

export interface StartOptions {
  /** How long to wait for the provider's first answer (default 5 s). */
  waitMs?: number;
  /**
   * The whole call's deadline, queueing in Temporal and the workers included (default: none).
   * Past it the call stops (no RPC left behind) with `NOT_ANSWERED`; the cancellation goes on.
   */
  deadlineMs?: number;
  /** Ops' retry of a cancellation that failed or is UNRESOLVED (see `retryCancellation`). */
  retryOf?: { cancelOrderId: string; force: boolean };
  /** Overrides the app's paid-order policy for this run (ops' follow-up by hand). */
  paidOrders?: PaidOrderPolicy;
  /** Why ops started it by hand (kept with its first transition). */
  operatorReason?: string;
}

/** Who is asking: an app sees only its own cancellations. */
export interface AppScope {
  mchNo: string;
  appId: string;
}

export interface CancellationSummary {
  workflowId: string;
  cancelOrderId: string;
  status: string;
  account: string;
  mchNo: string;
  orderRef: string;
  startTime: Date;
  closeTime?: Date;
}

export interface ListFilter {
  status?: CancellationStatus;
  account?: string;
  mchNo?: string;
  since?: Date;
  until?: Date;
  limit?: number;
}

export interface ExecutionFilter extends ListFilter {
  provider?: string;
  /** Only runs started for one of these order references (`pay:<payOrderId>`, `mch:<mchOrderNo>`). */
  orderRefs?: string[];
}

export interface CancellationExecution extends CancellationSummary {
  provider: string;
  /** Temporal's status of the run: RUNNING, COMPLETED, TERMINATED, FAILED, TIMED_OUT, CANCELLED. */
  execution: string;
}

/** gRPC's DEADLINE_EXCEEDED, on the error or on its cause. */
function isDeadlineExceeded(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return [err, cause].some((e) => isGrpcServiceError(e) && e.code === grpcStatus.DEADLINE_EXCEEDED);
}

const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** The typed client for backend services: start, get, wait, list, redeliver. */
/** How long the question "where does the run stand" may take once the merchant's wait is over. */
const QUERY_AFTER_WAIT_MS = 10_000;
/** How long a retry waits for a settled run to finish its notification's first attempt and close. */
const CLOSING_WAIT_MS = 60_000;

export function createCancelflowClient(options: CancelflowClientOptions) {
  const { client, config } = options;
  const taskQueue = config.temporal.taskQueue;

  /** The run that owns a cancelOrderId (a workflow id may hold several runs: retries, repeats). */
  const handleOf = async (idOrCancelOrderId: string) => {
    if (idOrCancelOrderId.startsWith('cancel/'))
      return client.workflow.getHandle<typeof cancellationWorkflow>(idOrCancelOrderId);
    for await (const execution of client.workflow.list({
      query: `WorkflowType = 'cancellationWorkflow' AND CancelOrderId = ${quote(idOrCancelOrderId)}`,
      pageSize: 1,
    })) {
      return client.workflow.getHandle<typeof cancellationWorkflow>(execution.workflowId, execution.runId);
    }
    throw new CancelflowError('NOT_FOUND', `no cancellation ${idOrCancelOrderId}`);
  };
  const inScope = (snapshot: CancellationSnapshot, id: string, scope?: AppScope): CancellationSnapshot => {
    if (scope && (snapshot.mchNo !== scope.mchNo || snapshot.appId !== scope.appId))
      throw new CancelflowError('NOT_FOUND', `no cancellation ${id} for app ${scope.mchNo}/${scope.appId}`);
    return snapshot;
  };

  /**
   * A run whose cancellation is settled can still be open for a while: making its notification's
   * first attempt. A retry or a follow-up started now would attach to it (USE_EXISTING) and be
   * answered by it: wait for it to close first (at most `CLOSING_WAIT_MS`, and the caller's
   * deadline). A run that is not settled is left alone: the start then answers what it is.
   */
  const closing = async (workflowId: string, deadlineAt: number): Promise<void> => {
    const handle = client.workflow.getHandle<typeof cancellationWorkflow>(workflowId);
    const bound = Math.min(Date.now() + CLOSING_WAIT_MS, deadlineAt);
    await client
      .withDeadline(bound, async () => {
        if ((await handle.describe()).status.name !== 'RUNNING') return;
        if (!TERMINAL_STATUSES.includes((await handle.query(statusQuery)).status)) return;
        await handle.result();
      })
      .catch(() => undefined); // not there, or still open: the start below says where it stands
  };

  return {
    /**
     * Starts the cancellation of one order, idempotently: the same order from the same app gives
     * the same cancellation (running or finished), and a finished one is never redone.
     */
    async startCancellation(
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
      const workflowId = cancellationWorkflowId(account.id, v, orderRef);
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
        // The order's cancellation ran and closed. A final answer stands, unless it failed for our
        // own reasons (configuration): then a new run starts it again. A run that closed without
        // a final answer (UNRESOLVED: a repair may have completed the record since) is answered
        // by a new run from Postgres, the source of truth. A run that did not complete at all
        // (terminated by hand) is carried on by a new run, same cancellation, asking first.
        const last = await client.workflow
          .getHandle<typeof cancellationWorkflow>(workflowId)
          .result()
          .catch(() => undefined);
        if (last && TERMINAL_STATUSES.includes(last.status) && !last.retryable)
          return started({ ...last, created: false });
        return answered('ALLOW_DUPLICATE', last === undefined);
      };
      // The run answers when the provider's first answer is in. Runs of the lean shape have no
      // timer of their own for the merchant's wait: past waitMs, this asks where the run stands
      // (a query: no history event) and answers that, as the run's timer did before.
      const waited = async (): Promise<StartedCancellation> => {
        try {
          return await client.withDeadline(until(waitMs), attempt);
        } catch (err) {
          if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadlineExceeded(err)))
            throw err;
          // Bounded too: a run whose workflow task is held answers queries only when it is done.
          const now = await client
            .withDeadline(until(QUERY_AFTER_WAIT_MS), () =>
              client.workflow.getHandle<typeof cancellationWorkflow>(workflowId).query(statusQuery),
            )
            .catch((e: unknown) => (e instanceof WorkflowNotFoundError ? 'none' : undefined));
          if (now === 'none') {
            // The wait ran out before the start reached Temporal (a wait shorter than the round
            // trip): the run is started now, on its own deadline, and the merchant asks again.
            await client
              .withDeadline(until(QUERY_AFTER_WAIT_MS), () =>
                client.workflow.start<typeof cancellationWorkflow>('cancellationWorkflow', {
                  workflowId,
                  taskQueue,
                  args: [input],
                  workflowIdConflictPolicy: 'USE_EXISTING',
                  workflowIdReusePolicy: start.retryOf ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
                  ...cancellationStartLabels(input),
                }),
              )
              .catch((e: unknown) => {
                // Closed since (a repeat raced this one): the next request is answered by it.
                if (!(e instanceof WorkflowExecutionAlreadyStartedError))
                  throw new CancelflowError(
                    'NOT_ANSWERED',
                    `cancellation of ${orderRef} not started within ${waitMs} ms: send the same request again`,
                    { cause: e },
                  );
              });
            throw new CancelflowError(
              'NOT_RECORDED',
              `cancellation of ${orderRef} accepted, not recorded yet: ask again`,
              { cause: err },
            );
          }
          if (!now)
            throw new CancelflowError(
              'NOT_ANSWERED',
              `cancellation of ${orderRef} not answered within ${waitMs} ms; it goes on`,
              { cause: err },
            );
          if (!now.cancelOrderId)
            throw new CancelflowError(
              'NOT_RECORDED',
              `cancellation of ${orderRef} accepted, not recorded yet: ask again`,
              { cause: err },
            );
          return started(now);
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
    },

    /**
     * Starts a cancellation again: one that failed for our own reasons, or (`force`) one refused
     * by the provider or UNRESOLVED. The old one keeps its id and answers; the order gets a new one.
     */
    async retryCancellation(
      cancelOrderId: string,
      retry: { force?: boolean; scope?: AppScope } = {},
    ): Promise<StartedCancellation> {
      const current = await this.getCancellation(cancelOrderId, retry.scope);
      return this.startCancellation(
        { mchNo: current.mchNo, appId: current.appId, ...current.order },
        { retryOf: { cancelOrderId: current.cancelOrderId, force: retry.force === true } },
      );
    },

    /**
     * Ops' follow-up by hand of a PayBy paid-order refusal (FAILED, 62001/62003): a new run that
     * revokes (any day, while the order is paid and not settled) or refunds it in full, with the
     * reason kept in its first transition. Refused for anything else.
     */
    async followUpCancellation(
      cancelOrderId: string,
      followUp: { via: 'revoke' | 'refund'; reason: string; scope?: AppScope },
    ): Promise<StartedCancellation> {
      const current = await this.getCancellation(cancelOrderId, followUp.scope);
      if (
        current.provider !== 'payby' ||
        current.status !== 'FAILED' ||
        !['62001', '62003'].includes(current.errCode ?? '')
      )
        throw new CancelflowError(
          'NOT_A_PAID_ORDER',
          `${cancelOrderId} is ${current.status} ${current.errCode ?? ''} at ${current.provider}: only a PayBy paid-order refusal (62001/62003) has a follow-up`,
        );
      const app = config.apps.find((a) => a.mchNo === current.mchNo && a.appId === current.appId);
      return this.startCancellation(
        { mchNo: current.mchNo, appId: current.appId, ...current.order },
        {
          retryOf: { cancelOrderId: current.cancelOrderId, force: true },
          paidOrders:
            followUp.via === 'revoke'
              ? { policy: 'revoke', timeZone: app?.paidOrdersTimeZone ?? 'UTC', anyDay: true }
              : { policy: 'refund', timeZone: app?.paidOrdersTimeZone ?? 'UTC' },
          operatorReason: `follow-up --${followUp.via}: ${followUp.reason}`,
        },
      );
    },

    /** The current snapshot, by workflow id or cancelOrderId; with a scope, only that app's. */
    async getCancellation(idOrCancelOrderId: string, scope?: AppScope): Promise<CancellationSnapshot> {
      const handle = await handleOf(idOrCancelOrderId);
      const workflowId = handle.workflowId;
      let description;
      try {
        description = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw new CancelflowError('NOT_FOUND', `no cancellation ${idOrCancelOrderId}`);
        throw err;
      }
      switch (description.status.name) {
        case 'RUNNING': {
          // "created" answers a start, not a look.
          const { created: _created, ...now } = await handle.query(statusQuery);
          return inScope(now, idOrCancelOrderId, scope);
        }
        case 'COMPLETED':
        case 'CONTINUED_AS_NEW':
          return inScope(await handle.result(), idOrCancelOrderId, scope);
        default:
          throw new CancelflowError(
            `WORKFLOW_${description.status.name}`,
            `cancellation ${workflowId} ended ${description.status.name}; see the Temporal UI`,
          );
      }
    },

    /** Resolves with the final snapshot once the cancellation is terminal (or UNRESOLVED). */
    async waitForResult(idOrCancelOrderId: string, scope?: AppScope): Promise<CancellationSnapshot> {
      const handle = await handleOf(idOrCancelOrderId);
      return inScope(await handle.result(), idOrCancelOrderId, scope);
    },

    /**
     * Cancellations from Temporal's visibility store, newest first: one entry per cancellation
     * (workflow id), from its newest run. A closed run's search attributes cannot change, so a
     * repair outside the workflow is recorded by a newer run of the id (activities/record-run.ts):
     * a run that matches the filter but is not the newest of its id is not the truth, and left out.
     */
    async listCancellations(filter: ListFilter = {}): Promise<CancellationSummary[]> {
      const clauses = [`WorkflowType = 'cancellationWorkflow'`];
      if (filter.status) clauses.push(`CancelState = ${quote(filter.status)}`);
      if (filter.account) clauses.push(`CancelAccount = ${quote(filter.account)}`);
      if (filter.mchNo) clauses.push(`CancelMchNo = ${quote(filter.mchNo)}`);
      if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
      if (filter.until) clauses.push(`StartTime < ${quote(filter.until.toISOString())}`);
      const limit = filter.limit ?? 100;
      const out: CancellationSummary[] = [];
      const seen = new Set<string>();
      for await (const e of client.workflow.list({
        query: clauses.join(' AND '),
        pageSize: Math.min(limit, 1000),
      })) {
        // Open runs come first, then closed ones newest close first: the first of an id is its newest.
        if (seen.has(e.workflowId)) continue;
        seen.add(e.workflowId);
        if (filter.status) {
          const newest = await client.workflow
            .getHandle(e.workflowId)
            .describe()
            .catch(() => undefined);
          if (newest && newest.runId !== e.runId) continue;
        }
        out.push(summaryOf(e));
        if (out.length >= limit) break;
      }
      return out;
    },

    /**
     * Runs of cancellations, newest start first, each with Temporal's status of the run. Visibility
     * lists open runs first, then closed ones by close time, newest first; a run closes after it
     * starts, so once a run closed before the oldest start kept, no later one can be newer. A run
     * continued as new is left out: its successor is listed.
     */
    async listExecutions(filter: ExecutionFilter = {}): Promise<CancellationExecution[]> {
      const clauses = [`WorkflowType = 'cancellationWorkflow'`, `ExecutionStatus != 'ContinuedAsNew'`];
      if (filter.status) clauses.push(`CancelState = ${quote(filter.status)}`);
      if (filter.account) clauses.push(`CancelAccount = ${quote(filter.account)}`);
      if (filter.provider) clauses.push(`CancelProvider = ${quote(filter.provider)}`);
      if (filter.mchNo) clauses.push(`CancelMchNo = ${quote(filter.mchNo)}`);
      if (filter.orderRefs?.length)
        clauses.push(`CancelOrderRef IN (${filter.orderRefs.map(quote).join(', ')})`);
      if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
      if (filter.until) clauses.push(`StartTime < ${quote(filter.until.toISOString())}`);
      const limit = filter.limit ?? 100;
      const kept: CancellationExecution[] = [];
      for await (const e of client.workflow.list({
        query: clauses.join(' AND '),
        pageSize: Math.min(Math.max(limit, 100), 1000),
      })) {
        const oldest = kept.length >= limit ? kept[kept.length - 1]?.startTime.getTime() : undefined;
        if (oldest !== undefined && e.closeTime && e.closeTime.getTime() < oldest) break;
        const run = {
          ...summaryOf(e),
          provider: e.typedSearchAttributes.get(CancelProvider) ?? '',
          execution: e.status.name,
        };
        const at = kept.findIndex((k) => k.startTime.getTime() < run.startTime.getTime());
        kept.splice(at === -1 ? kept.length : at, 0, run);
        if (kept.length > limit) kept.pop();
      }
      return kept;
    },

    /**
     * A fresh round of notification attempts for a terminal cancellation: same notification id,
     * same signed payload. Refused while a round is running.
     */
    async redeliverNotification(
      cancelOrderId: string,
      scheduleMs?: number[],
    ): Promise<{ workflowId: string }> {
      const workflowId = notificationWorkflowId(cancelOrderId);
      const child = await client.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          (d) => d.status.name,
          (err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return 'NONE';
            throw err;
          },
        );
      if (child === 'RUNNING')
        throw new CancelflowError('DELIVERING', `a delivery round for ${cancelOrderId} is still running`);
      if (child === 'NONE') {
        // No notification run: the cancellation's own run made the only round so far (its first
        // attempt delivered, or was the schedule's only one), is making it, or there is none.
        const run = await handleOf(cancelOrderId);
        const described = await run.describe().catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError)
            throw new CancelflowError('NOT_FOUND', `no cancellation ${cancelOrderId}`);
          throw err;
        });
        const noNotification = () =>
          new CancelflowError(
            'NOT_FOUND',
            `cancellation ${cancelOrderId} has no notification to redeliver (yet)`,
          );
        switch (described.status.name) {
          case 'RUNNING': {
            // Making its first attempt (or not final yet): a second round now would race it.
            const now = await run.query(statusQuery);
            if (TERMINAL_STATUSES.includes(now.status))
              throw new CancelflowError(
                'DELIVERING',
                `the run of ${cancelOrderId} is making its notification's first attempt`,
              );
            throw noNotification();
          }
          case 'COMPLETED':
          case 'CONTINUED_AS_NEW': {
            const last = await run.result();
            if (
              !TERMINAL_STATUSES.includes(last.status) ||
              (last.notification === undefined && !last.notificationWorkflowId && last.notifies !== true)
            )
              throw noNotification();
            break;
          }
          default:
          // Stopped by hand (terminated, cancelled), maybe during the first attempt: Temporal cannot
          // tell what is owed. The notification workflow reads the row and delivers only a final
          // state to its notifyUrl (refused, visibly, otherwise).
        }
      }
      const schedule = scheduleMs ?? options.timings?.notificationScheduleMs;
      await client.workflow.start<typeof notificationWorkflow>('notificationWorkflow', {
        workflowId,
        taskQueue,
        args: [{ cancelOrderId, ...(schedule ? { scheduleMs: schedule } : {}) }],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [{ key: CancelNotification, value: 'pending' }],
      });
      return { workflowId };
    },
  };
}

function summaryOf(e: WorkflowExecutionInfo): CancellationSummary {
  const sa = e.typedSearchAttributes;
  return {
    workflowId: e.workflowId,
    cancelOrderId: sa.get(CancelOrderId) ?? '',
    status: sa.get(CancelState) ?? '',
    account: sa.get(CancelAccount) ?? '',
    mchNo: sa.get(CancelMchNo) ?? '',
    orderRef: sa.get(CancelOrderRef) ?? '',
    startTime: e.startTime,
    ...(e.closeTime ? { closeTime: e.closeTime } : {}),
  };
}

export type CancelflowClient = ReturnType<typeof createCancelflowClient>;
