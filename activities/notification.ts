import { ApplicationFailure, Context } from '@temporalio/activity';
import { countNotificationRound, notificationAttemptsTotal } from '../common/metrics';
import { NOT_SENT } from '../contract/failures';
import { notificationFields } from '../providers/unified/protocol';
import { md5Sign } from '../providers/unified/sign';
import type { FirstNotificationResult, NotificationAttemptResult } from '../contract/notification';
import type { ActivityDeps } from './deps';
import {
  connectMsOf,
  createExchange,
  type AttemptOutcome,
  type NotificationRow,
} from './notification-exchange';

export { standardWebhookSignature } from './notification-exchange';

/** Time kept back from an attempt's start-to-close timeout to fail it cleanly, result heartbeated. */
const RECORD_MARGIN_MS = 5_000;

interface AttemptKey {
  notification_id: string;
  round: number;
  attempt_no: number;
}

/** `sending` is written before the request; `done` and `unknown` are final (see the migration). */
interface AttemptRow {
  state: 'sending' | 'done' | 'unknown';
  started_at: Date;
  success: boolean | null;
  http_status: number | null;
  error: string | null;
}

/** The columns that finish a `sending` attempt. */
interface AttemptFinish {
  state: 'done' | 'unknown';
  success: boolean;
  error: string | null;
  http_status?: number | null;
  body_excerpt?: string | null;
  duration_ms?: number;
}

/** An exchange that happened, as heartbeated: enough for a later run to record it. */
interface SentAttempt {
  startedAt: string;
  durationMs: number;
  outcome: AttemptOutcome;
}

function resultOf(row: Pick<AttemptRow, 'success' | 'http_status' | 'error'>): NotificationAttemptResult {
  return {
    success: row.success === true,
    ...(row.http_status !== null ? { httpStatus: row.http_status } : {}),
    ...(row.error ? { error: row.error } : {}),
  };
}

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
export function createNotificationActivities({ db, config, logger }: ActivityDeps) {
  const exchange = createExchange(config);
  const appOf = (mchNo: string | undefined, appId: string) =>
    config.apps.find((a) => a.appId === appId && (mchNo === undefined || a.mchNo === mchNo));

  /**
   * Writes the exchange's result, retrying until `recordBy` (a `performance.now()` instant); past
   * it, a retryable failure hands the job to the activity's next run.
   */
  async function record(
    key: AttemptKey,
    sent: SentAttempt,
    recordBy: number,
  ): Promise<NotificationAttemptResult> {
    const { outcome } = sent;
    const fields: AttemptFinish = {
      state: 'done',
      success: outcome.success,
      http_status: outcome.httpStatus ?? null,
      body_excerpt: outcome.excerpt ?? null,
      error: outcome.error?.slice(0, 512) ?? null,
      duration_ms: sent.durationMs,
    };
    for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
      try {
        return await finishAttempt(key, new Date(sent.startedAt), fields);
      } catch (err) {
        if (performance.now() + pause > recordBy)
          throw ApplicationFailure.create({
            message: `attempt ${key.round}.${key.attempt_no} of ${key.notification_id} is not recorded yet`,
            type: 'ATTEMPT_NOT_RECORDED',
            ...(err instanceof Error ? { cause: err } : {}),
          });
        logger.warn({ ...key, err }, 'notification attempt not recorded yet, retrying');
      }
      await Context.current().sleep(pause);
    }
  }

  /**
   * Moves a `sending` attempt to its final state and counts it, once: if another run finished it
   * first, that run's result stands.
   */
  async function finishAttempt(
    key: AttemptKey,
    startedAt: Date,
    fields: AttemptFinish,
  ): Promise<NotificationAttemptResult> {
    const finished = await db.transaction(async (trx) => {
      const updated = await trx('notification_attempts')
        .where({ ...key, state: 'sending' })
        .update(fields)
        .returning('id');
      if (updated.length > 0)
        await trx('notifications')
          .where({ notification_id: key.notification_id })
          .update({
            attempts: trx.raw('attempts + 1'),
            last_attempt_at: startedAt,
            updated_at: trx.fn.now(),
          });
      return updated.length > 0;
    });
    if (!finished) return resultOf(await db('notification_attempts').where(key).first<AttemptRow>());
    notificationAttemptsTotal.labels(fields.success ? 'success' : 'failure').inc();
    logger.info(
      {
        notificationId: key.notification_id,
        round: key.round,
        attempt: key.attempt_no,
        state: fields.state,
        success: fields.success,
      },
      'notification attempt',
    );
    return resultOf({
      success: fields.success,
      http_status: fields.http_status ?? null,
      error: fields.error,
    });
  }

  const activities = {
    /**
     * The notification of a terminal cancellation: seed 000's fields, `reqTime` and `sign` (MD5
     * with the app's key), built once and stored, so every attempt and every redelivery sends
     * the same signed bytes.
     */
    async prepareNotification(input: {
      cancelOrderId: string;
    }): Promise<{ notificationId: string; accountId: string; mchNo: string; orderRef: string }> {
      const row = await db('cancellations')
        .where({ cancel_order_id: input.cancelOrderId })
        .first<CancellationRow | undefined>();
      if (!row) throw ApplicationFailure.nonRetryable(`no cancellation ${input.cancelOrderId}`, 'NOT_FOUND');
      if (!row.notify_url)
        throw ApplicationFailure.nonRetryable(
          `cancellation ${input.cancelOrderId} has no notifyUrl`,
          'NO_NOTIFY_URL',
        );
      if (![2, 3, 4].includes(row.state))
        throw ApplicationFailure.nonRetryable(
          `cancellation ${input.cancelOrderId} is not terminal`,
          'NOT_TERMINAL',
        );
      const notificationId = notificationIdFor(row.cancel_order_id);
      const existing = await db('notifications')
        .where({ notification_id: notificationId })
        .first<{ notification_id: string } | undefined>('notification_id');
      if (!existing) {
        const app = appOf(row.mch_no, row.app_id);
        if (!app)
          throw ApplicationFailure.nonRetryable(
            `app ${row.mch_no}/${row.app_id} is not configured`,
            'UNKNOWN_APP',
          );
        const payload = notificationFields(row, Date.now());
        payload.sign = md5Sign(payload, app.key.reveal());
        await db('notifications')
          .insert({
            notification_id: notificationId,
            cancel_order_id: row.cancel_order_id,
            app_id: row.app_id,
            account_id: row.account_id,
            url: row.notify_url,
            payload: JSON.stringify(payload),
            status: 'pending',
          })
          .onConflict('notification_id')
          .ignore();
      }
      return { notificationId, accountId: row.account_id, mchNo: row.mch_no, orderRef: row.order_ref };
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

    /**
     * One attempt: an `application/x-www-form-urlencoded` POST of the stored payload. Delivered
     * means a 2xx whose body is exactly `success` in any letter case; any other answer, no answer
     * or a refusal by the address policy is a failed attempt, and the workflow's schedule is the
     * retry policy for those. Our own faults (Postgres, a lost worker) use up no attempt: the
     * activity is retried by Temporal, and a retry never sends an attempt a second time.
     * 1. The attempt row is written (`sending`) before any request: if Postgres is down, nothing
     *    is sent and the retry starts afresh.
     * 2. The exchange's result is heartbeated, so it outlives this run in Temporal.
     * 3. The result is written, retried here until shortly before the start-to-close timeout, then
     *    left to the activity's retry, which finds the `sending` row and the heartbeated result.
     */
    async deliverNotificationAttempt(input: {
      notificationId: string;
      round: number;
      attemptNo: number;
      /** Date.now() when the activity making this attempt began (a step of a longer one). */
      activityStartedAt?: number;
    }): Promise<NotificationAttemptResult> {
      const ctx = Context.current();
      // This activity's own deadline, not a fresh budget: the attempt may be one step of a longer
      // activity (deliverFirstNotification), whose earlier steps used some of the time. Counted on
      // this worker's clock from when the activity began here, as Temporal counts start-to-close.
      const activityBegan = input.activityStartedAt ?? Date.now();
      const left = () => activityBegan + ctx.info.startToCloseTimeoutMs - Date.now();
      const recordBy = performance.now() + left() - RECORD_MARGIN_MS;
      const key: AttemptKey = {
        notification_id: input.notificationId,
        round: input.round,
        attempt_no: input.attemptNo,
      };
      const existing = await db('notification_attempts').where(key).first<AttemptRow | undefined>();
      if (existing && existing.state !== 'sending') return resultOf(existing);
      if (existing) {
        const carried = ctx.info.heartbeatDetails as SentAttempt | undefined;
        if (carried) {
          ctx.heartbeat(carried); // should this run fail too, its failure carries the result on
          return record(key, carried, recordBy);
        }
        // Written ahead, then the run was lost before its result reached Temporal: the request may
        // have gone out. The attempt counts as used and not delivered rather than being sent twice;
        // the schedule's next attempt sends again, with the same notification id for receivers
        // that got this one to drop.
        return finishAttempt(key, existing.started_at, {
          state: 'unknown',
          success: false,
          error: 'outcome unknown: the attempt was interrupted after it was written ahead',
        });
      }
      const row = await db('notifications')
        .where({ notification_id: input.notificationId })
        .first<NotificationRow | undefined>();
      if (!row) throw ApplicationFailure.nonRetryable(`no notification ${input.notificationId}`, 'NOT_FOUND');

      // The exchange must end, and be recorded, before Temporal times this activity out: an answer
      // arriving after it would be lost and the attempt sent again. Too little time left (slow
      // Postgres before it): nothing is sent, and the retry has the whole budget.
      const { timeoutMs } = config.notifications;
      const responseMs = Math.min(timeoutMs, left() - connectMsOf(timeoutMs) - RECORD_MARGIN_MS);
      if (responseMs < timeoutMs / 2)
        throw ApplicationFailure.retryable(
          `attempt ${input.round}.${input.attemptNo} of ${input.notificationId} not sent: ${Math.max(0, left())} ms ` +
            `left in this activity, too little for a ${timeoutMs} ms exchange; the retry sends it`,
          NOT_SENT,
        );
      const startedAt = new Date();
      const written = await db('notification_attempts')
        .insert({ ...key, state: 'sending', started_at: startedAt })
        .onConflict(['notification_id', 'round', 'attempt_no'])
        .ignore()
        .returning('id');
      // Another run wrote it meanwhile (this one was presumed lost): the retry resolves it as above.
      if (written.length === 0)
        throw ApplicationFailure.retryable(
          `attempt ${input.round}.${input.attemptNo} of ${input.notificationId} is being made by another run`,
          'ATTEMPT_IN_PROGRESS',
        );
      const began = performance.now();
      const outcome = await exchange(row, responseMs);
      const sent: SentAttempt = {
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(performance.now() - began),
        outcome,
      };
      ctx.heartbeat(sent);
      return record(key, sent, recordBy);
    },

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
      const prepared = await activities.prepareNotification({ cancelOrderId: input.cancelOrderId });
      const { notificationId } = prepared;
      const round = await activities.beginNotificationRound({ notificationId, runId: input.runId });
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
