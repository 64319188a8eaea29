import { WorkflowNotFoundError } from '@temporalio/client';
import { CancelflowError } from '../common/errors';
import { statusQuery } from '../workflows/definitions';
import { type CancellationSnapshot } from '../contract/cancellation';
import type { AppScope, CancelflowClientOptions, StartedCancellation } from './types';
import { runsOf } from './runs';
import { createStart } from './start';
import { createListing } from './listing';
import { createRedelivery } from './notifications';

export { ValidationError, type StartCancellationRequest } from './validation';
export { signalStoredCallback, type StoredCallback } from './callbacks';
export type { CancellationSnapshot, CancellationStatus, CancellationTimings } from '../contract/cancellation';
export type * from './types';

/**
 * The typed client for backend services and ops: start, get, wait, list, retry, follow up,
 * redeliver. Each part lives in its own file (start.ts, listing.ts, notifications.ts, runs.ts;
 * callbacks.ts: what the API's provider-callback endpoint tells a cancellation).
 */
export function createCancelflowClient(options: CancelflowClientOptions) {
  const { client, config } = options;
  const { handleOf, inScope } = runsOf(client);

  return {
    startCancellation: createStart(options),

    /**
     * Starts a cancellation again: one that failed for our own reasons, or (`force`) one refused
     * by the provider or UNRESOLVED. The old one keeps its id and answers; the order gets a new one.
     */
    async retryCancellation(
      cancelOrderId: string,
      retry: { force?: boolean; moneyChecked?: boolean; scope?: AppScope } = {},
    ): Promise<StartedCancellation> {
      const current = await this.getCancellation(cancelOrderId, retry.scope);
      if (current.followUp && current.status === 'UNRESOLVED' && !retry.moneyChecked)
        throw new CancelflowError(
          'FOLLOW_UP_UNSETTLED',
          `${current.cancelOrderId} is UNRESOLVED during a ${current.followUp} of the paid order: it may have moved money, and a new run could repeat it. Reconciliation settles it (cancelflow reconcile); once you have checked at the provider that it moved none, retry it with --force --money-checked.`,
        );
      return this.startCancellation(
        { mchNo: current.mchNo, appId: current.appId, ...current.order },
        {
          retryOf: {
            cancelOrderId: current.cancelOrderId,
            force: retry.force === true,
            ...(retry.moneyChecked ? { moneyChecked: true } : {}),
          },
          // Under the retried one's own id: that id's newest run tells how it ended.
          workflowId: current.workflowId,
        },
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
          workflowId: current.workflowId,
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

    ...createListing(client),

    redeliverNotification: createRedelivery(options, handleOf),
  };
}

export type CancelflowClient = ReturnType<typeof createCancelflowClient>;
