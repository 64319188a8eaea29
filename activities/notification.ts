import { ApplicationFailure } from '@temporalio/activity';
import { countNotificationRound } from '../common/metrics';
import { notificationFields } from '../providers/unified/protocol';
import { md5Sign } from '../providers/unified/sign';
import type { FirstNotificationResult } from '../contract/notification';
import type { ActivityDeps } from './deps';
import { createAttemptDelivery } from './notification-delivery';

export { standardWebhookSignature } from './notification-exchange';

interface CancellationRow {
  cancel_order_id: string;
  workflow_id: string;
  mch_no: string;
  app_id: string;
  account_id: string;
  order_ref: string;
  pay_order_id: string | null;
  provider_order_no: string | null;
  notify_url: string | null;
  ext_param: string | null;
  amount_minor: number | null;
  currency: string | null;
  state: number;
  status: string;
  channel_order_no: string | null;
  err_code: string | null;
  err_msg: string | null;
  created_at: Date;
  success_time: Date | null;
}

export function notificationIdFor(cancelOrderId: string): string {
  return `ntf_${cancelOrderId}`;
}

/** Activities of the notification workflow: build the signed payload once, deliver, record. */
export function createNotificationActivities(deps: ActivityDeps) {
  const { db, config } = deps;
  const deliverNotificationAttempt = createAttemptDelivery(deps);
  const appOf = (mchNo: string | undefined, appId: string) =>
    config.apps.find((a) => a.appId === appId && (mchNo === undefined || a.mchNo === mchNo));

  /**
   * The notification of a terminal cancellation: seed 000's fields, `reqTime` and `sign` (MD5 with
   * the app's key), built once and stored, so every attempt and every redelivery sends the same
   * signed bytes. `roundFor` (a run id): if this call is the one that stores it, that run's first
   * round is begun by the same insert (`round` is returned), one statement instead of two.
   */
  const prepare = async (
    cancelOrderId: string,
    roundFor?: string,
  ): Promise<{
    notificationId: string;
    accountId: string;
    mchNo: string;
    orderRef: string;
    round?: number;
  }> => {
    const row = await db('cancellations')
      .where({ cancel_order_id: cancelOrderId })
      .first<CancellationRow | undefined>();
    if (!row) throw ApplicationFailure.nonRetryable(`no cancellation ${cancelOrderId}`, 'NOT_FOUND');
    if (!row.notify_url)
      throw ApplicationFailure.nonRetryable(
        `cancellation ${cancelOrderId} has no notifyUrl`,
        'NO_NOTIFY_URL',
      );
    if (![2, 3, 4].includes(row.state))
      throw ApplicationFailure.nonRetryable(`cancellation ${cancelOrderId} is not terminal`, 'NOT_TERMINAL');
    const notificationId = notificationIdFor(row.cancel_order_id);
    const app = appOf(row.mch_no, row.app_id);
    let round: number | undefined;
    if (!app) {
      // Stored before its app left the config: it is sent as stored. Otherwise nothing to sign with.
      const existing = await db('notifications')
        .where({ notification_id: notificationId })
        .first<{ notification_id: string } | undefined>('notification_id');
      if (!existing)
        throw ApplicationFailure.nonRetryable(
          `app ${row.mch_no}/${row.app_id} is not configured`,
          'UNKNOWN_APP',
        );
    } else {
      // Built and offered every time (one round trip): the first one stored is kept, so every
      // attempt and redelivery sends the same signed bytes.
      const payload = notificationFields(row, Date.now());
      payload.sign = md5Sign(payload, app.key.reveal());
      const inserted: Array<{ rounds: number }> = await db('notifications')
        .insert({
          notification_id: notificationId,
          cancel_order_id: row.cancel_order_id,
          app_id: row.app_id,
          account_id: row.account_id,
          url: row.notify_url,
          payload: JSON.stringify(payload),
          // What beginNotificationRound writes on a row no round has begun on (rounds stays 1).
          ...(roundFor ? { status: 'delivering', round_run_id: roundFor } : { status: 'pending' }),
        })
        .onConflict('notification_id')
        .ignore()
        .returning('rounds');
      if (roundFor && inserted.length > 0) round = inserted[0]!.rounds;
    }
    return {
      notificationId,
      accountId: row.account_id,
      mchNo: row.mch_no,
      orderRef: row.order_ref,
      ...(round !== undefined ? { round } : {}),
    };
  };

  const activities = {
    /** The stored, signed notification of a terminal cancellation ({@link prepare}). */
    async prepareNotification(input: {
      cancelOrderId: string;
    }): Promise<{ notificationId: string; accountId: string; mchNo: string; orderRef: string }> {
      const { notificationId, accountId, mchNo, orderRef } = await prepare(input.cancelOrderId);
      return { notificationId, accountId, mchNo, orderRef };
    },

    /** Starts a round for this workflow run (idempotent per run); returns its number. */
    async beginNotificationRound(input: { notificationId: string; runId: string }): Promise<number> {
      const updated = await db('notifications')
        .where({ notification_id: input.notificationId })
        .andWhereRaw('round_run_id is distinct from ?', [input.runId])
        .update({
          rounds: db.raw('case when round_run_id is null then rounds else rounds + 1 end'),
          round_run_id: input.runId,
          status: 'delivering',
          updated_at: db.fn.now(),
        })
        .returning('rounds');
      if (updated.length > 0) return (updated[0] as { rounds: number }).rounds;
      const row = await db('notifications')
        .where({ notification_id: input.notificationId })
        .first<{ rounds: number }>('rounds');
      return row.rounds;
    },

    /** One attempt (notification-delivery.ts): written ahead, sent, heartbeated, recorded once. */
    deliverNotificationAttempt,

    async finishNotificationRound(input: {
      notificationId: string;
      round: number;
      delivered: boolean;
    }): Promise<void> {
      const updated = await db('notifications')
        .where({ notification_id: input.notificationId, rounds: input.round })
        .whereIn('status', ['pending', 'delivering'])
        .update({
          status: input.delivered ? 'delivered' : 'failed',
          ...(input.delivered ? { delivered_at: db.fn.now() } : {}),
          updated_at: db.fn.now(),
        });
      if (updated === 0) return; // a retry of a round already finished: counted then
      const last = input.delivered
        ? undefined
        : await db('notification_attempts')
            .where({ notification_id: input.notificationId, round: input.round })
            .orderBy('attempt_no', 'desc')
            .first<{ state: string; http_status: number | null; error: string | null }>(
              'state',
              'http_status',
              'error',
            );
      countNotificationRound(input.delivered, last);
    },
  };

  return {
    ...activities,

    /**
     * The first attempt of a terminal cancellation's notification, made by the cancellation's own
     * run (one activity instead of a child workflow of four): the signed payload is stored, the
     * round begun for that run, attempt 1 made and, when it delivered or was the schedule's only
     * one, the round finished. Each step is the idempotent one above, so a retry of this activity
     * (a lost worker) sends nothing twice. A failed attempt with more in the schedule leaves the
     * round open for the notification workflow to carry on from attempt 2.
     */
    async deliverFirstNotification(input: {
      cancelOrderId: string;
      runId: string;
      scheduleLength: number;
    }): Promise<FirstNotificationResult> {
      const activityStartedAt = Date.now();
      const prepared = await prepare(input.cancelOrderId, input.runId);
      const { notificationId } = prepared;
      // Begun by the insert that stored it; otherwise (a retry of this activity, a row stored
      // before) begun, or found begun, here.
      const round =
        prepared.round ?? (await activities.beginNotificationRound({ notificationId, runId: input.runId }));
      const result = await activities.deliverNotificationAttempt({
        notificationId,
        round,
        attemptNo: 1,
        activityStartedAt,
      });
      const finished = result.success || input.scheduleLength <= 1;
      if (finished)
        await activities.finishNotificationRound({ notificationId, round, delivered: result.success });
      return { notificationId, round, delivered: result.success, finished };
    },
  };
}
