import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import type { Config } from '../common/config';
import { CancelflowError } from '../common/errors';
import { cancellationWorkflowId, newCancelOrderId, orderRefOf } from '../common/ids';
import type { cancellationWorkflow } from '../workflows/cancellation';
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
  notificationWorkflowId,
  type CancellationInput,
  type CancellationSnapshot,
  type CancellationStatus,
  type CancellationTimings,
} from '../workflows/types';
import { parseOrThrow, startCancellationSchema, type StartCancellationRequest } from './validation';

export { ValidationError, type StartCancellationRequest } from './validation';
export type { CancellationSnapshot, CancellationStatus, CancellationTimings } from '../workflows/types';

export interface CancelflowClientOptions {
  client: Client;
  config: Pick<Config, 'apps' | 'accounts'> & { temporal: Pick<Config['temporal'], 'taskQueue'> };
  /** Override production timings (tests, demos). */
  timings?: Partial<CancellationTimings>;
}

export interface StartedCancellation {
  cancelOrderId: string;
  workflowId: string;
  /** False when this order already had a cancellation: that one is returned, nothing is redone. */
  created: boolean;
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

interface Memo {
  cancelOrderId?: string;
}

const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** The typed client for backend services: start, get, wait, list, redeliver. */
export function createCancelflowClient(options: CancelflowClientOptions) {
  const { client, config } = options;
  const taskQueue = config.temporal.taskQueue;

  const memoOf = async (workflowId: string): Promise<Memo> => {
    const description = await client.workflow.getHandle(workflowId).describe();
    return description.memo ?? {};
  };

  const resolveWorkflowId = async (idOrCancelOrderId: string): Promise<string> => {
    if (idOrCancelOrderId.startsWith('cancel/')) return idOrCancelOrderId;
    for await (const execution of client.workflow.list({
      query: `WorkflowType = 'cancellationWorkflow' AND CancelOrderId = ${quote(idOrCancelOrderId)}`,
      pageSize: 1,
    })) {
      return execution.workflowId;
    }
    throw new CancelflowError('NOT_FOUND', `no cancellation ${idOrCancelOrderId}`);
  };

  return {
    /**
     * Starts the cancellation of one order, idempotently: the same order from the same app gives
     * the same cancellation (running or finished), and a finished one is never redone.
     */
    async startCancellation(request: StartCancellationRequest): Promise<StartedCancellation> {
      const v = parseOrThrow(startCancellationSchema, request);
      const app = config.apps.find((a) => a.mchNo === v.mchNo && a.appId === v.appId);
      if (!app) throw new CancelflowError('UNKNOWN_APP', `app ${v.mchNo}/${v.appId} is not configured`);
      const account = config.accounts.find((a) => a.id === app.account);
      if (!account) throw new CancelflowError('UNKNOWN_ACCOUNT', `account ${app.account} is not configured`);
      const order = {
        ...(v.payOrderId ? { payOrderId: v.payOrderId } : {}),
        ...(v.mchOrderNo ? { mchOrderNo: v.mchOrderNo } : {}),
      };
      const orderRef = orderRefOf(order);
      const workflowId = cancellationWorkflowId(account.id, orderRef);
      const cancelOrderId = newCancelOrderId();
      const input: CancellationInput = {
        cancelOrderId,
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
        ...(options.timings ? { timings: options.timings } : {}),
      };
      try {
        await client.workflow.start<typeof cancellationWorkflow>('cancellationWorkflow', {
          workflowId,
          taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          memo: { cancelOrderId, orderRef, mchNo: v.mchNo, appId: v.appId, ...order },
          typedSearchAttributes: [
            { key: CancelAccount, value: account.id },
            { key: CancelProvider, value: account.provider },
            { key: CancelState, value: 'RECEIVED' },
            { key: CancelOrderRef, value: orderRef },
            { key: CancelMchNo, value: v.mchNo },
            { key: CancelOrderId, value: cancelOrderId },
          ],
        });
      } catch (err) {
        // The order's cancellation already finished: return it, never redo it.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      // With USE_EXISTING a running cancellation is returned as is: its id, not ours, counts.
      const existing = (await memoOf(workflowId)).cancelOrderId;
      if (!existing) throw new CancelflowError('CORRUPT', `workflow ${workflowId} carries no cancelOrderId`);
      return { cancelOrderId: existing, workflowId, created: existing === cancelOrderId };
    },

    /** The current snapshot, by workflow id or cancelOrderId. */
    async getCancellation(idOrCancelOrderId: string): Promise<CancellationSnapshot> {
      const workflowId = await resolveWorkflowId(idOrCancelOrderId);
      const handle = client.workflow.getHandle<typeof cancellationWorkflow>(workflowId);
      let description;
      try {
        description = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw new CancelflowError('NOT_FOUND', `no cancellation ${idOrCancelOrderId}`);
        throw err;
      }
      switch (description.status.name) {
        case 'RUNNING':
          return handle.query<CancellationSnapshot>('status');
        case 'COMPLETED':
        case 'CONTINUED_AS_NEW':
          return handle.result();
        default:
          throw new CancelflowError(
            `WORKFLOW_${description.status.name}`,
            `cancellation ${workflowId} ended ${description.status.name}; see the Temporal UI`,
          );
      }
    },

    /** Resolves with the final snapshot once the cancellation is terminal (or UNRESOLVED). */
    async waitForResult(idOrCancelOrderId: string): Promise<CancellationSnapshot> {
      const workflowId = await resolveWorkflowId(idOrCancelOrderId);
      return client.workflow.getHandle<typeof cancellationWorkflow>(workflowId).result();
    },

    /** Cancellations from Temporal's visibility store, newest first. */
    async listCancellations(filter: ListFilter = {}): Promise<CancellationSummary[]> {
      const clauses = [`WorkflowType = 'cancellationWorkflow'`];
      if (filter.status) clauses.push(`CancelState = ${quote(filter.status)}`);
      if (filter.account) clauses.push(`CancelAccount = ${quote(filter.account)}`);
      if (filter.mchNo) clauses.push(`CancelMchNo = ${quote(filter.mchNo)}`);
      if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
      if (filter.until) clauses.push(`StartTime < ${quote(filter.until.toISOString())}`);
      const limit = filter.limit ?? 100;
      const out: CancellationSummary[] = [];
      for await (const e of client.workflow.list({
        query: clauses.join(' AND '),
        pageSize: Math.min(limit, 1000),
      })) {
        out.push(summaryOf(e));
        if (out.length >= limit) break;
      }
      return out;
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
      let status: string;
      try {
        status = (await client.workflow.getHandle(workflowId).describe()).status.name;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw new CancelflowError(
            'NOT_FOUND',
            `cancellation ${cancelOrderId} has no notification to redeliver`,
          );
        throw err;
      }
      if (status === 'RUNNING')
        throw new CancelflowError('DELIVERING', `a delivery round for ${cancelOrderId} is still running`);
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
    cancelOrderId: ((e.memo ?? {}) as Memo).cancelOrderId ?? '',
    status: sa.get(CancelState) ?? '',
    account: sa.get(CancelAccount) ?? '',
    mchNo: sa.get(CancelMchNo) ?? '',
    orderRef: sa.get(CancelOrderRef) ?? '',
    startTime: e.startTime,
    ...(e.closeTime ? { closeTime: e.closeTime } : {}),
  };
}

export type CancelflowClient = ReturnType<typeof createCancelflowClient>;
